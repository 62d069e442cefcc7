"""What the exporter knows from the specs: workflows, their outcomes, dimensions and buckets.

Built from the rule generator's model (never from raw YAML), so the exporter accepts exactly
the outcomes and dimensions the rules expect.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from rulegen import resolve
from rulegen.model import Workflow

__all__ = ["DEFAULT_BUCKETS", "OTHER", "UNKNOWN", "Catalog", "WorkflowCatalog", "load_catalog"]

#: Exported for a declared dimension the event did not give.
UNKNOWN: Final = "unknown"
#: Exported for values beyond a dimension's cap on distinct values.
OTHER: Final = "other"
#: Duration buckets (seconds) every workflow gets; latency thresholds in specs are added.
DEFAULT_BUCKETS: Final = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)


@dataclass(frozen=True)
class WorkflowCatalog:
    """One workflow as the exporter sees it."""

    name: str
    outcomes: tuple[str, ...]
    dimensions: tuple[str, ...]
    max_values: Mapping[str, int]
    known_values: Mapping[str, tuple[str, ...]]
    buckets: tuple[float, ...]


@dataclass(frozen=True)
class Catalog:
    """Every workflow the exporter accepts events for."""

    workflows: Mapping[str, WorkflowCatalog] = field(default_factory=dict)

    @classmethod
    def from_model(cls, workflows: Iterable[Workflow]) -> Catalog:
        """The catalog of resolved workflows."""
        out = {}
        for wf in workflows:
            out[wf.name] = WorkflowCatalog(
                name=wf.name,
                outcomes=tuple(sorted(wf.outcomes)),
                dimensions=tuple(d.name for d in wf.dimensions),
                max_values={d.name: d.max_values for d in wf.dimensions},
                known_values={d.name: d.values for d in wf.dimensions},
                buckets=tuple(sorted({*DEFAULT_BUCKETS, *wf.latency_buckets})),
            )
        return cls(dict(sorted(out.items())))


def load_catalog(paths: Iterable[str | Path]) -> Catalog:
    """Load specs (raising ``rulegen.errors.SpecErrors``) into a catalog."""
    return Catalog.from_model(resolve.load(paths))
