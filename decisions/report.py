"""The budget report: figures for a period, the status the policy gives them, and the action.

Built from a review log here (``agent-slo report --csv``); the figures are plain data with a
stable JSON form, rendered as a terminal table, Markdown or JSON.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Final

from decisions.policy import Status, judge
from decisions.promapi import Prometheus, PrometheusError
from decisions.reviewlog import COUNT_COLUMNS, OUTCOME_OF, Row
from rulegen import names, promql
from rulegen.model import SLO, Policy
from rulegen.taxonomy import DEFAULT_OUTCOMES, is_bad

if TYPE_CHECKING:
    import jinja2

__all__ = ["Report", "Thresholds", "csv_report", "prometheus_report", "render"]

SCHEMA: Final = "agent-slo/report/v1"
# The log's columns that spend budget: those whose outcome the taxonomy counts as bad.
BAD_COLUMNS: Final = tuple(c for c in COUNT_COLUMNS if is_bad(DEFAULT_OUTCOMES[OUTCOME_OF[c]]))


@dataclass(frozen=True)
class Thresholds:
    """The review-log method's failure-rate thresholds (ratios) and the actions they demand,
    judged by the same engine as a spec's policies."""

    budget: float = 0.20
    warning: float | None = 0.30
    red_line: float | None = 0.50
    actions: dict[str, str] = field(
        default_factory=lambda: {
            "within_budget": "Keep going; review the worst tasks as usual.",
            "over_budget": "Freeze prompt and model changes until the failure rate is back "
            "under budget.",
            "warning": "Tighten prompt constraints for the tasks burning the budget.",
            "red_line": "Stop using AI for this task; do it by hand until the prompts are fixed.",
        }
    )

    def policies(self) -> tuple[Policy, ...]:
        """The warning and the red line as failure-rate policies."""
        pairs = (("warning", self.warning), ("red_line", self.red_line))
        given = [(n, t) for n, t in pairs if t is not None]
        ratios = sorted((Decimal(repr(t)), n) for n, t in given)
        return tuple(
            Policy(
                name=name,
                kind="failure_rate",
                threshold=ratio,
                until=ratios[i + 1][0] if i + 1 < len(ratios) else None,
                action=self.actions[name],
                severity="ticket",
            )
            for i, (ratio, name) in enumerate(ratios)
        )

    def judge(self, failure_rate: float, remaining: float) -> Status:
        """within_budget, over_budget (nothing of the budget remains), warning or red_line."""
        return judge(
            self.policies(),
            failure_rate,
            remaining,
            exhausted=Status("over_budget", self.actions["over_budget"]),
            within=Status("within_budget", self.actions["within_budget"]),
        )


@dataclass(frozen=True)
class Breakdown:
    """One value of a dimension (a task, a model, a prompt) in the period."""

    value: str
    runs: int
    failures: int
    failure_rate: float
    budget_share: float  # its failures / the period's allowed failures
    meaningful: bool  # enough runs to draw a conclusion


@dataclass(frozen=True)
class Report:
    """Everything the report says, as data."""

    since: str
    until: str
    runs: int
    counts: dict[str, int]
    shares: dict[str, float]
    failures: int
    failure_rate: float
    budget: float
    allowed_failures: float
    budget_remaining: float  # 1 untouched, 0 spent, negative overspent
    runs_left: float  # failures still allowed
    burn_rate: float
    status: str
    action: str
    previous_failure_rate: float | None
    change_pp: float | None
    breakdowns: dict[str, list[Breakdown]]
    daily: list[tuple[str, int, int]]  # (day, runs, failures) for the burn-down chart
    slo: str = ""
    objective: float | None = None
    schedule: list[tuple[str, float]] = field(default_factory=list)  # tightening: date, objective
    schema: str = SCHEMA

    def to_json(self) -> str:
        """The stable JSON form (schema agent-slo/report/v1)."""
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"


def csv_report(
    rows: Sequence[Row],
    since: dt.date,
    until: dt.date,
    thresholds: Thresholds,
    min_runs: int = 10,
) -> Report:
    """The report for ``since``..``until`` (inclusive) of a review log."""
    current = [r for r in rows if since <= r.date <= until]
    days = (until - since).days + 1
    before = [r for r in rows if since - dt.timedelta(days=days) <= r.date < since]
    counts = _counts(current)
    runs = sum(counts.values())
    failures = sum(counts[c] for c in BAD_COLUMNS)
    rate = failures / runs if runs else 0.0
    allowed = thresholds.budget * runs
    # Exact, so that a failure rate equal to the budget leaves 0 and not a rounding error.
    exact = 1 - Fraction(failures) / (Fraction(repr(thresholds.budget)) * runs) if runs else 1
    remaining = float(exact)
    previous = _rate(before)
    status = thresholds.judge(rate, remaining)
    breakdowns = {
        name: _breakdown(current, attr, allowed, min_runs)
        for name, attr in (("task", "task"), ("model", "model"), ("prompt", "prompt"))
        if any(getattr(r, attr) for r in current)
    }
    return Report(
        since=since.isoformat(),
        until=until.isoformat(),
        runs=runs,
        counts=counts,
        shares={c: (n / runs if runs else 0.0) for c, n in counts.items()},
        failures=failures,
        failure_rate=rate,
        budget=thresholds.budget,
        allowed_failures=allowed,
        budget_remaining=remaining,
        runs_left=allowed - failures,
        burn_rate=rate / thresholds.budget,
        status=status.name,
        action=status.action,
        previous_failure_rate=previous,
        change_pp=None if previous is None else (rate - previous) * 100,
        breakdowns=breakdowns,
        daily=_daily(current, since, until),
    )


