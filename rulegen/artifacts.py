"""What the pipeline produces, as data, before any output format serialises it: rule files,
promtool tests and Grafana dashboards, each with the source it was generated from.

The pipeline builds them (:mod:`rulegen.pipeline`); an output format turns them into files
(:mod:`rulegen.formats`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Artifacts", "Dashboard", "RuleFile", "UnitTestFile"]


@dataclass(frozen=True)
class RuleFile:
    """One Prometheus rule file: ``{"groups": [...]}``.

    ``name`` is the file's stem, unique across every spec: the SLO's name, or
    ``<workflow>-zero-tolerance``. ``source`` says where it comes from, for the header.
    """

    name: str
    source: str
    content: dict[str, Any]


@dataclass(frozen=True)
class UnitTestFile:
    """The ``promtool test rules`` file of the rule file of the same ``name``."""

    name: str
    source: str
    content: dict[str, Any]


@dataclass(frozen=True)
class Dashboard:
    """One Grafana dashboard; ``name`` is its file's stem (``agent-slo-<workflow>``)."""

    name: str
    source: str
    board: dict[str, Any]


@dataclass(frozen=True)
class Artifacts:
    """Everything generated from a set of specs, in a stable order, and the notes on it.

    ``units`` pairs each rule file with its test (``None`` when none could be generated),
    in the order the files are written.
    """

    units: list[tuple[RuleFile, UnitTestFile | None]]
    dashboards: list[Dashboard]
    notes: list[str]

    @property
    def rule_files(self) -> list[RuleFile]:
        return [rules for rules, _ in self.units]
