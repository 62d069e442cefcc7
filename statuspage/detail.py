"""The page of one SLO: the report of its period (the same one `agent-slo report
prometheus` gives), its windows' error ratios against each burn-rate tier's threshold in
force, the tiers' alert states, its policies' bands, its objective schedule, and the
series behind the charts; with a canary matcher, the gate's canary test.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from typing import Any, Final

from decisions import gate
from decisions.promapi import Prometheus
from decisions.report import Options, Report, prometheus_report
from rulegen import burn, names, promql
from rulegen.durations import format_duration, parse_duration
from rulegen.model import BurnTier, span
from rulegen.selectors import parse_matcher
from statuspage import queries
from statuspage.overview import RULES_NOT_LOADED, Alert, Entry

__all__ = ["CHART_POINTS", "CanaryForm", "Detail", "Series", "Tier", "Window", "detail"]

#: Points a chart's range query asks for, about.
CHART_POINTS: Final = 120


@dataclass(frozen=True)
class Series:
    """A recorded series over a time range, for a chart: ``(unix time, value)`` pairs."""

    name: str
    points: list[tuple[float, float]]


@dataclass(frozen=True)
class Window:
    """One recorded window: its error ratio now and the tiers whose threshold reads it."""

    window: str
    seconds: int
    error_ratio: float | None
    thresholds: list[tuple[str, str, float]]  # (tier, long or short, threshold in force)


@dataclass(frozen=True)
class Tier:
    """One burn-rate tier with its threshold in force and its alert's state."""

    name: str
    severity: str
    long_window: str
    short_window: str
    threshold: float  # the error ratio it fires above, now
    factor: float  # the burn rate that is
    adapted: bool  # capped: the tier's own factor would need 100% errors or more
    budget_share: float  # of the period's budget burned at the threshold for the long window
    min_bad_events: int
    long_ratio: float | None
    short_ratio: float | None
    state: str  # inactive, pending or firing
    long_series: Series
    short_series: Series


@dataclass(frozen=True)
class CanaryForm:
    """What the canary form asks: a label matcher and the gate's test options."""

    matcher: str
    window: str = "1h"
    min_runs: int = 50
    alpha: float = 0.01
    max_burn: float = 6.0

    @classmethod
    def parse(cls, fields: dict[str, str]) -> CanaryForm:
        """The form from query fields; ``ValueError`` naming the field that is wrong."""
        try:
            matcher = parse_matcher(fields["canary"].strip()).render()
        except ValueError as exc:
            raise ValueError(
                f"canary: {fields['canary']!r} is not one label matcher, e.g. "
                f'prompt_version="v42" ({exc})'
            ) from exc
        try:
            window = format_duration(parse_duration(fields.get("window") or "1h"))
        except ValueError as exc:
            raise ValueError(f"window: {exc}") from exc
        try:
            min_runs = int(fields.get("min_runs") or 50)
            alpha = float(fields.get("alpha") or 0.01)
            max_burn = float(fields.get("max_burn") or 6.0)
        except ValueError as exc:
            raise ValueError(f"min_runs, alpha and max_burn are numbers: {exc}") from exc
        if min_runs < 1 or not 0 < alpha < 1 or max_burn <= 0:
            raise ValueError("min_runs is at least 1, alpha between 0 and 1, max_burn above 0")
        return cls(matcher, window, min_runs, alpha, max_burn)


