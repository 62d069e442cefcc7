"""The whole chain: spec files → model → generated artifacts → files in an output format."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from rulegen import formats, model
from rulegen.artifacts import Artifacts, Dashboard, RuleFile, UnitTestFile
from rulegen.errors import GenerateError
from rulegen.formats import RULES_DIR, TESTS_DIR, Target
from rulegen.generators import dashboards, slo_rules, zero_tolerance_rules
from rulegen.generators.unittests import UnitTestError, unit_tests, zero_tolerance_tests
from rulegen.resolve import load
from rulegen.writer import OutputFile

__all__ = ["RULES_DIR", "TESTS_DIR", "Generated", "build", "generate", "load"]

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


def build(workflows: list[model.Workflow]) -> Artifacts:
    """Every rule file, promtool test and dashboard of ``workflows``, as data; raise
    ``GenerateError`` with context."""
    units: list[tuple[RuleFile, UnitTestFile | None]] = []
    notes = [note for wf in workflows for slo in wf.slos for note in slo.notes]
    for wf in sorted(workflows, key=lambda w: w.name):
        source = f"workflow '{wf.name}' ({Path(wf.source).name})"
        for slo in wf.slos:
            rules = _context(f"rules for SLO '{slo.name}'", slo_rules, slo)
            test: UnitTestFile | None
            try:
                test = UnitTestFile(
                    slo.name,
                    source,
                    unit_tests(wf, slo, rules, f"../{RULES_DIR}/{slo.name}.rules.yml"),
                )
            except UnitTestError as exc:
                notes.append(f"no promtool test generated for SLO '{slo.name}': {exc}")
                test = None
            units.append((RuleFile(slo.name, source, rules), test))
        zt_rules = _context(f"zero-tolerance rules for '{wf.name}'", zero_tolerance_rules, wf)
        if zt_rules is None:
            continue
        zt_name = wf.zero_tolerance_slo
        zt_test = zero_tolerance_tests(wf, zt_rules, f"../{RULES_DIR}/{zt_name}.rules.yml")
        units.append(
            (
                RuleFile(zt_name, source, zt_rules),
                None if zt_test is None else UnitTestFile(zt_name, source, zt_test),
            )
        )
    boards = []
    if workflows:
        overview = _context("the overview dashboard", dashboards.overview_dashboard, workflows)
        boards.append(Dashboard("agent-slo-overview", "every spec given", overview))
    for wf in sorted(workflows, key=lambda w: w.name):
        board = _context(f"the dashboard of '{wf.name}'", dashboards.detail_dashboard, wf)
        boards.append(
            Dashboard(
                f"agent-slo-{wf.name}", f"workflow '{wf.name}' ({Path(wf.source).name})", board
            )
        )
    return Artifacts(units, boards, notes)


def generate(workflows: list[model.Workflow], target: Target | None = None) -> Generated:
    """Render every output of ``workflows`` in ``target``'s format (default: Prometheus rule
    files, promtool tests and dashboards); raise ``GenerateError`` with context."""
    artifacts = build(workflows)
    rendered = formats.render(artifacts, target or Target())
    return Generated(rendered.files, artifacts.notes + rendered.notes)
