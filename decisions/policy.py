"""The one status engine: which policy a period's figures fall under, and the action it
demands. The report from a review log and the report from Prometheus both judge here, with
the precedence of the generated alerts: a failure-rate threshold passed (the highest
first), then a spent budget, then a budget-remaining threshold (the lowest first).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rulegen.model import Policy

__all__ = ["WITHIN_BUDGET", "Status", "judge"]


@dataclass(frozen=True)
class Status:
    """A status name (``within_budget``, ``exhausted``, a policy's name) and its action."""

    name: str
    action: str


WITHIN_BUDGET = Status("within_budget", "Keep going.")


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
