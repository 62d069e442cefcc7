"""The report of a review log (``agent-slo report csv``): the period's counts by column, the
failures of the columns whose outcome spends budget, and a breakdown per task, model and
prompt."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Final

from decisions.policy import remaining
from decisions.report.figures import Breakdown, Report, RowJudge, Thresholds
from decisions.reviewlog import COUNT_COLUMNS, OUTCOME_OF, Row
from rulegen.taxonomy import DEFAULT_OUTCOMES, is_bad

__all__ = ["BAD_COLUMNS", "csv_report"]

# The log's columns that spend budget: those whose outcome the taxonomy counts as bad.
BAD_COLUMNS: Final = tuple(c for c in COUNT_COLUMNS if is_bad(DEFAULT_OUTCOMES[OUTCOME_OF[c]]))


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
    left = remaining(failures, runs, thresholds.budget)
    previous = _rate(before)
    status = thresholds.judge(rate, left)
    rows_judge = thresholds.rows(min_runs)
    breakdowns = {
        name: _breakdown(current, attr, allowed, rows_judge)
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
        budget_remaining=left,
        runs_left=allowed - failures,
        burn_rate=rate / thresholds.budget,
        status=status.name,
        action=status.action,
        previous_failure_rate=previous,
        change_pp=None if previous is None else (rate - previous) * 100,
        breakdowns=breakdowns,
        daily=_daily(current, since, until),
        act_on=rows_judge.act_on(breakdowns),
        severity=rows_judge.worst_first,
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


def _breakdown(rows: Sequence[Row], attr: str, allowed: float, judge: RowJudge) -> list[Breakdown]:
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(getattr(row, attr) or "(none)", []).append(row)
    out = []
    for value, members in groups.items():
        counts = _counts(members)
        failures = sum(counts[c] for c in BAD_COLUMNS)
        out.append(judge.row(value, sum(counts.values()), failures, allowed))
    return sorted(out, key=lambda b: (-b.failures, -b.failure_rate, b.value))
