"""The whole chain: spec files → model → generated files."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from rulegen import model, writer
from rulegen.errors import GenerateError
from rulegen.generators import dashboards, slo_rules, zero_tolerance_rules
from rulegen.generators.unittests import UnitTestError, unit_tests, zero_tolerance_tests
from rulegen.resolve import load
from rulegen.writer import OutputFile

__all__ = ["RULES_DIR", "TESTS_DIR", "Generated", "generate", "load"]

# Flat folders: Prometheus accepts a wildcard only in the last part of a rule file path.
# File names are SLO names, unique across specs (and `<workflow>-zero-tolerance`).
RULES_DIR = "rules"
TESTS_DIR = "tests"
DASHBOARDS_DIR = "dashboards"
_T = TypeVar("_T")
_R = TypeVar("_R")


def _context(what: str, func: Callable[[_T], _R], arg: _T) -> _R:
    """Call ``func``, turning any failure into a ``GenerateError`` that says what failed."""
    try:
        return func(arg)
    except Exception as exc:
        raise GenerateError(f"could not generate {what}: {exc}") from exc


@dataclass(frozen=True)
class Generated:
    """Every generated file, in a stable order, and what the user should know about them."""

    files: list[OutputFile]
    notes: list[str]


def generate(workflows: list[model.Workflow]) -> Generated:
    """Render every output of ``workflows``; raise ``GenerateError`` with context."""
    files = []
    notes = [note for wf in workflows for slo in wf.slos for note in slo.notes]
    for wf in sorted(workflows, key=lambda w: w.name):
        source = f"workflow '{wf.name}' ({Path(wf.source).name})"
        units: list[tuple[str, dict[str, Any] | None, dict[str, Any] | None]] = []
        for slo in wf.slos:
            rules = _context(f"rules for SLO '{slo.name}'", slo_rules, slo)
            test: dict[str, Any] | None
            try:
                test = unit_tests(wf, slo, rules, f"../{RULES_DIR}/{slo.name}.rules.yml")
            except UnitTestError as exc:
                notes.append(f"no promtool test generated for SLO '{slo.name}': {exc}")
                test = None
            units.append((slo.name, rules, test))
        zt_rules = _context(f"zero-tolerance rules for '{wf.name}'", zero_tolerance_rules, wf)
        zt_name = wf.zero_tolerance_slo
        zt_test = zero_tolerance_tests(wf, zt_rules, f"../{RULES_DIR}/{zt_name}.rules.yml")
        units.append((zt_name, zt_rules, zt_test))
        for name, rule_file, test_file in units:
            if rule_file is not None:
                files.append(
                    OutputFile(
                        f"{RULES_DIR}/{name}.rules.yml",
                        writer.header(source) + writer.dump_yaml(rule_file),
                    )
                )
            if test_file is not None:
                files.append(
                    OutputFile(
                        f"{TESTS_DIR}/{name}.test.yml",
                        writer.header(source) + writer.dump_yaml(test_file),
                    )
                )
    if workflows:
        overview = _context("the overview dashboard", dashboards.overview_dashboard, workflows)
        files.append(
            OutputFile(
                f"{DASHBOARDS_DIR}/agent-slo-overview.json",
                writer.dump_json(overview, "every spec given"),
            )
        )
    for wf in sorted(workflows, key=lambda w: w.name):
        board = _context(f"the dashboard of '{wf.name}'", dashboards.detail_dashboard, wf)
        files.append(
            OutputFile(
                f"{DASHBOARDS_DIR}/agent-slo-{wf.name}.json",
                writer.dump_json(board, f"workflow '{wf.name}' ({Path(wf.source).name})"),
            )
        )
    return Generated(files, notes)
