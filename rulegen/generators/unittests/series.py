"""promtool input series: counters that start at 0 (as the exporter pre-initialises them)
and put steady ``Traffic`` through an SLO's SLI selectors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from rulegen import names
from rulegen.generators.unittests.errors import UnitTestError
from rulegen.generators.unittests.traffic import Traffic
from rulegen.model import SLO, Workflow
from rulegen.selectors import Selector
from rulegen.taxonomy import OutcomeClass

__all__ = [
    "DIMENSION_VALUE",
    "SliSeries",
    "dimension_labels",
    "input_series",
    "series_name",
]

DIMENSION_VALUE: Final = "unknown"

#: A counter: its metric, its labels and how much it grows per minute.
_Part = tuple[str, dict[str, str], int]


def dimension_labels(workflow: Workflow) -> dict[str, str]:
    """Every dimension of ``workflow`` at the value the tests give it."""
    return {d.name: DIMENSION_VALUE for d in workflow.dimensions}


def series_name(metric: str, labels: Mapping[str, str]) -> str:
    """``metric{label="value",...}``, labels sorted."""
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{metric}{{{inner}}}"


def input_series(metric: str, labels: Mapping[str, str], values: str) -> dict[str, str]:
    """One promtool input series: ``values`` in promtool's expanding notation."""
    return {"series": series_name(metric, labels), "values": values}


def _steady_values(per_minute: int, minutes: int, idle_after: int | None) -> str:
    if idle_after is None:
        return f"0+{per_minute}x{minutes}"
    flat = per_minute * idle_after
    return f"0+{per_minute}x{idle_after} {flat}x{minutes - idle_after}"


class SliSeries:
    """Input series that put ``Traffic`` through an SLO's SLI selectors."""

    def __init__(self, workflow: Workflow, slo: SLO) -> None:
        self.workflow = workflow
        self.slo = slo

    def series(
        self, traffic: Traffic, minutes: int, idle_after: int | None = None
    ) -> list[dict[str, str]]:
        """promtool input series: steady traffic for ``minutes``, flat after ``idle_after``."""
        return [
            input_series(metric, labels, _steady_values(per_minute, minutes, idle_after))
            for metric, labels, per_minute in self._parts(traffic)
        ]

    def _parts(self, traffic: Traffic) -> list[_Part]:
        sli = self.slo.sli
        good_count = traffic.total - traffic.bad
        if sli.kind == "outcomes":
            assert sli.bad is not None
            return [
                (names.OUTCOMES_METRIC, self._outcome_labels(self._good_outcome()), good_count),
                (names.OUTCOMES_METRIC, self._outcome_labels(self._bad_outcome()), traffic.bad),
            ]
        if sli.kind == "latency":
            assert sli.good is not None
            base = {names.LABEL_WORKFLOW: self.workflow.name, **dimension_labels(self.workflow)}
            return [
                (sli.total.metric, base, traffic.total),
                (sli.good.metric, {**base, **sli.good.equalities()}, good_count),
            ]
        return self._ratio_parts(traffic)

    def _outcome_labels(self, outcome: str) -> dict[str, str]:
        return {
            names.LABEL_WORKFLOW: self.workflow.name,
            names.LABEL_OUTCOME: outcome,
            **dimension_labels(self.workflow),
        }

    def _good_outcome(self) -> str:
        sli = self.slo.sli
        candidates = ["success", *sorted(self.workflow.outcomes)]
        for outcome in candidates:
            labels = self._outcome_labels(outcome)
            assert sli.bad is not None
            if sli.total.matches(names.OUTCOMES_METRIC, labels) and not sli.bad.matches(
                names.OUTCOMES_METRIC, labels
            ):
                return outcome
        raise UnitTestError("every counted outcome is bad: no healthy traffic exists")

    def _bad_outcome(self) -> str:
        sli = self.slo.sli
        assert sli.bad is not None
        ordered = sorted(
            self.workflow.outcomes,
            key=lambda o: (self.workflow.outcomes[o] is OutcomeClass.ZERO_TOLERANCE, o),
        )
        for outcome in ordered:
            labels = self._outcome_labels(outcome)
            if sli.bad.matches(names.OUTCOMES_METRIC, labels) and sli.total.matches(
                names.OUTCOMES_METRIC, labels
            ):
                return outcome
        raise UnitTestError("no outcome is both bad and counted")

    def _ratio_parts(self, traffic: Traffic) -> list[_Part]:
        sli = self.slo.sli
        numerator = sli.bad or sli.good
        assert numerator is not None
        key = "errors" if sli.bad is not None else "good"
        other = "good" if key == "errors" else "errors"
        num_count = traffic.bad if key == "errors" else traffic.total - traffic.bad
        rest_count = traffic.total - num_count
        num_labels = {**numerator.equalities(), **sli.test_labels.get(key, {})}
        if numerator.metric != sli.total.metric:
            total_labels = {**sli.total.equalities(), **sli.test_labels.get(other, {})}
            parts = [
                (sli.total.metric, total_labels, traffic.total),
                (numerator.metric, num_labels, num_count),
            ]
            _check(parts[0], [sli.total], [])
            _check(parts[1], [numerator], [])
            return parts
        num_labels = {**sli.total.equalities(), **num_labels}
        rest_labels = {**sli.total.equalities(), **sli.test_labels.get(other, {})}
        parts = [
            (sli.total.metric, num_labels, num_count),
            (sli.total.metric, rest_labels, rest_count),
        ]
        _check(parts[0], [sli.total, numerator], [])
        _check(parts[1], [sli.total], [numerator])
        return parts


def _check(part: _Part, must: Sequence[Selector], must_not: Sequence[Selector]) -> None:
    """Raise unless ``part``'s series matches every ``must`` selector and no ``must_not``."""
    metric, labels, _ = part
    ok = all(s.matches(metric, labels) for s in must) and not any(
        s.matches(metric, labels) for s in must_not
    )
    if not ok:
        raise UnitTestError(
            "cannot build test series for the selectors; give sli.ratio.test_labels "
            f"(tried {series_name(metric, labels)})"
        )
