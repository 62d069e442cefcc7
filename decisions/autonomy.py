"""Autonomy earned by days inside the error budget: the current streak and the workflow's grants.

The budget left (``slo:period_error_budget_remaining:ratio``) is checked every ``STEP`` (an
hour), walking back from a time. A check reads every value recorded within the step before
it and one recording interval more (``LOOKBACK``, the rules record the budget every 5
minutes): inside the budget when all are above 0, spent when one is at or under 0, a gap when
none was recorded, that is when the recording stopped for longer than the step and the
lookback. The streak is the run of checks inside the budget up to the time, from its earliest
check; it ends at a spent check, at a gap, at the start of history or at the horizon looked
back to. A gap never counts as inside the budget: whether the budget held there is unknown.

A grant of the workflow (``autonomy:`` in its spec) is earned once the streak lasts its days.
:func:`from_checks` is the computation, from the checks' values alone; :func:`autonomy` asks
Prometheus for them.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from decisions.promapi import Prometheus
from rulegen import burn, promql
from rulegen.durations import format_duration
from rulegen.model import SLO

__all__ = [
    "LOOKBACK",
    "MAX_CHECKS",
    "STEP",
    "Autonomy",
    "Grant",
    "StreakEnd",
    "autonomy",
    "find_grant",
    "from_checks",
    "iso",
]

#: Time between two checks of the budget.
STEP: Final = burn.HOUR
#: How much older than the step a value may be and still count for a check: the interval at
#: which the rules record the budget.
LOOKBACK: Final = burn.STEP
#: Checks asked for in one range query (Prometheus refuses more than 11,000 points).
MAX_CHECKS: Final = 10_000

EndKind = Literal["budget_spent", "gap", "start_of_history", "horizon", "no_history"]


def iso(when: float) -> str:
    """A Unix time as ISO 8601 UTC to the second: ``2026-03-05T14:00:00Z``."""
    return dt.datetime.fromtimestamp(when, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class StreakEnd:
    """What ended the streak, walking back from its earliest check.

    ``at`` is the check that saw the budget spent (``budget_spent``), the last check with a
    value before a ``gap``, the first check with a value (``start_of_history``) or the
    earliest check looked at (``horizon``); ``until`` is the first check with a value after a
    gap (``None`` when there is none up to the time asked about).
    """

    kind: EndKind
    at: int | None = None
    until: int | None = None

    def describe(self) -> str:
        """In words: ``the budget was spent at 2026-03-03T21:00:00Z``."""
        if self.kind == "budget_spent":
            return f"the budget was spent at {iso(self._at)}"
        if self.kind == "gap":
            if self.until is None:
                return f"a gap in the budget's history since {iso(self._at)}"
            return f"a gap in the budget's history between {iso(self._at)} and {iso(self.until)}"
        if self.kind == "start_of_history":
            return f"the budget's history starts at {iso(self._at)}"
        if self.kind == "horizon":
            return f"the history looked at starts at {iso(self._at)}"
        return "no history of the budget"

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: kind, at, until (ISO 8601 or null) and the text."""
        return {
            "kind": self.kind,
            "at": None if self.at is None else iso(self.at),
            "until": None if self.until is None else iso(self.until),
            "text": self.describe(),
        }

    @property
    def _at(self) -> int:
        if self.at is None:
            raise ValueError(f"a streak ended by {self.kind} needs a time")
        return self.at


