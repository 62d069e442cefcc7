"""What is measured at T on the backfilled TSDB: each rule set's budget against the truth,
and the cost of one evaluation cycle, every rule timed through the HTTP API."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

from .backfill import group_interval
from .data import OBJECTIVE, PERIOD, Truth, Workflow
from .prom import Client
from .rulesets import RuleSet

__all__ = ["Accuracy", "RuleCost", "accuracy", "time_exprs", "time_rules"]

BUDGET = 1 - OBJECTIVE


@dataclass(frozen=True)
class Accuracy:
    """One rule set's period figures for one workflow's SLO, beside the truth."""

    ruleset: str
    flow: Workflow
    budget: float | None  # None: no result at all
    at: int  # ms: the evaluation the figures come from (T when there is none)
    bad: float | None
    total: float | None
    truth_bad: int
    truth_total: int

    @property
    def truth_budget(self) -> float:
        """The true budget remaining over the 30 days ending at ``at`` (1 = untouched)."""
        ratio = self.truth_bad / self.truth_total if self.truth_total else 0.0
        return 1 - ratio / BUDGET

    @property
    def usable(self) -> bool:
        """A number came back, not NaN and not nothing."""
        return self.budget is not None and not math.isnan(self.budget)

    @property
    def error_pp(self) -> float | None:
        """|budget remaining − truth| in percentage points of the budget; None if unusable."""
        if self.budget is None or math.isnan(self.budget):
            return None
        return abs(self.budget - self.truth_budget) * 100


def accuracy(
    client: Client, ruleset: RuleSet, flows: Sequence[Workflow], truths: dict[str, Truth], end: int
) -> list[Accuracy]:
    """The rule set's budget of every SLO at T, against the truth of the same 30 days."""
    out = []
    for flow in flows:
        queries = ruleset.period(flow)
        budget = client.scalar(queries.budget, end)
        stamp = client.scalar(queries.stamp, end)
        at = end if stamp is None else round(stamp * 1000)
        bad = client.scalar(queries.bad, end) if queries.bad else None
        total = client.scalar(queries.total, end) if queries.total else None
        truth_bad, truth_total = truths[flow.name].window(at - PERIOD, at)
        out.append(Accuracy(ruleset.key, flow, budget, at, bad, total, truth_bad, truth_total))
    return out


@dataclass
class RuleCost:
    """One rule's expression evaluated at T, repeatedly."""

    ruleset: str
    group: str
    interval: int  # ms
    name: str  # record or alert name
    expr: str
    walls: list[float]  # s, client side, HTTP and JSON included
    execs: list[float]  # s, Prometheus's execTotalTime
    samples: int = 0  # Prometheus's totalQueryableSamples

    @property
    def wall(self) -> float:
        """Median wall time (s)."""
        return statistics.median(self.walls)

    @property
    def exec(self) -> float:
        """Median execution time in Prometheus (s)."""
        return statistics.median(self.execs)

    @property
    def per_hour(self) -> float:
        """Evaluations an hour in Prometheus (the group's interval)."""
        return 3_600_000 / self.interval


def rule_costs(ruleset: RuleSet) -> list[RuleCost]:
    """Every rule of the rule set, records and alerts alike, untimed."""
    return [
        RuleCost(
            ruleset.key,
            group["name"],
            group_interval(group),
            rule.get("record") or rule["alert"],
            rule["expr"],
            [],
            [],
        )
        for _, group in ruleset.groups()
        for rule in group["rules"]
    ]


def time_rules(
    client: Client, rulesets: Sequence[RuleSet], end: int, repeat: int, log: object = None
) -> dict[str, list[RuleCost]]:
    """Every rule of every rule set timed at T: one warm-up round, then ``repeat`` rounds.

    Each round evaluates the rule sets in turn, starting with a different one each round.
    """
    costs = {rs.key: rule_costs(rs) for rs in rulesets}
    keys = [rs.key for rs in rulesets]
    for round_ in range(repeat + 1):
        shift = round_ % len(keys)
        for key in keys[shift:] + keys[:shift]:
            for cost in costs[key]:
                started = time.perf_counter()
                data = client.query(cost.expr, end, stats=True)
                wall = time.perf_counter() - started
                if round_ == 0:
                    continue  # warm-up
                stats = data.get("stats", {})
                cost.walls.append(wall)
                cost.execs.append(float(stats.get("timings", {}).get("execTotalTime", wall)))
                cost.samples = int(stats.get("samples", {}).get("totalQueryableSamples", 0))
        if callable(log):
            log(f"timing round {round_} of {repeat} done" + (" (warm-up)" if round_ == 0 else ""))
    return costs


def time_exprs(client: Client, exprs: Sequence[str], end: int, repeat: int) -> float:
    """Prometheus's time (s) to evaluate all of ``exprs`` once at T: median of ``repeat``."""
    for expr in exprs:
        client.query(expr, end)  # warm-up
    rounds = []
    for _ in range(repeat):
        total = 0.0
        for expr in exprs:
            stats = client.query(expr, end, stats=True).get("stats", {})
            total += float(stats.get("timings", {}).get("execTotalTime", 0.0))
        rounds.append(total)
    return statistics.median(rounds)
