"""The one status engine: which policy a period's figures fall under, and the action it
demands. The report from a review log and the report from Prometheus both judge here, with
the precedence of the generated alerts: a failure-rate threshold passed (the highest
first), then a spent budget, then a budget-remaining threshold (the lowest first).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from rulegen.model import Policy

__all__ = [
    "NOT_ENOUGH_RUNS",
    "UNJUDGED",
    "WITHIN_BUDGET",
    "Status",
    "judge",
    "remaining",
    "review_order",
    "worst_first",
]


@dataclass(frozen=True)
class Status:
    """A status name (``within_budget``, ``exhausted``, a policy's name) and its action."""

    name: str
    action: str


WITHIN_BUDGET = Status("within_budget", "Keep going.")
#: A row (a task, a model, ...) with fewer runs than the report's minimum: no verdict yet.
NOT_ENOUGH_RUNS = Status("not_enough_runs", "Not enough runs yet: keep recording.")
#: Statuses that are no verdict on the budget: no runs recorded, too few, or (on the status
#: page) no rules recording anything.
UNJUDGED = frozenset({"no_data", NOT_ENOUGH_RUNS.name, "rules_not_loaded"})


def judge(
    policies: Sequence[Policy],
    failure_rate: float,
    remaining: float,
    exhausted: Status,
    within: Status = WITHIN_BUDGET,
) -> Status:
    """The status of a period with this failure rate and share of budget remaining (1
    untouched, 0 spent, negative overspent); ``exhausted`` once nothing remains."""
    passed = [p for p in policies if p.kind == "failure_rate" and failure_rate > float(p.threshold)]
    if passed:
        worst = max(passed, key=lambda p: p.threshold)
        return Status(worst.name, worst.action)
    if remaining <= 0:
        return exhausted
    low = [p for p in policies if p.kind == "budget_remaining" and remaining < float(p.threshold)]
    if low:
        worst = min(low, key=lambda p: p.threshold)
        return Status(worst.name, worst.action)
    return within


def worst_first(policies: Sequence[Policy], exhausted: Status) -> list[str]:
    """Every status :func:`judge` can give but within budget, the most severe first."""
    rates = sorted((p for p in policies if p.kind == "failure_rate"), key=lambda p: -p.threshold)
    lows = sorted((p for p in policies if p.kind == "budget_remaining"), key=lambda p: p.threshold)
    return [p.name for p in rates] + [exhausted.name] + [p.name for p in lows]


def review_order(
    status: str, budget_remaining: float | None, slo: str, alerting: bool = False
) -> tuple[int, float, str]:
    """Where an SLO stands in a review of many, the worst first (the report's review and
    the status page's overview both sort by it): past a threshold (any status :func:`judge`
    gives but within budget), the least budget left first; then within budget with an
    alert firing (``alerting``: the status page reads the alerts, the report does not);
    then within budget, the least budget left first; no verdict (:data:`UNJUDGED`) last.
    Ties by name. A budget not recorded counts as untouched."""
    if status in UNJUDGED:
        return (3, 0.0, slo)
    left = 1.0 if budget_remaining is None else budget_remaining
    if status != WITHIN_BUDGET.name:
        return (0, left, slo)
    return (1 if alerting else 2, left, slo)


def remaining(failures: float, runs: float, budget: float) -> float:
    """The share of the budget left after ``failures`` in ``runs`` at a ``budget`` ratio (1
    untouched, 0 spent, negative overspent), worked out exactly from the decimal the budget
    was written as, so that a failure rate equal to the budget leaves 0."""
    if not runs:
        return 1.0
    allowed = Fraction(repr(budget)) * Fraction(repr(runs))  # a budget is above 0
    return float(1 - Fraction(repr(failures)) / allowed)
