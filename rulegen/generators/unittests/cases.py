"""promtool test cases: the scenarios of one SLO and of a workflow's zero-tolerance alert,
every one built by :func:`case`. Each scenario is steady traffic scraped every minute; the
expected alerts are those the rule file under test holds, expanded as Prometheus would."""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any, Final

from rulegen import burn, names
from rulegen.durations import format_duration
from rulegen.generators.unittests.gotemplate import firing_alert
from rulegen.generators.unittests.rulefile import AlertRules
from rulegen.generators.unittests.series import (
    SliSeries,
    dimension_labels,
    input_series,
    series_name,
)
from rulegen.generators.unittests.traffic import (
    Traffic,
    burn_bands,
    exhausting_traffic,
    healthy_traffic,
    policy_band,
    policy_fires,
    traffic_between,
    traffic_within_budget,
)
from rulegen.model import SLO, BurnTier, Workflow
from rulegen.selectors import slo_selector
from rulegen.taxonomy import OutcomeClass

__all__ = ["SloCases", "alert_test", "case", "zero_tolerance_case"]

SCRAPE: Final = "1m"
CHECK_AT: Final = 60  # minutes: every window has data, the period is far from over
HEALTHY_CHECKS: Final = (30, 60, 120)


def case(
    name: str,
    series: list[dict[str, str]],
    alert_tests: list[dict[str, Any]],
    expr_tests: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One promtool test case: ``series`` scraped every minute, checked by ``alert_tests``
    and, if given, ``expr_tests``."""
    built: dict[str, Any] = {
        "name": name,
        "interval": SCRAPE,
        "input_series": series,
        "alert_rule_test": alert_tests,
    }
    if expr_tests is not None:
        built["promql_expr_test"] = expr_tests
    return built


def alert_test(minute: int, alertname: str, expected: list[dict[str, Any]]) -> dict[str, Any]:
    """At ``minute``, exactly the ``expected`` ``alertname`` alerts fire."""
    return {"eval_time": f"{minute}m", "alertname": alertname, "exp_alerts": expected}


def _pct(ratio: Fraction) -> str:
    return f"{float(ratio) * 100:.4g}%"


class SloCases:
    """The scenarios of one SLO: its alerts fire in their scenario and stay quiet when
    healthy. Tests run at Unix time 0, before any tightening date: the first phase holds."""

    def __init__(self, workflow: Workflow, slo: SLO, alerts: AlertRules) -> None:
        self.slo = slo
        self.alerts = alerts
        self.series = SliSeries(workflow, slo)
        self.phase = slo.phases[0]
        self.budget = Fraction(self.phase.budget)
        self.labels = {names.LABEL_SLO: slo.name, names.LABEL_WORKFLOW: slo.workflow, **slo.labels}

    def _remaining(self, ratio: float) -> float:
        """The budget left at error ratio ``ratio``, as Prometheus computes it."""
        return 1 - ratio / float(self.phase.budget)

    def _checked_once(
        self,
        name: str,
        traffic: Traffic,
        at: int,
        alertname: str,
        expected: list[dict[str, Any]],
    ) -> dict[str, Any]:
        """``traffic`` until ten minutes past ``at``, when exactly ``expected`` fire."""
        return case(
            f"{self.slo.name}: {_pct(traffic.ratio)} bad runs {name}",
            self.series.series(traffic, at + 10),
            [alert_test(at, alertname, expected)],
        )

    def _burn_rule(self, tier: BurnTier) -> Mapping[str, Any]:
        return self.alerts.find(
            names.ALERT_BURN,
            **{
                names.LABEL_LONG_WINDOW: format_duration(tier.long_window),
                names.LABEL_SHORT_WINDOW: format_duration(tier.short_window),
            },
        )

    def healthy(self) -> dict[str, Any]:
        """Healthy traffic fires nothing, and the period's and a summed window's counts are
        exact."""
        traffic = healthy_traffic(self.slo, self.budget)
        # Long enough for the shortest window summed from steps to be full, so that its
        # exact count proves the steps neither overlap nor leave gaps.
        summed = [w for w in self.slo.windows() if burn.RAW_WINDOW_MAX < w < self.slo.period]
        window = min(summed, default=None)
        minutes = max(*HEALTHY_CHECKS, (window // 60 + 60) if window else 0)
        alerts = [names.ALERT_BURN, names.ALERT_BUDGET_EXHAUSTED]
        if self.slo.policies:
            alerts.append(names.ALERT_POLICY)
        if self.slo.absence:
            alerts.append(names.ALERT_EVENTS_ABSENT)
        period_labels = {**self.labels, names.LABEL_WINDOW: self.slo.period_name}
        exact = [
            (names.REC_PERIOD_EVENTS, period_labels, traffic.total * minutes),
            (names.REC_PERIOD_BAD, period_labels, traffic.bad * minutes),
        ]
        if window:
            name = names.rec_events(format_duration(window))
            exact.append((name, self.labels, traffic.total * window // 60))
        return case(
            f"{self.slo.name}: healthy traffic ({_pct(traffic.ratio)} bad) stays quiet",
            self.series.series(traffic, minutes),
            [alert_test(m, a, []) for m in HEALTHY_CHECKS for a in alerts],
            [
                {
                    "expr": slo_selector(record, self.slo.name),
                    "eval_time": f"{minutes}m",
                    "exp_samples": [{"labels": series_name(record, labels), "value": value}],
                }
                for record, labels, value in exact
            ],
        )

    def burn(self) -> list[dict[str, Any]]:
        """Traffic in each band between burn thresholds fires exactly the tiers below it."""
        built = []
        for traffic, firing in burn_bands(self.slo, CHECK_AT):
            at = CHECK_AT + max((t.for_ or 0 for t in firing), default=0) // 60
            expected = [
                firing_alert(self._burn_rule(t), traffic.value, self.labels) for t in firing
            ]
            tiers = ", ".join(t.name for t in firing)
            built.append(
                self._checked_once(f"fire {tiers}", traffic, at, names.ALERT_BURN, expected)
            )
        return built

    def exhausted(self) -> dict[str, Any]:
        """Traffic that spends more than the budget fires the exhaustion alert."""
        traffic = exhausting_traffic(self.budget)
        remaining = self._remaining(traffic.value)
        rule = self.alerts.find(names.ALERT_BUDGET_EXHAUSTED)
        expected = [firing_alert(rule, remaining, self.labels)]
        alertname = names.ALERT_BUDGET_EXHAUSTED
        return self._checked_once("exhaust the budget", traffic, CHECK_AT, alertname, expected)

    def policies(self) -> list[dict[str, Any]]:
        """Traffic inside each policy's band fires every policy that holds there."""
        built = []
        for policy in self.slo.policies:
            band = policy_band(policy, self.budget)
            if band is None:
                continue
            traffic = traffic_between(band[0], band[1], 1)
            ratio = traffic.value
            remaining = self._remaining(ratio)
            expected = []
            for other in self.slo.policies:
                value = ratio if other.kind == "failure_rate" else remaining
                if policy_fires(other, value):
                    rule = self.alerts.find(names.ALERT_POLICY, **{names.LABEL_POLICY: other.name})
                    expected.append(firing_alert(rule, value, self.labels))
            name = f"cross policy '{policy.name}'"
            built.append(self._checked_once(name, traffic, CHECK_AT, names.ALERT_POLICY, expected))
        return built

    def absence(self) -> dict[str, Any] | None:
        """Traffic that stops is noticed once the absence window has passed, not before;
        ``None`` if the SLO watches for no absence."""
        if self.slo.absence is None:
            return None
        after = self.slo.absence.after // 60
        busy = 60
        at = busy + after + 30
        traffic = traffic_within_budget(self.budget)
        rule = self.alerts.find(names.ALERT_EVENTS_ABSENT)
        window = self.slo.absence.after
        labels = dict(self.labels)
        if window == self.slo.period:
            labels[names.LABEL_WINDOW] = self.slo.period_name
        return case(
            f"{self.slo.name}: no events for {format_duration(window)} is noticed",
            self.series.series(traffic, at + 10, idle_after=busy),
            [
                alert_test(busy + after // 2, names.ALERT_EVENTS_ABSENT, []),
                alert_test(at, names.ALERT_EVENTS_ABSENT, [firing_alert(rule, 0.0, labels)]),
            ],
        )


def zero_tolerance_case(
    workflow: Workflow, outcome: str, alerts: AlertRules
) -> dict[str, Any] | None:
    """One zero-tolerance ``outcome`` on a series that did not exist pages, for a while;
    ``None`` if ``workflow`` has no good outcome to run beside it."""
    dims = dimension_labels(workflow)
    good = next(
        (
            o
            for o in ("success", *sorted(workflow.outcomes))
            if workflow.outcomes.get(o) is OutcomeClass.GOOD
        ),
        None,
    )
    if good is None:
        return None
    base = {names.LABEL_WORKFLOW: workflow.name, **dims}
    rule = alerts.find(names.ALERT_ZERO_TOLERANCE)
    expected = firing_alert(rule, 1.0, {names.LABEL_OUTCOME: outcome, **dims})
    appears = 40
    metric = names.OUTCOMES_METRIC
    return case(
        f"{workflow.name}: one {outcome} on a brand-new series pages",
        [
            input_series(metric, {**base, names.LABEL_OUTCOME: good}, "0+10x90"),
            input_series(metric, {**base, names.LABEL_OUTCOME: outcome}, f"_x{appears} 1x50"),
        ],
        [
            alert_test(appears - 5, names.ALERT_ZERO_TOLERANCE, []),
            alert_test(appears + 5, names.ALERT_ZERO_TOLERANCE, [expected]),
            alert_test(appears + 30, names.ALERT_ZERO_TOLERANCE, []),
        ],
    )