@dataclass(frozen=True)
class Detail:
    """Everything the page of one SLO shows, as of ``at``."""

    at: float
    slo: str
    workflow: str
    description: str
    team: str
    tier: str
    period: str
    period_seconds: int
    chart_seconds: int  # the time the tiers' charts span
    rules_loaded: bool
    report: Report
    alerts: list[Alert]
    windows: list[Window]
    tiers: list[Tier]
    policies: list[dict[str, Any]]
    exhausted_action: str
    schedule: list[dict[str, Any]]
    budget_history: Series
    runbook_url: str | None
    dashboard_url: str | None
    canary: CanaryForm | None
    canary_verdict: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of ``/api/slo/<name>``."""
        out = asdict(self)
        out["report"] = asdict(self.report)
        return out


def detail(
    prom: Prometheus,
    entry: Entry,
    at: float,
    canary: CanaryForm | None = None,
    min_runs: int = 10,
) -> Detail:
    """The page of ``entry``'s SLO as of Unix time ``at``: the report first, the charts'
    and windows' queries all at once beside it."""
    slo = entry.slo
    phase = slo.phases.index(slo.phase_at(at))
    span_ = min(slo.period, 4 * max((t.long_window for t in slo.tiers), default=burn.HOUR))
    tasks: dict[str, Callable[[], Any]] = {
        "report": lambda: prometheus_report(
            prom, slo, at, Options(min_runs=min_runs), entry.workflow.autonomy
        ),
        "objective": lambda: prom.scalar(promql.slo_selector(names.REC_OBJECTIVE, slo), at),
        "alerts": lambda: prom.query(queries.alerts_of_workflow(entry.workflow.name), at),
        "budget": lambda: _series(
            prom, promql.budget_remaining(slo), "budget remaining", at, slo.period
        ),
    }
    for seconds in slo.windows():
        tasks[f"now {seconds}"] = functools.partial(
            prom.scalar, queries.error_ratio(slo, seconds), at
        )
    for seconds in {w for t in slo.tiers for w in (t.long_window, t.short_window)}:
        tasks[f"range {seconds}"] = functools.partial(
            _series, prom, queries.error_ratio(slo, seconds), format_duration(seconds), at, span_
        )
    if canary is not None:
        tasks["canary"] = lambda: gate.decide(
            prom,
            slo,
            0.0,
            None,
            gate.CanarySpec(
                canary.matcher, canary.window, canary.min_runs, canary.alpha, canary.max_burn
            ),
            at=at,
        )
    with ThreadPoolExecutor(max_workers=min(len(tasks), 16)) as pool:
        futures = {key: pool.submit(task) for key, task in tasks.items()}
        got = {key: future.result() for key, future in futures.items()}
    report: Report = got["report"]
    loaded = got["objective"] is not None
    if not loaded:
        report = _unloaded(report)
    alerts = [
        Alert.of(s["metric"])
        for s in got["alerts"]
        if s["metric"].get(names.LABEL_SLO) in (slo.name, entry.workflow.zero_tolerance_slo)
    ]
    tiers = [_tier(t, phase, got, alerts) for t in slo.tiers]
    windows = [
        Window(
            format_duration(seconds),
            seconds,
            got[f"now {seconds}"],
            [
                (t.name, role, t.threshold)
                for t in tiers
                for role, w in (("long", t.long_window), ("short", t.short_window))
                if w == format_duration(seconds)
            ],
        )
        for seconds in slo.windows()
    ]
    verdict = got.get("canary")
    return Detail(
        at=at,
        slo=slo.name,
        workflow=entry.workflow.name,
        description=slo.description,
        team=entry.team,
        tier=str(slo.risk),
        period=slo.period_name,
        period_seconds=slo.period,
        chart_seconds=span_,
        rules_loaded=loaded,
        report=report,
        alerts=sorted(alerts, key=lambda a: (a.state != "firing", a.name, a.detail)),
        windows=windows,
        tiers=tiers,
        policies=[
            {
                "name": p.name,
                "kind": p.kind,
                "from": float(p.threshold),
                "until": None if p.until is None else float(p.until),
                "action": p.action,
                "severity": p.severity,
                "current": report.status == p.name,
            }
            for p in slo.policies
        ],
        exhausted_action=slo.exhausted_action,
        schedule=[
            {
                "objective": float(p.objective),
                "when": span(slo.phases, i),
                "current": i == phase,
            }
            for i, p in enumerate(slo.phases)
        ],
        budget_history=got["budget"],
        runbook_url=slo.runbook_url,
        dashboard_url=slo.dashboard_url,
        canary=canary,
        canary_verdict=None
        if verdict is None
        else {"verdict": verdict.word, "reasons": verdict.reasons, "figures": verdict.figures},
    )


def _unloaded(report: Report) -> Report:
    """The report with the status saying the rules are missing rather than the data."""
    return replace(report, status=RULES_NOT_LOADED.name, action=RULES_NOT_LOADED.action)


def _series(prom: Prometheus, expr: str, name: str, at: float, seconds: int) -> Series:
    """``expr`` over the ``seconds`` up to ``at``, about :data:`CHART_POINTS` points, the
    last at ``at``'s whole second (whole seconds a step apart: Prometheus evaluates the
    range's end exactly); of several series (labels changed in the spec), every point in
    time order."""
    step = max(burn.STEP // 10, seconds // CHART_POINTS)
    end = math.floor(at)
    start = end - seconds // step * step
    points = sorted(
        (float(t), float(v))
        for s in prom.query_range(expr, start, end, step)
        for t, v in s["values"]
    )
    return Series(name, points)


def _tier(tier: BurnTier, phase: int, got: dict[str, Any], alerts: Sequence[Alert]) -> Tier:
    """A tier with its threshold in force (``phase``), ratios now and alert state."""
    threshold = tier.thresholds[phase]
    long_, short = format_duration(tier.long_window), format_duration(tier.short_window)
    states = {
        a.state for a in alerts if a.name == names.ALERT_BURN and a.detail == f"{long_}/{short}"
    }
    state = "firing" if "firing" in states else "pending" if "pending" in states else "inactive"
    return Tier(
        name=tier.name,
        severity=tier.severity,
        long_window=long_,
        short_window=short,
        threshold=float(threshold.ratio),
        factor=float(threshold.factor),
        adapted=threshold.adapted,
        budget_share=float(tier.budget_shares[phase]),
        min_bad_events=tier.min_bad_events,
        long_ratio=got[f"now {tier.long_window}"],
        short_ratio=got[f"now {tier.short_window}"],
        state=state,
        long_series=got[f"range {tier.long_window}"],
        short_series=got[f"range {tier.short_window}"],
    )
