"""The report of an SLO from Prometheus (``agent-slo report prometheus``): its recorded period
figures from the generated rules, judged by the spec's policies, and breakdowns from the raw
counters."""

from __future__ import annotations

import dataclasses
import datetime as dt

from decisions.policy import Status, judge
from decisions.promapi import Prometheus, PrometheusError
from decisions.report.figures import Breakdown, Report
from rulegen import names, promql
from rulegen.model import SLO

__all__ = ["prometheus_report"]


def prometheus_report(prom: Prometheus, slo: SLO, at: float) -> Report:
    """The report of ``slo`` over its own period ending at Unix time ``at``, from the
    generated recording rules (and raw counters for the breakdowns)."""
    period = slo.period

    def value(record: str) -> float | None:
        return prom.scalar(promql.slo_selector(record, slo), at)

    def period_ago(record: str) -> float | None:
        return prom.scalar(promql.previous_period(record, slo), at)

    runs = value(names.REC_PERIOD_EVENTS)
    if runs is None:
        raise PrometheusError(
            f"no {names.REC_PERIOD_EVENTS} for {slo.name}: are the generated rules loaded?"
        )
    failures = value(names.REC_PERIOD_BAD) or 0.0
    budget = value(names.REC_ERROR_BUDGET) or float(slo.phase_at(at).budget)
    objective = value(names.REC_OBJECTIVE)
    remaining = value(names.REC_PERIOD_REMAINING)
    allowed = value(names.REC_PERIOD_ALLOWED) or budget * runs
    previous_runs = period_ago(names.REC_PERIOD_EVENTS)
    previous_bad = period_ago(names.REC_PERIOD_BAD)
    rate = failures / runs if runs else 0.0
    previous = previous_bad / previous_runs if previous_runs and previous_bad is not None else None
    if remaining is None:
        remaining = 1 - failures / allowed if allowed else 1.0
    counts, breakdowns = _raw_figures(prom, slo, at)
    status = judge(slo.policies, rate, remaining, Status("exhausted", slo.exhausted_action))
    until = dt.datetime.fromtimestamp(at, dt.UTC)
    since = until - dt.timedelta(seconds=period)
    return Report(
        since=since.isoformat(timespec="seconds"),
        until=until.isoformat(timespec="seconds"),
        runs=round(runs),
        counts=counts,
        shares={
            k: (v / sum(counts.values()) if sum(counts.values()) else 0.0)
            for k, v in counts.items()
        },
        failures=round(failures),
        failure_rate=rate,
        budget=budget,
        allowed_failures=allowed,
        budget_remaining=remaining,
        runs_left=allowed - failures,
        burn_rate=rate / budget if budget else 0.0,
        status=status.name,
        action=status.action,
        previous_failure_rate=previous,
        change_pp=None if previous is None else (rate - previous) * 100,
        breakdowns={
            k: [
                dataclasses.replace(b, budget_share=b.failures / allowed if allowed else 0.0)
                for b in v
            ]
            for k, v in breakdowns.items()
        },
        daily=[],
        slo=slo.name,
        objective=objective,
        schedule=[
            (dt.datetime.fromtimestamp(p.start, dt.UTC).date().isoformat(), float(p.objective))
            for p in slo.phases
            if p.start is not None
        ],
    )


def _raw_figures(
    prom: Prometheus, slo: SLO, at: float
) -> tuple[dict[str, int], dict[str, list[Breakdown]]]:
    """Runs by outcome and the breakdown by each dimension, from the raw counters."""
    sli = slo.sli
    if sli.kind != "outcomes" or sli.bad is None:
        return {}, {}
    window = slo.period_name
    total, bad = sli.total, sli.bad
    counts = {
        r["metric"].get("outcome", "?"): round(float(r["value"][1]))
        for r in prom.query(promql.runs_by((names.LABEL_OUTCOME,), total, window), at)
    }
    breakdowns: dict[str, list[Breakdown]] = {}
    labels = sorted(
        {k for r in prom.query(promql.series_seen(total, "1h"), at) for k in r["metric"]}
        - {"__name__", "instance", "job", "workflow", "outcome"}
    )
    for label in labels:
        runs = {
            r["metric"].get(label, ""): float(r["value"][1])
            for r in prom.query(promql.runs_by((label,), total, window), at)
        }
        fails = {
            r["metric"].get(label, ""): float(r["value"][1])
            for r in prom.query(promql.runs_by((label,), bad, window), at)
        }
        items = [
            Breakdown(
                value=v or "(none)",
                runs=round(n),
                failures=round(fails.get(v, 0.0)),
                failure_rate=fails.get(v, 0.0) / n if n else 0.0,
                budget_share=0.0,
                meaningful=n >= 10,
            )
            for v, n in runs.items()
        ]
        breakdowns[label] = sorted(items, key=lambda b: (-b.failures, -b.failure_rate, b.value))
    return dict(sorted(counts.items())), breakdowns
