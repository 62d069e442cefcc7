"""The report of an SLO from Prometheus (``agent-slo report prometheus``).

Every figure is a count of runs, exact: the SLO's runs and bad runs from its recorded
steps (the generated rules count each run once, whatever the scrapes did), the outcomes and
the rows of each dimension from the raw counters' values at both ends of the period (whole
numbers, never the extrapolated ``increase()``). The rows of a breakdown add up to the
outcomes' total; where that total differs from the recorded one (history before the first
scrape, a target gone), the report says so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from decisions.autonomy import autonomy
from decisions.policy import Status, judge, remaining
from decisions.promapi import Prometheus
from decisions.report.figures import Breakdown, Report, RowJudge, Thresholds
from rulegen import burn, names, promql
from rulegen.model import SLO
from rulegen.selectors import Selector

__all__ = ["NO_DATA", "Options", "prometheus_report"]

#: An SLO without recorded runs: nothing to judge.
NO_DATA = Status(
    "no_data", "No runs recorded yet: check that the exporter is scraped and the rules loaded."
)


@dataclass(frozen=True)
class Options:
    """What the reader may change: the thresholds (default: the SLO's policies and its
    objective in force), the start of the period (default: one SLO period before its end) and
    the runs a row needs for a verdict."""

    thresholds: Thresholds | None = None
    since: float | None = None
    min_runs: int = 10


def prometheus_report(
    prom: Prometheus,
    slo: SLO,
    at: float,
    options: Options | None = None,
    grants: Sequence[tuple[int, str]] = (),
) -> Report:
    """The report of ``slo`` over the period ending at Unix time ``at``, with its days inside
    budget and the ``grants`` of its workflow's autonomy ladder."""
    options = options or Options()
    seconds = round(at - options.since) if options.since is not None else slo.period
    seconds = max(burn.STEP, seconds - seconds % burn.STEP)  # whole recorded steps
    runs_f = prom.scalar(promql.recorded_runs(slo, "events", seconds), at)
    failures_f = prom.scalar(promql.recorded_runs(slo, "bad_events", seconds), at)
    until = dt.datetime.fromtimestamp(at, dt.UTC)
    since = until - dt.timedelta(seconds=seconds)
    budget = (
        options.thresholds.budget
        if options.thresholds is not None
        else float(slo.phase_at(at).budget)
    )
    runs, failures = round(runs_f or 0), round(failures_f or 0)
    rate = failures / runs if runs else 0.0
    allowed = budget * runs
    left = remaining(failures, runs, budget)
    own_terms = options.thresholds is None and options.since is None
    if own_terms and runs:  # the SLO's own period and budget: the figures its alerts read
        allowed = prom.scalar(promql.slo_selector(names.REC_PERIOD_ALLOWED, slo), at) or allowed
        recorded = prom.scalar(promql.slo_selector(names.REC_PERIOD_REMAINING, slo), at)
        left = left if recorded is None else recorded
    if options.thresholds is not None:
        status = options.thresholds.judge(rate, left) if runs else NO_DATA
        rows = options.thresholds.rows(options.min_runs)
    else:
        exhausted = Status("exhausted", slo.exhausted_action)
        status = judge(slo.policies, rate, left, exhausted) if runs else NO_DATA
        rows = RowJudge.of(slo.policies, exhausted, budget, options.min_runs)
    counts, breakdowns, counted = _raw_figures(prom, slo, at, seconds, allowed, rows)
    notes = []
    if counted is not None and counted != runs:
        notes.append(
            f"The outcomes and breakdowns count {counted} runs from the raw counters against "
            f"{runs} recorded by the rules (runs before Prometheus first scraped a target, "
            "or a target gone, count in one and not the other)."
        )
    before = at - seconds
    previous_runs = round(prom.scalar(promql.recorded_runs(slo, "events", seconds), before) or 0)
    previous_bad = prom.scalar(promql.recorded_runs(slo, "bad_events", seconds), before)
    previous = round(previous_bad or 0) / previous_runs if previous_runs else None
    return Report(
        since=_date_time(since),
        until=_date_time(until),
        runs=runs,
        counts=counts,
        shares={k: (v / counted if counted else 0.0) for k, v in counts.items()},
        failures=failures,
        failure_rate=rate,
        budget=budget,
        allowed_failures=allowed,
        budget_remaining=left,
        runs_left=allowed - failures,
        burn_rate=rate / budget if budget else 0.0,
        status=status.name,
        action=status.action,
        previous_failure_rate=previous,
        change_pp=None if previous is None or not runs else (rate - previous) * 100,
        breakdowns=breakdowns,
        daily=_daily(prom, slo, at, seconds),
        slo=slo.name,
        objective=1 - budget,
        schedule=[
            (dt.datetime.fromtimestamp(p.start, dt.UTC).date().isoformat(), float(p.objective))
            for p in slo.phases
            if p.start is not None and p.start > at
        ],
        act_on=rows.act_on(breakdowns),
        severity=rows.worst_first,
        autonomy=autonomy(prom, slo, grants, at).to_dict(),
        notes=notes,
    )