@dataclass(frozen=True)
class Grant:
    """One grant of the workflow's ladder, as the streak stands."""

    index: int  # 1-based, in the order of days
    days: int
    grant: str
    earned: bool
    due: int | None  # when the streak reaches (or reached) the days; None without a streak

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: index, days, grant, earned, due (ISO 8601 or null)."""
        return {
            "index": self.index,
            "days": self.days,
            "grant": self.grant,
            "earned": self.earned,
            "due": None if self.due is None else iso(self.due),
        }


@dataclass(frozen=True)
class Autonomy:
    """The streak inside the budget of one SLO up to ``at``, and its workflow's grants."""

    slo: str
    at: int
    seconds_in_budget: int
    streak_start: int | None  # the streak's earliest check; None when the latest is not in
    ended_by: StreakEnd
    grants: tuple[Grant, ...]

    @property
    def days_in_budget(self) -> float:
        """The streak's length in days."""
        return self.seconds_in_budget / burn.DAY

    @property
    def duration(self) -> str:
        """The streak's length as a duration: ``1d2h``, ``0h``."""
        return format_duration(self.seconds_in_budget) if self.seconds_in_budget else "0h"

    def reaches(self, days: int) -> bool | None:
        """Whether the streak lasts ``days``: ``None`` when that cannot be told, the history
        before the streak (a gap, or none at all) hiding whether the budget held."""
        if self.seconds_in_budget >= days * burn.DAY:
            return True
        if self.ended_by.kind == "budget_spent":
            return False
        return None

    def due(self, days: int) -> int | None:
        """When the streak lasts ``days`` if it goes on; ``None`` without a streak."""
        return _due(self.streak_start, days)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: at, days_in_budget, streak_start, ended_by and grants."""
        return {
            "slo": self.slo,
            "at": iso(self.at),
            "days_in_budget": round(self.days_in_budget, 4),
            "streak_start": None if self.streak_start is None else iso(self.streak_start),
            "ended_by": self.ended_by.to_dict(),
            "grants": [g.to_dict() for g in self.grants],
        }


def from_checks(
    values: Mapping[int, float],
    *,
    slo: str,
    at: int,
    checks: int,
    grants: Sequence[tuple[int, str]] = (),
    step: int = STEP,
    known_good: int = 0,
) -> Autonomy:
    """The streak from the checks' values: ``values[at - k * step]`` for ``k`` from 0 to
    ``checks``, the least budget left seen by that check; a check without a value (or a NaN)
    is a gap.

    ``known_good`` latest checks are known to be inside the budget without their values
    (the status page learns it from a count of such checks a day, and asks for the values
    of the checks after them alone); ``values`` need not hold them."""

    def value(k: int) -> float | None:
        found = values.get(at - k * step)
        return None if found is None or math.isnan(found) else found

    k = min(known_good, checks + 1)
    while k <= checks and (found := value(k)) is not None and found > 0:
        k += 1
    start = at - (k - 1) * step if k else None
    if k > checks:
        end = StreakEnd("horizon", at - checks * step)
    elif value(k) is not None:
        end = StreakEnd("budget_spent", at - k * step)
    else:
        before = min(  # the latest check with a value before the gap
            (
                j
                for t, v in values.items()
                if not math.isnan(v) and (at - t) % step == 0 and k < (j := (at - t) // step)
            ),
            default=None,
        )
        before = before if before is not None and before <= checks else None
        if before is not None:
            end = StreakEnd("gap", at - before * step, start)
        elif start is not None:
            end = StreakEnd("start_of_history", start)
        else:
            end = StreakEnd("no_history")
    seconds = at - start if start is not None else 0
    ladder = tuple(
        Grant(index, days, text, seconds >= days * burn.DAY, _due(start, days))
        for index, (days, text) in enumerate(grants, 1)
    )
    return Autonomy(slo, at, seconds, start, end, ladder)


def autonomy(
    prom: Prometheus,
    slo: SLO,
    grants: Sequence[tuple[int, str]],
    at: float,
    at_least_days: int = 0,
) -> Autonomy:
    """The streak of ``slo`` up to ``at`` and the ``grants`` of its workflow, looking back as
    far as the longest grant, ``at_least_days`` and the SLO's period."""
    end = math.ceil(at)  # a whole second that holds every sample up to ``at``
    days = max([d for d, _ in grants] + [at_least_days, math.ceil(slo.period / burn.DAY)])
    checks = days * burn.DAY // STEP
    expr = promql.lowest_remaining(slo, STEP + LOOKBACK)
    values: dict[int, float] = {}
    first = 0  # the latest checks first: older history may change nothing
    while True:
        last = min(first + MAX_CHECKS - 1, checks)
        for series in prom.query_range(expr, end - last * STEP, end - first * STEP, STEP):
            for t, v in series["values"]:
                key = round(float(t))
                values[key] = min(float(v), values.get(key, math.inf))
        result = from_checks(values, slo=slo.name, at=end, checks=last, grants=grants)
        if last == checks or result.ended_by.kind in ("budget_spent", "gap"):
            return result
        first = last + 1


def _due(start: int | None, days: int) -> int | None:
    return None if start is None else start + days * burn.DAY


def find_grant(grants: Sequence[tuple[int, str]], wanted: str, workflow: str) -> int:
    """The 1-based index of the grant ``wanted`` names: its index, its text, or a part of the
    text found in no other grant (case-insensitive); ``ValueError`` listing the grants
    otherwise."""
    listing = "; ".join(
        f"{i}: {text} (after {format_duration(days * burn.DAY)})"
        for i, (days, text) in enumerate(grants, 1)
    )
    if not grants:
        raise ValueError(f"workflow {workflow!r} declares no autonomy grants")
    if wanted.strip().isdigit():
        index = int(wanted)
        if 1 <= index <= len(grants):
            return index
        raise ValueError(f"workflow {workflow!r} has no grant {index}; its grants are {listing}")
    needle = wanted.strip().casefold()
    if not needle:
        raise ValueError(f"name a grant of workflow {workflow!r}: {listing}")
    exact = [i for i, (_, text) in enumerate(grants, 1) if text.casefold() == needle]
    found = exact or [i for i, (_, text) in enumerate(grants, 1) if needle in text.casefold()]
    if len(found) == 1:
        return found[0]
    problem = "matches several grants" if found else "matches no grant"
    raise ValueError(
        f"{wanted!r} {problem} of workflow {workflow!r}; its grants are {listing} "
        "(give the number or more of the text)"
    )
