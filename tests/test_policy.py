"""The one status engine: the precedence of the generated alerts, for the report from a
review log and the report from Prometheus alike."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from decisions.policy import WITHIN_BUDGET, Status, judge, review_order
from decisions.report import Thresholds
from rulegen.model import Policy

EXHAUSTED = Status("exhausted", "freeze")


def _policy(name: str, kind: Literal["failure_rate", "budget_remaining"], threshold: str) -> Policy:
    return Policy(name, kind, Decimal(threshold), None, f"do {name}", "ticket")


POLICIES = (
    _policy("warning", "failure_rate", "0.3"),
    _policy("red_line", "failure_rate", "0.5"),
    _policy("low", "budget_remaining", "0.5"),
    _policy("very_low", "budget_remaining", "0.25"),
)


def test_failure_rate_thresholds_come_first_the_highest_passed_wins() -> None:
    assert judge(POLICIES, 0.51, -2.0, EXHAUSTED) == Status("red_line", "do red_line")
    assert judge(POLICIES, 0.31, -1.0, EXHAUSTED) == Status("warning", "do warning")
    assert judge(POLICIES, 0.30, 0.9, EXHAUSTED) == WITHIN_BUDGET  # passed means above


def test_then_a_spent_budget_then_the_lowest_remaining_threshold_passed() -> None:
    assert judge(POLICIES, 0.2, 0.0, EXHAUSTED) == EXHAUSTED
    assert judge(POLICIES, 0.2, 0.2, EXHAUSTED) == Status("very_low", "do very_low")
    assert judge(POLICIES, 0.2, 0.4, EXHAUSTED) == Status("low", "do low")
    assert judge(POLICIES, 0.2, 0.5, EXHAUSTED) == WITHIN_BUDGET  # under means below


def test_review_log_thresholds_are_policies_of_the_same_engine() -> None:
    thresholds = Thresholds(budget=0.2, warning=0.3, red_line=0.5)
    assert [(p.name, p.threshold, p.until) for p in thresholds.policies()] == [
        ("warning", Decimal("0.3"), Decimal("0.5")),
        ("red_line", Decimal("0.5"), None),
    ]
    assert thresholds.judge(0.6, -2.0).name == "red_line"
    assert thresholds.judge(0.25, -0.25).name == "over_budget"
    assert thresholds.judge(0.1, 0.5).name == "within_budget"
    assert Thresholds(warning=None, red_line=None).judge(0.9, -3.5).name == "over_budget"


def test_the_review_order_by_hand() -> None:
    """Past a threshold first (the least budget left first, an overspent one before a
    warning), then within budget with an alert firing, then within budget by budget left,
    then no verdict (no data, too few runs, no rules) by name."""
    slos = [
        ("quiet", "within_budget", 0.4, False),
        ("unloaded", "rules_not_loaded", None, False),
        ("burning", "within_budget", 0.9, True),
        ("warned", "warning", 0.3, False),
        ("few", "not_enough_runs", 1.0, False),
        ("spent", "exhausted", -0.5, True),
        ("calm", "within_budget", 0.8, False),
        ("empty", "no_data", 1.0, False),
    ]
    ordered = sorted(slos, key=lambda s: review_order(s[1], s[2], s[0], s[3]))
    assert [s[0] for s in ordered] == [
        "spent", "warned", "burning", "quiet", "calm", "empty", "few", "unloaded",
    ]  # fmt: skip
