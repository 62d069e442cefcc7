"""What a report says, as plain data with a stable JSON form, and the review-log method's
thresholds."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any, Final

from decisions.policy import (
    NOT_ENOUGH_RUNS,
    WITHIN_BUDGET,
    Status,
    judge,
    remaining,
    worst_first,
)
from rulegen.model import Policy

__all__ = ["SCHEMA", "Breakdown", "Focus", "Report", "RowJudge", "Thresholds"]

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

    def judge(self, failure_rate: float, left: float) -> Status:
        """within_budget, over_budget (nothing of the budget left), warning or red_line."""
        return judge(
            self.policies(),
            failure_rate,
            left,
            exhausted=self.exhausted,
            within=Status("within_budget", self.actions["within_budget"]),
        )

    @property
    def exhausted(self) -> Status:
        """The status of a spent budget."""
        return Status("over_budget", self.actions["over_budget"])

    def rows(self, min_runs: int) -> RowJudge:
        """The verdicts of breakdown rows under these thresholds."""
        within = Status("within_budget", self.actions["within_budget"])
        return RowJudge.of(self.policies(), self.exhausted, self.budget, min_runs, within)


@dataclass(frozen=True)
class Breakdown:
    """One value of a dimension (a task, a model, a prompt) in the period."""

    value: str
    runs: int
    failures: int
    failure_rate: float
    budget_share: float  # its failures / the period's allowed failures
    meaningful: bool  # enough runs to draw a conclusion
    status: str  # judged by the same thresholds as the whole, or not_enough_runs
    action: str


@dataclass(frozen=True)
class Focus:
    """The rows one status puts first on the list of what to act on."""

    status: str
    action: str
    rows: list[str]  # "task regex parser", "model gpt-4o"


class RowJudge:
    """A row's verdict under the report's thresholds: its own failure rate and the share of
    its own allowance (budget x its runs) left, judged like the whole; fewer runs than
    ``min_runs``, no verdict."""

    def __init__(
        self,
        judge: Callable[[float, float], Status],
        budget: float,
        min_runs: int,
        worst_first: Sequence[str],
    ) -> None:
        self.judge = judge
        self.budget = budget
        self.min_runs = min_runs
        self.worst_first = list(worst_first)

    @classmethod
    def of(
        cls,
        policies: Sequence[Policy],
        exhausted: Status,
        budget: float,
        min_runs: int,
        within: Status = WITHIN_BUDGET,
    ) -> RowJudge:
        """Rows judged by ``policies`` like the whole."""
        return cls(
            lambda rate, left: judge(policies, rate, left, exhausted, within),
            budget,
            min_runs,
            worst_first(policies, exhausted),
        )

    def row(self, value: str, runs: int, failures: int, allowed: float) -> Breakdown:
        """The breakdown row of ``value``; ``allowed``: the period's allowed failures."""
        rate = failures / runs if runs else 0.0
        meaningful = runs >= self.min_runs
        status = (
            self.judge(rate, remaining(failures, runs, self.budget))
            if meaningful
            else NOT_ENOUGH_RUNS
        )
        return Breakdown(
            value=value,
            runs=runs,
            failures=failures,
            failure_rate=rate,
            budget_share=failures / allowed if allowed else 0.0,
            meaningful=meaningful,
            status=status.name,
            action=status.action,
        )

    def act_on(self, breakdowns: Mapping[str, Sequence[Breakdown]]) -> list[Focus]:
        """Rows past a threshold, grouped by status, the most severe first."""
        out = []
        for name in self.worst_first:
            rows = [
                (b, f"{dimension} {b.value}")
                for dimension, items in breakdowns.items()
                for b in items
                if b.status == name
            ]
            if rows:
                out.append(Focus(name, rows[0][0].action, [label for _, label in rows]))
        return out


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
    act_on: list[Focus] = field(default_factory=list)  # the rows to act on first
    notes: list[str] = field(default_factory=list)  # what the figures do not show alone
    severity: list[str] = field(default_factory=list)  # statuses past a threshold, worst first
    autonomy: dict[str, Any] | None = None  # days inside budget and the ladder's grants
    schema: str = SCHEMA

    def to_json(self) -> str:
        """The stable JSON form (schema agent-slo/report/v1)."""
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"