def _date_time(moment: dt.datetime) -> str:
    """``2026-11-24 08:30 UTC``."""
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _daily(prom: Prometheus, slo: SLO, at: float, seconds: int) -> list[tuple[str, int, int]]:
    """Runs and bad runs of each day of the period (the last one may be partial), from the
    recorded steps: one range query a kind for the whole days, one instant query for the
    rest."""
    start = at - seconds
    days, rest = divmod(seconds, burn.DAY)
    counts: dict[str, list[int]] = {}
    for kind in ("events", "bad_events"):
        per_day = [0] * (days + bool(rest))
        if days:
            expr = promql.recorded_runs(slo, kind, burn.DAY)
            for series in prom.query_range(
                expr, start + burn.DAY, start + days * burn.DAY, burn.DAY
            ):
                for t, v in series["values"]:
                    per_day[round((float(t) - start) / burn.DAY) - 1] = round(float(v))
        if rest:
            per_day[-1] = round(prom.scalar(promql.recorded_runs(slo, kind, rest), at) or 0)
        counts[kind] = per_day
    return [
        (dt.datetime.fromtimestamp(start + k * burn.DAY, dt.UTC).date().isoformat(), runs, bad)
        for k, (runs, bad) in enumerate(zip(counts["events"], counts["bad_events"], strict=True))
    ]


def _raw_figures(  # noqa: PLR0917 - the period and how to judge its rows
    prom: Prometheus,
    slo: SLO,
    at: float,
    seconds: int,
    allowed: float,
    rows: RowJudge,
) -> tuple[dict[str, int], dict[str, list[Breakdown]], int | None]:
    """Runs by outcome, the breakdown by each dimension, and the runs they count, from the
    raw counters; nothing for an SLI without outcome counters."""
    sli = slo.sli
    if sli.kind != "outcomes" or sli.bad is None:
        return {}, {}, None
    total, bad = sli.total, sli.bad

    def by(labels: Sequence[str], counters: Selector) -> dict[str, int]:
        return {
            r["metric"].get(labels[0], ""): round(float(r["value"][1]))
            for r in prom.query(promql.runs_within(labels, counters, seconds), at)
        }

    counts = {k: v for k, v in by((names.LABEL_OUTCOME,), total).items() if v}
    counted = sum(counts.values())
    seen = prom.query(promql.series_seen(total, promql.window_name(seconds)), at)
    labels = sorted(
        {k for r in seen for k in r["metric"]}
        - {"__name__", "instance", "job", names.LABEL_WORKFLOW, names.LABEL_OUTCOME}
    )
    breakdowns: dict[str, list[Breakdown]] = {}
    for label in labels:
        fails = by((label,), bad)
        items = [
            rows.row(value or "(none)", n, fails.get(value, 0), allowed)
            for value, n in by((label,), total).items()
            if n
        ]
        breakdowns[label] = sorted(items, key=lambda b: (-b.failures, -b.failure_rate, b.value))
    return dict(sorted(counts.items())), breakdowns, counted
