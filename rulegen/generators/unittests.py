"""promtool unit tests: an SLO's alerts fire in their scenario and stay quiet when healthy.

Each scenario is steady traffic of ``total`` events per minute, ``bad`` of them bad, from a
counter that starts at 0 (as the exporter pre-initialises it). With a constant error ratio
every window sees the same ratio, so which alerts fire follows from the thresholds alone:
a tier fires exactly when the ratio is above its threshold. Ratios are chosen well away
from every threshold, and the expected annotations are expanded the way Prometheus does.

promtool evaluates every rule group at the test's ``evaluation_interval``, whatever the
group's own interval, so these tests run at the step (5m) that the step rules are written for.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Final

from rulegen import burn, names
from rulegen.durations import format_duration
from rulegen.generators.recording import main_group_name, steps_group_name
from rulegen.model import SLO, BurnTier, Policy, Workflow
from rulegen.selectors import Selector, slo_selector
from rulegen.taxonomy import OutcomeClass

__all__ = ["UnitTestError", "unit_tests", "zero_tolerance_tests"]

SCRAPE: Final = "1m"
CHECK_AT: Final = 60  # minutes: every window has data, the period is far from over
HEALTHY_CHECKS: Final = (30, 60, 120)
DIMENSION_VALUE: Final = "unknown"


class UnitTestError(Exception):
    """No faithful test scenario can be built for an SLO (the reason says why)."""


@dataclass(frozen=True)
class Traffic:
    """Events per minute: ``total``, of which ``bad`` are bad."""

    total: int
    bad: int

    @property
    def ratio(self) -> Fraction:
        return Fraction(self.bad, self.total)


def _go_g4(value: float) -> str:
    """Go's ``%.4g``, as Prometheus's humanizePercentage uses it."""
    text = f"{value:.4g}"
    if "e" in text:
        mantissa, exp = text.split("e")
        sign = exp[0]
        digits = exp[1:].lstrip("0").rjust(2, "0")
        text = f"{mantissa}e{sign}{digits}"
    return text


def _humanize_percentage(value: float) -> str:
    return _go_g4(value * 100) + "%"


def _expand(template: str, value: float, labels: Mapping[str, str]) -> str:
    """Expand the few template forms the generated annotations use."""
    out = template.replace("{{ $value | humanizePercentage }}", _humanize_percentage(value))
    out = out.replace("{{ $value }}", _go_g4(value) if value != int(value) else str(int(value)))
    for key, val in labels.items():
        out = out.replace(f"{{{{ $labels.{key} }}}}", val)
    return out


def _traffic_between(low: Fraction, high: Fraction, min_bad_per_minute: int) -> Traffic:
    """Integer traffic whose error ratio lies well inside (``low``, ``high``)."""
    target = (low + high) / 2
    for total in (100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000):
        bad = round(target * total)
        if bad < max(1, min_bad_per_minute):
            continue
        ratio = Fraction(bad, total)
        margin = (high - low) / 8
        if low + margin < ratio < high - margin:
            return Traffic(total, bad)
    raise UnitTestError(f"no traffic with an error ratio between {float(low)} and {float(high)}")


class _SeriesBuilder:
    """Input series that put ``Traffic`` through an SLO's SLI selectors."""

    def __init__(self, workflow: Workflow, slo: SLO) -> None:
        self.workflow = workflow
        self.slo = slo

    def _dims(self) -> dict[str, str]:
        return {d.name: DIMENSION_VALUE for d in self.workflow.dimensions}

    def series(
        self, traffic: Traffic, minutes: int, idle_after: int | None = None
    ) -> list[dict[str, str]]:
        """promtool input series: steady traffic for ``minutes``, flat after ``idle_after``."""
        parts = self._parts(traffic)
        out = []
        for metric, labels, per_minute in parts:
            out.append(
                {
                    "series": _series_name(metric, labels),
                    "values": _values(per_minute, minutes, idle_after),
                }
            )
        return out

    def _parts(self, traffic: Traffic) -> list[tuple[str, dict[str, str], int]]:
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
            base = {names.LABEL_WORKFLOW: self.workflow.name, **self._dims()}
            return [
                (sli.total.metric, base, traffic.total),
                (sli.good.metric, {**base, **sli.good.equalities()}, good_count),
            ]
        return self._ratio_parts(traffic)

    def _outcome_labels(self, outcome: str) -> dict[str, str]:
        return {
            names.LABEL_WORKFLOW: self.workflow.name,
            names.LABEL_OUTCOME: outcome,
            **self._dims(),
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

    def _ratio_parts(self, traffic: Traffic) -> list[tuple[str, dict[str, str], int]]:
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
            self._check(parts[0], [sli.total], [])
            self._check(parts[1], [numerator], [])
            return parts
        num_labels = {**sli.total.equalities(), **num_labels}
        rest_labels = {**sli.total.equalities(), **sli.test_labels.get(other, {})}
        parts = [
            (sli.total.metric, num_labels, num_count),
            (sli.total.metric, rest_labels, rest_count),
        ]
        self._check(parts[0], [sli.total, numerator], [])
        self._check(parts[1], [sli.total], [numerator])
        return parts

    def _check(
        self,
        part: tuple[str, dict[str, str], int],
        must: Sequence[Selector],
        must_not: Sequence[Selector],
    ) -> None:
        metric, labels, _ = part
        ok = all(s.matches(metric, labels) for s in must) and not any(
            s.matches(metric, labels) for s in must_not
        )
        if not ok:
            raise UnitTestError(
                "cannot build test series for the selectors; give sli.ratio.test_labels "
                f"(tried {_series_name(metric, labels)})"
            )


def _series_name(metric: str, labels: Mapping[str, str]) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{metric}{{{inner}}}"


def _values(per_minute: int, minutes: int, idle_after: int | None) -> str:
    if idle_after is None:
        return f"0+{per_minute}x{minutes}"
    flat = per_minute * idle_after
    return f"0+{per_minute}x{idle_after} {flat}x{minutes - idle_after}"


def _alert_labels(rule: Mapping[str, Any], series_labels: Mapping[str, str]) -> dict[str, str]:
    return {**series_labels, **rule["labels"]}


def _expected(
    rule: Mapping[str, Any], value: float, series_labels: Mapping[str, str]
) -> dict[str, Any]:
    labels = _alert_labels(rule, series_labels)
    return {
        "exp_labels": labels,
        "exp_annotations": {k: _expand(v, value, labels) for k, v in rule["annotations"].items()},
    }


class _Alerts:
    """The alert rules of the rule file under test, found by name and identifying labels:
    the tests expect exactly what the file holds."""

    def __init__(self, rule_file: Mapping[str, Any]) -> None:
        self.rules: list[Mapping[str, Any]] = [
            r for g in rule_file["groups"] for r in g["rules"] if "alert" in r
        ]

    def find(self, alert: str, **labels: str) -> Mapping[str, Any]:
        found = [
            r
            for r in self.rules
            if r["alert"] == alert and all(r["labels"].get(k) == v for k, v in labels.items())
        ]
        if len(found) != 1:
            raise UnitTestError(f"the rule file holds {len(found)} {alert} alert(s) for {labels}")
        return found[0]


class _Tests:
    def __init__(self, workflow: Workflow, slo: SLO, rules: Mapping[str, Any]) -> None:
        self.workflow = workflow
        self.slo = slo
        self.alerts = _Alerts(rules)
        self.series = _SeriesBuilder(workflow, slo)
        self.phase = slo.phases[0]  # tests run at Unix time 0, before any tightening date
        self.budget = Fraction(self.phase.budget)
        self.min_bad = max((t.min_bad_events for t in slo.tiers), default=0)
        self.labels = {names.LABEL_SLO: slo.name, names.LABEL_WORKFLOW: slo.workflow, **slo.labels}

    def _burn_rule(self, tier: BurnTier) -> Mapping[str, Any]:
        return self.alerts.find(
            names.ALERT_BURN,
            **{
                names.LABEL_LONG_WINDOW: format_duration(tier.long_window),
                names.LABEL_SHORT_WINDOW: format_duration(tier.short_window),
            },
        )

    def _per_minute_floor(self) -> int:
        # Enough bad events within the shortest long window to pass the low-traffic guard.
        shortest = min((t.long_window for t in self.slo.tiers), default=burn.HOUR) // 60
        return -(-self.min_bad // max(1, min(shortest, CHECK_AT))) + 1

    def _thresholds(self) -> list[Fraction]:
        return sorted({Fraction(t.thresholds[0].ratio) for t in self.slo.tiers})

    def healthy(self) -> dict[str, Any]:
        budget = self.budget
        ceiling = budget / 2
        for p in self.slo.policies:
            if p.kind == "failure_rate":
                ceiling = min(ceiling, Fraction(p.threshold) / 2)
            else:
                ceiling = min(ceiling, budget * (1 - Fraction(p.threshold)) / 2)
        if ceiling <= 0:
            raise UnitTestError("the policies leave no healthy error ratio")
        traffic = _traffic_between(ceiling / 4, ceiling, 1)
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
        return {
            "name": f"{self.slo.name}: healthy traffic ({_pct(traffic.ratio)} bad) stays quiet",
            "interval": SCRAPE,
            "input_series": self.series.series(traffic, minutes),
            "alert_rule_test": [
                {"eval_time": f"{m}m", "alertname": a, "exp_alerts": []}
                for m in HEALTHY_CHECKS
                for a in alerts
            ],
            "promql_expr_test": [
                {
                    "expr": slo_selector(record, self.slo.name),
                    "eval_time": f"{minutes}m",
                    "exp_samples": [{"labels": _series_name(record, labels), "value": value}],
                }
                for record, labels, value in exact
            ],
        }

    def burn_scenarios(self) -> list[dict[str, Any]]:
        thresholds = self._thresholds()
        scenarios = []
        bounds = [*thresholds, Fraction(1)]
        for low, high in itertools.pairwise(bounds):
            traffic = _traffic_between(low, high, self._per_minute_floor())
            ratio = traffic.ratio
            firing = [t for t in self.slo.tiers if Fraction(t.thresholds[0].ratio) < ratio]
            longest_for = max((t.for_ or 0 for t in firing), default=0) // 60
            at = CHECK_AT + longest_for
            value = float(traffic.bad) / float(traffic.total)
            expected = [_expected(self._burn_rule(t), value, self.labels) for t in firing]
            tiers = ", ".join(t.name for t in firing)
            scenarios.append(
                {
                    "name": f"{self.slo.name}: {_pct(ratio)} bad runs fire {tiers}",
                    "interval": SCRAPE,
                    "input_series": self.series.series(traffic, at + 10),
                    "alert_rule_test": [
                        {
                            "eval_time": f"{at}m",
                            "alertname": names.ALERT_BURN,
                            "exp_alerts": expected,
                        }
                    ],
                }
            )
        return scenarios

    def exhausted(self) -> dict[str, Any]:
        budget = self.budget
        # Twice the budget, or as close to it as ratios allow: remaining = 1 - ratio/budget < 0.
        low, high = budget * Fraction(3, 2), min(budget * 3, Fraction(1))
        if low >= high:
            low = (budget + 1) / 2
        traffic = _traffic_between(low, high, 1)
        remaining = 1 - (float(traffic.bad) / float(traffic.total)) / float(self.phase.budget)
        rule = self.alerts.find(names.ALERT_BUDGET_EXHAUSTED)
        return {
            "name": f"{self.slo.name}: {_pct(traffic.ratio)} bad runs exhaust the budget",
            "interval": SCRAPE,
            "input_series": self.series.series(traffic, CHECK_AT + 10),
            "alert_rule_test": [
                {
                    "eval_time": f"{CHECK_AT}m",
                    "alertname": names.ALERT_BUDGET_EXHAUSTED,
                    "exp_alerts": [_expected(rule, remaining, self.labels)],
                }
            ],
        }

    def policy_scenarios(self) -> list[dict[str, Any]]:
        scenarios = []
        for policy in self.slo.policies:
            band = self._band(policy)
            if band is None:
                continue
            traffic = _traffic_between(band[0], band[1], 1)
            ratio = float(traffic.bad) / float(traffic.total)
            remaining = 1 - ratio / float(self.phase.budget)
            expected = []
            for other in self.slo.policies:
                value = ratio if other.kind == "failure_rate" else remaining
                if _policy_fires(other, value):
                    rule = self.alerts.find(names.ALERT_POLICY, **{names.LABEL_POLICY: other.name})
                    expected.append(_expected(rule, value, self.labels))
            scenarios.append(
                {
                    "name": f"{self.slo.name}: {_pct(traffic.ratio)} bad runs cross policy "
                    f"'{policy.name}'",
                    "interval": SCRAPE,
                    "input_series": self.series.series(traffic, CHECK_AT + 10),
                    "alert_rule_test": [
                        {
                            "eval_time": f"{CHECK_AT}m",
                            "alertname": names.ALERT_POLICY,
                            "exp_alerts": expected,
                        }
                    ],
                }
            )
        return scenarios

    def _band(self, policy: Policy) -> tuple[Fraction, Fraction] | None:
        """Error ratios for which ``policy`` holds, or ``None`` if none can occur."""
        t = Fraction(policy.threshold)
        u = Fraction(policy.until) if policy.until is not None else None
        if policy.kind == "failure_rate":
            low, high = t, (u if u is not None else Fraction(1))
        else:
            # remaining = 1 - ratio / budget, in (until, threshold)
            low = self.budget * (1 - t)
            high = self.budget * (1 - u) if u is not None else Fraction(1)
        low, high = max(low, Fraction(0)), min(high, Fraction(1))
        return (low, high) if low < high else None

    def absence(self) -> dict[str, Any] | None:
        if self.slo.absence is None:
            return None
        after = self.slo.absence.after // 60
        busy = 60
        at = busy + after + 30
        healthy = self.healthy_traffic()
        rule = self.alerts.find(names.ALERT_EVENTS_ABSENT)
        window = self.slo.absence.after
        labels = dict(self.labels)
        if window == self.slo.period:
            labels[names.LABEL_WINDOW] = self.slo.period_name
        return {
            "name": f"{self.slo.name}: no events for {format_duration(window)} is noticed",
            "interval": SCRAPE,
            "input_series": self.series.series(healthy, at + 10, idle_after=busy),
            "alert_rule_test": [
                {
                    "eval_time": f"{busy + after // 2}m",
                    "alertname": names.ALERT_EVENTS_ABSENT,
                    "exp_alerts": [],
                },
                {
                    "eval_time": f"{at}m",
                    "alertname": names.ALERT_EVENTS_ABSENT,
                    "exp_alerts": [_expected(rule, 0.0, labels)],
                },
            ],
        }

    def healthy_traffic(self) -> Traffic:
        return _traffic_between(Fraction(0), self.budget / 2, 1)


def _policy_fires(policy: Policy, value: float) -> bool:
    t, u = float(policy.threshold), policy.until
    if policy.kind == "failure_rate":
        return value > t and not (u is not None and value > float(u))
    return value < t and not (u is not None and value < float(u))


def _pct(ratio: Fraction) -> str:
    return f"{float(ratio) * 100:.4g}%"


def unit_tests(
    workflow: Workflow, slo: SLO, rules: Mapping[str, Any], rule_file: str
) -> dict[str, Any]:
    """A promtool test file for ``slo``'s ``rules`` (written to ``rule_file``); raises
    :class:`UnitTestError` if none can be built."""
    tests = _Tests(workflow, slo, rules)
    cases = [tests.healthy(), *tests.burn_scenarios(), tests.exhausted(), *tests.policy_scenarios()]
    absence = tests.absence()
    if absence is not None:
        cases.append(absence)
    return {
        "rule_files": [rule_file],
        "evaluation_interval": format_duration(burn.STEP),
        # Steps first, as Prometheus would have them at the checked times (steady traffic).
        "group_eval_order": [steps_group_name(slo), main_group_name(slo)],
        "tests": cases,
    }


def zero_tolerance_tests(
    workflow: Workflow, rules: Mapping[str, Any] | None, rule_file: str
) -> dict[str, Any] | None:
    """A promtool test for the zero-tolerance ``rules`` (written to ``rule_file``): one
    zero-tolerance event on a series that did not exist pages."""
    zt = workflow.zero_tolerance
    if zt is None or rules is None:
        return None
    dims = {d.name: DIMENSION_VALUE for d in workflow.dimensions}
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
    outcome = zt.outcomes[0]
    base = {names.LABEL_WORKFLOW: workflow.name, **dims}
    alert = _Alerts(rules).find(names.ALERT_ZERO_TOLERANCE)
    series_labels = {names.LABEL_OUTCOME: outcome, **dims}
    expected = _expected(alert, 1.0, series_labels)
    appears = 40
    return {
        "rule_files": [rule_file],
        "evaluation_interval": format_duration(burn.STEP),
        "tests": [
            {
                "name": f"{workflow.name}: one {outcome} on a brand-new series pages",
                "interval": SCRAPE,
                "input_series": [
                    {
                        "series": _series_name(
                            names.OUTCOMES_METRIC, {**base, names.LABEL_OUTCOME: good}
                        ),
                        "values": "0+10x90",
                    },
                    {
                        "series": _series_name(
                            names.OUTCOMES_METRIC, {**base, names.LABEL_OUTCOME: outcome}
                        ),
                        "values": f"_x{appears} 1x50",
                    },
                ],
                "alert_rule_test": [
                    {
                        "eval_time": f"{appears - 5}m",
                        "alertname": names.ALERT_ZERO_TOLERANCE,
                        "exp_alerts": [],
                    },
                    {
                        "eval_time": f"{appears + 5}m",
                        "alertname": names.ALERT_ZERO_TOLERANCE,
                        "exp_alerts": [expected],
                    },
                    {
                        "eval_time": f"{appears + 30}m",
                        "alertname": names.ALERT_ZERO_TOLERANCE,
                        "exp_alerts": [],
                    },
                ],
            }
        ],
    }