def _daily(rows: Sequence[Row], since: dt.date, until: dt.date) -> list[tuple[str, int, int]]:
    out = []
    day = since
    while day <= until:
        counts = _counts([r for r in rows if r.date == day])
        out.append((day.isoformat(), sum(counts.values()), sum(counts[c] for c in BAD_COLUMNS)))
        day += dt.timedelta(days=1)
    return out


def _counts(rows: Sequence[Row]) -> dict[str, int]:
    return {c: sum(r.counts[i] for r in rows) for i, c in enumerate(COUNT_COLUMNS)}


def _rate(rows: Sequence[Row]) -> float | None:
    counts = _counts(rows)
    runs = sum(counts.values())
    return sum(counts[c] for c in BAD_COLUMNS) / runs if runs else None


def _breakdown(rows: Sequence[Row], attr: str, allowed: float, min_runs: int) -> list[Breakdown]:
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(getattr(row, attr) or "(none)", []).append(row)
    out = []
    for value, members in groups.items():
        counts = _counts(members)
        runs = sum(counts.values())
        failures = sum(counts[c] for c in BAD_COLUMNS)
        out.append(
            Breakdown(
                value=value,
                runs=runs,
                failures=failures,
                failure_rate=failures / runs,
                budget_share=failures / allowed if allowed else 0.0,
                meaningful=runs >= min_runs,
            )
        )
    return sorted(out, key=lambda b: (-b.failures, -b.failure_rate, b.value))


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


_STATUS_WORDS: Final = {
    "within_budget": "WITHIN BUDGET",
    "over_budget": "OVER BUDGET",
    "warning": "WARNING",
    "red_line": "RED LINE",
}


def render(report: Report, fmt: str) -> str:
    """The report as ``table`` (terminal), ``markdown``, ``json`` or ``html``."""
    if fmt == "json":
        return report.to_json()
    if fmt == "html":
        return _html(report)
    md = fmt == "markdown"
    lines = []
    head = f"Error budget report {report.since} to {report.until}"
    if report.slo:
        head = f"{report.slo}: {head.lower()}"
    lines.append(f"## {head}" if md else head)
    lines.append("")
    status = _STATUS_WORDS.get(report.status, report.status.replace("_", " ").upper())
    change = (
        f", {report.change_pp:+.1f} pp against the previous period"
        if report.change_pp is not None
        else ""
    )
    lines.append(
        f"{'**' if md else ''}{status}{'**' if md else ''}: failure rate "
        f"{report.failure_rate:.1%} (budget {report.budget:.0%}){change}"
    )
    lines.append(f"Action: {report.action}")
    if report.objective is not None:
        schedule = "".join(f", {o:.4g} from {d}" for d, o in report.schedule)
        lines.append(f"Objective now: {report.objective:.4g}{schedule}")
    lines.append(
        f"Budget remaining: {report.budget_remaining:.0%} ({report.runs_left:.1f} of "
        f"{report.allowed_failures:.1f} allowed failures left), burn rate {report.burn_rate:.2f}x"
    )
    lines.append("")
    rows = (
        [("outcome", "runs", "share")]
        + [(c, str(n), f"{report.shares[c]:.1%}") for c, n in report.counts.items()]
        + [("total", str(report.runs), "100.0%")]
    )
    lines.extend(_table(rows, md))
    for name, items in report.breakdowns.items():
        lines.append("")
        lines.append(f"### By {name}" if md else f"By {name} (most budget burned first)")
        table = [(name, "runs", "failures", "failure rate", "budget burned", "")] + [
            (
                b.value,
                str(b.runs),
                str(b.failures),
                f"{b.failure_rate:.0%}",
                f"{b.budget_share:.0%}",
                "" if b.meaningful else "too few runs yet",
            )
            for b in items
        ]
        lines.extend(_table(table, md))
    return "\n".join(lines) + "\n"


def _table(rows: Sequence[tuple[str, ...]], md: bool) -> list[str]:
    if md:
        out = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
        out += ["| " + " | ".join(r) + " |" for r in rows[1:]]
        return out
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]


@functools.cache
def _html_templates() -> jinja2.Environment:
    import jinja2  # noqa: PLC0415 - only the HTML report needs a template engine

    return jinja2.Environment(
        loader=jinja2.PackageLoader("decisions", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _html(report: Report) -> str:
    """A self-contained page: the figures, a burn-down chart and one chart per dimension."""
    days = report.daily or [(report.since, 0, 0)]
    top = max(report.failures, report.allowed_failures, 1.0)
    width = 580 / len(days)
    bars, points = [], []
    failures = runs = 0
    for i, (day, day_runs, day_failures) in enumerate(days):
        failures += day_failures
        runs += day_runs
        allowed = report.budget * runs
        x = 40 + i * width
        bars.append(
            {
                "x": round(x + 2, 1),
                "w": round(max(width - 4, 1), 1),
                "y": round(190 - 170 * failures / top, 1),
                "day": day,
                "label": day[5:] if len(days) <= 14 or i % 7 == 0 else "",
                "failures": failures,
                "allowed": allowed,
                "over": failures > allowed,
            }
        )
        points.append(f"{x + width / 2:.1f},{190 - 170 * allowed / top:.1f}")
    widest = max((b.budget_share for items in report.breakdowns.values() for b in items), default=1)
    return (
        _html_templates()
        .get_template("report.html.j2")
        .render(
            r=report,
            status_word=_STATUS_WORDS.get(report.status, report.status.replace("_", " ").upper()),
            burndown=bars,
            allowed_line=" ".join(points),
            pct=lambda value, digits=1: f"{value * 100:.{digits}f}%",
            bar=lambda share: round(360 * share / max(widest, 1e-9), 1),
        )
    )
