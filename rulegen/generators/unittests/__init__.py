"""promtool unit tests: an SLO's alerts fire in their scenario and stay quiet when healthy.

Each scenario is steady traffic of ``total`` events per minute, ``bad`` of them bad, from a
counter that starts at 0 (as the exporter pre-initialises it). With a constant error ratio
every window sees the same ratio, so which alerts fire follows from the thresholds alone:
a tier fires exactly when the ratio is above its threshold. Ratios are chosen well away
from every threshold, and the expected annotations are expanded the way Prometheus does.

promtool evaluates every rule group at the test's ``evaluation_interval``, whatever the
group's own interval, so these tests run at the step (5m) that the step rules are written for.

Modules: ``traffic`` finds the traffic, ``series`` writes it as input series, ``gotemplate``
expands the expected alerts, ``rulefile`` finds them in the rule file under test, ``cases``
builds the test cases; this module assembles the test files.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rulegen import burn
from rulegen.durations import format_duration
from rulegen.generators.recording import main_group_name, steps_group_name
from rulegen.generators.unittests.cases import SloCases, zero_tolerance_case
from rulegen.generators.unittests.errors import UnitTestError
from rulegen.generators.unittests.rulefile import AlertRules
from rulegen.model import SLO, Workflow

__all__ = ["UnitTestError", "unit_tests", "zero_tolerance_tests"]


def _test_file(
    rule_file: str, cases: list[dict[str, Any]], group_eval_order: list[str] | None = None
) -> dict[str, Any]:
    """A promtool test file of ``cases`` for ``rule_file``, evaluated at the step."""
    built: dict[str, Any] = {
        "rule_files": [rule_file],
        "evaluation_interval": format_duration(burn.STEP),
    }
    if group_eval_order is not None:
        built["group_eval_order"] = group_eval_order
    built["tests"] = cases
    return built


def unit_tests(
    workflow: Workflow, slo: SLO, rules: Mapping[str, Any], rule_file: str
) -> dict[str, Any]:
    """A promtool test file for ``slo``'s ``rules`` (written to ``rule_file``); raises
    :class:`UnitTestError` if none can be built."""
    slo_cases = SloCases(workflow, slo, AlertRules(rules))
    cases = [slo_cases.healthy(), *slo_cases.burn(), slo_cases.exhausted(), *slo_cases.policies()]
    absence = slo_cases.absence()
    if absence is not None:
        cases.append(absence)
    # Steps first, as Prometheus would have them at the checked times (steady traffic).
    return _test_file(rule_file, cases, [steps_group_name(slo), main_group_name(slo)])


def zero_tolerance_tests(
    workflow: Workflow, rules: Mapping[str, Any] | None, rule_file: str
) -> dict[str, Any] | None:
    """A promtool test for the zero-tolerance ``rules`` (written to ``rule_file``): one
    zero-tolerance event on a series that did not exist pages."""
    zt = workflow.zero_tolerance
    if zt is None or rules is None:
        return None
    case = zero_tolerance_case(workflow, zt.outcomes[0], AlertRules(rules))
    return None if case is None else _test_file(rule_file, [case])
