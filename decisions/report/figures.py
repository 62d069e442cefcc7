"""What a report says, as plain data with a stable JSON form, and the review-log method's
thresholds."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Final

from decisions.policy import Status, judge
from rulegen.model import Policy

__all__ = ["SCHEMA", "Breakdown", "Report", "Thresholds"]

SCHEMA: Final = "agent-slo/report/v1"


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
