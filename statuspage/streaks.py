"""The autonomy streak of every SLO on the overview, from a count of its good checks a day
and the checks of the few days that end its streak.

:func:`decisions.autonomy.from_checks` walks the hourly checks of the budget back from now:
the streak ends at the first check that saw the budget spent or saw nothing (a gap), and a
gap's end is the next check with a value. Asked for every check of 60 days, Prometheus
answers 1,441 values an SLO, and reading them costs more than everything else the overview
does. Here it is asked in two rounds instead:

1. for every SLO, how many of each day's 24 checks were inside the budget
   (:func:`~statuspage.queries.good_checks_a_day`, one number a day): the days before the
   first one short of 24 are inside the budget throughout;
2. for the SLOs whose streak ends within their horizon, the checks themselves from that day
   to the next earlier day with a good check (which holds the check a gap ends at), or to
   the horizon.

The streak is then :func:`~decisions.autonomy.from_checks` on those checks, the days before
them given as known inside the budget: the same days and grants as from every check. An SLO
with several series (its labels changed in the spec) is read check by check, its series
combined as :func:`decisions.autonomy.autonomy` combines them.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

from decisions.autonomy import LOOKBACK, MAX_CHECKS, STEP, Autonomy, from_checks
from decisions.promapi import Prometheus
from rulegen import burn, names
from statuspage import queries

__all__ = [
    "DAY_PARTS",
    "HOURS",
    "Span",
    "checks_of",
    "day_spans",
    "good_days",
    "hour_spans",
    "streaks",
]

#: Checks a day.
HOURS: Final = burn.DAY // STEP
#: Range queries the day counts are split into, sent at once.
DAY_PARTS: Final = 3

Answer = list[dict[str, Any]]


@dataclass(frozen=True)
class Span:
    """One range query: ``expr`` from ``start`` to ``end`` every ``step`` seconds."""

    expr: str
    start: int
    end: int
    step: int

    def ask(self, prom: Prometheus) -> Answer:
        """Prometheus's answer."""
        return prom.query_range(self.expr, self.start, self.end, self.step)


def checks_of(days: Sequence[int], period: int) -> int:
    """Hourly checks a streak looks back over: its workflow's longest grant (``days``) or
    its ``period`` in seconds, as :func:`decisions.autonomy.autonomy` looks (at most one
    range query's worth)."""
    longest = max([*days, math.ceil(period / burn.DAY)])
    return min(longest * burn.DAY // STEP, MAX_CHECKS - 1)


def day_spans(at: float, checks: int) -> list[Span]:
    """The queries of every SLO's good checks a day, for ``checks`` checks back from
    ``at``'s whole second, in :data:`DAY_PARTS` parts: day ``d`` holds checks ``24 d`` to
    ``24 d + 23`` and is evaluated ``d`` days before the first multiple of an hour at or
    after the latest check."""
    end = math.ceil(at)
    shift = -end % STEP
    expr = queries.good_checks_a_day(STEP + LOOKBACK, STEP, shift)
    days = checks // HOURS  # the day of the earliest check
    size = days // DAY_PARTS + 1
    return [
        Span(expr, end + shift - last * burn.DAY, end + shift - first * burn.DAY, burn.DAY)
        for first in range(0, days + 1, size)
        for last in [min(first + size - 1, days)]
    ]


def good_days(answers: Iterable[Answer], at: float) -> dict[str, dict[int, float]]:
    """Good checks by SLO and day (0: the latest), from :func:`day_spans`' answers. An SLO
    with several series maps to an empty dict, to be read check by check: a check is good
    when the least of its series' values is above 0, which no count of one series says."""
    end = math.ceil(at)
    top = end + -end % STEP  # where day 0 is evaluated
    found: dict[str, dict[int, float]] = {}
    labels: dict[str, set[frozenset[tuple[str, str]]]] = {}
    for answer in answers:
        for series in answer:
            slo = series["metric"].get(names.LABEL_SLO, "")
            labels.setdefault(slo, set()).add(frozenset(series["metric"].items()))
            counts = {round((top - float(t)) / burn.DAY): float(v) for t, v in series["values"]}
            found.setdefault(slo, {}).update(counts)
    return {slo: {} if len(labels[slo]) > 1 else counts for slo, counts in found.items()}


@dataclass(frozen=True)
class _Need:
    """The checks one SLO's streak is read from: ``first`` to ``last`` back from now."""

    slo: str
    first: int
    last: int


def _need(slo: str, counts: Mapping[int, float], checks: int) -> _Need | None:
    """The checks to read for ``slo``: none when every day up to its horizon is good."""
    days = checks // HOURS
    short = next((d for d in range(days + 1) if counts.get(d, 0) < HOURS), None)
    if short is None:
        return None
    earlier = next((d for d in range(short + 1, days + 1) if counts.get(d, 0) > 0), days)
    return _Need(slo, short * HOURS, min(earlier * HOURS + HOURS - 1, checks))


def hour_spans(
    at: float, horizons: Mapping[str, int], counts: Mapping[str, Mapping[int, float]]
) -> tuple[list[Span], dict[str, int]]:
    """The queries of the checks the streaks end in (one a set of SLOs needing the same
    checks), and how many latest checks of each SLO are known good."""
    end = math.ceil(at)
    groups: dict[tuple[int, int], list[str]] = {}
    known: dict[str, int] = {}
    for slo, checks in horizons.items():
        need = _need(slo, counts.get(slo, {}), checks)
        known[slo] = checks + 1 if need is None else need.first
        if need is not None:
            groups.setdefault((need.first, need.last), []).append(slo)
    spans = [
        Span(queries.lowest_remaining(STEP + LOOKBACK, slos), end - last * STEP,
             end - first * STEP, STEP)
        for (first, last), slos in sorted(groups.items())
    ]  # fmt: skip
    return spans, known


def streaks(
    prom: Prometheus,
    at: float,
    horizons: Mapping[str, int],
    grants: Mapping[str, Sequence[tuple[int, str]]],
    days: Iterable[Answer],
    *,
    send: Callable[[Sequence[Callable[[], Answer]]], list[Answer]] | None = None,
) -> dict[str, Autonomy]:
    """Every SLO's streak as of ``at``, looking back ``horizons[slo]`` checks, from the
    answers of :func:`day_spans` and the checks asked for now (all at once, through
    ``send``)."""
    end = math.ceil(at)
    spans, known = hour_spans(at, horizons, good_days(days, at))
    jobs = [functools.partial(span.ask, prom) for span in spans]
    values: dict[str, dict[int, float]] = {}
    for answer in (send or _at_once)(jobs):
        for series in answer:
            own = values.setdefault(series["metric"].get(names.LABEL_SLO, ""), {})
            for t, v in series["values"]:
                key = round(float(t))  # whole seconds
                own[key] = min(float(v), own.get(key, math.inf))
    return {
        slo: from_checks(
            values.get(slo, {}), slo=slo, at=end, checks=checks, grants=grants[slo],
            known_good=known[slo],
        )
        for slo, checks in horizons.items()
    }  # fmt: skip


def _at_once(jobs: Sequence[Callable[[], Answer]]) -> list[Answer]:
    if not jobs:
        return []
    with ThreadPoolExecutor(max_workers=min(len(jobs), 8)) as pool:
        return list(pool.map(lambda job: job(), jobs))
