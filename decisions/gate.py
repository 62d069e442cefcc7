"""The deploy gate: allow, deny, or cannot decide, from the budget as Prometheus records it.

Exit codes: 0 allow, 1 deny, 3 could not decide (and why). Reads the generated recording
rules (``slo:period_error_budget_remaining:ratio``), firing alerts (``ALERTS``) and, for a
canary, the raw ``agent_outcomes_total`` counters.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from typing import Any, Final

from decisions.promapi import Prometheus, PrometheusError
from rulegen import names, promql
from rulegen.model import SLO
from rulegen.selectors import parse_matcher

__all__ = ["ALLOW", "DENY", "UNDECIDED", "CanarySpec", "Verdict", "decide", "fisher_greater"]

ALLOW: Final = 0
DENY: Final = 1
UNDECIDED: Final = 3  # 2 is a usage error, as for every command


@dataclass
class Verdict:
    """The decision and every reason for it."""

    code: int = ALLOW
    reasons: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def deny(self, reason: str) -> None:
        self.code = DENY
        self.reasons.append(reason)

    def undecided(self, reason: str) -> None:
        if self.code != DENY:
            self.code = UNDECIDED
        self.reasons.append(reason)

    @property
    def word(self) -> str:
        return {ALLOW: "allow", DENY: "deny", UNDECIDED: "undecided"}[self.code]

    def to_json(self) -> str:
        return json.dumps(
            {"verdict": self.word, "exit_code": self.code, "reasons": self.reasons,
             "figures": self.figures},
            indent=2,
            sort_keys=True,
        ) + "\n"  # fmt: skip


@dataclass(frozen=True)
class CanarySpec:
    """Compare the series matching ``matcher`` with the rest of the workflow."""

    matcher: str  # e.g. prompt_version="v42"
    window: str = "1h"
    min_runs: int = 50
    alpha: float = 0.01
    max_burn: float = 6.0


def decide(
    prom: Prometheus,
    slo: SLO,
    min_remaining: float = 0.0,
    days_in_budget: int | None = None,
    canary: CanarySpec | None = None,
) -> Verdict:
    """The gate's verdict for ``slo``."""
    verdict = Verdict()
    try:
        _budget(prom, slo, min_remaining, verdict)
        pages = prom.query(promql.pages_firing(slo))
        if pages:
            names_ = sorted({p["metric"].get("alertname", "?") for p in pages})
            verdict.deny(f"a page is firing for {slo.name}: {', '.join(names_)}")
        if days_in_budget:
            _autonomy(prom, slo, days_in_budget, verdict)
        if canary:
            _canary(prom, slo, canary, verdict)
    except PrometheusError as exc:
        verdict.undecided(str(exc))
    if verdict.code == ALLOW and not verdict.reasons:
        verdict.reasons.append(f"{slo.name} is inside its budget and nothing pages")
    return verdict


def _budget(prom: Prometheus, slo: SLO, min_remaining: float, verdict: Verdict) -> None:
    remaining = prom.scalar(promql.budget_remaining(slo))
    if remaining is None:
        verdict.undecided(
            f"no {names.REC_PERIOD_REMAINING} for {slo.name}: are the generated rules loaded?"
        )
        return
    verdict.figures["budget_remaining"] = remaining
    if remaining <= 0:
        verdict.deny(
            f"the {slo.period_name} error budget of {slo.name} is spent ({remaining:.0%} "
            f"remains); policy: {slo.exhausted_action}"
        )
    elif remaining < min_remaining:
        verdict.deny(
            f"only {remaining:.0%} of the {slo.period_name} budget of {slo.name} remains, "
            f"under the {min_remaining:.0%} required"
        )


def _autonomy(prom: Prometheus, slo: SLO, days: int, verdict: Verdict) -> None:
    covered = prom.scalar(promql.days_covered(slo, days))
    lowest = prom.scalar(promql.lowest_remaining(slo, days))
    verdict.figures["days_of_history"] = covered
    verdict.figures[f"lowest_remaining_{days}d"] = lowest
    if covered is None or lowest is None or covered < days - 1 / 24:
        have = 0.0 if covered is None else covered
        verdict.undecided(
            f"only {have:.1f} day(s) of budget history for {slo.name}; {days} needed to "
            "judge autonomy"
        )
    elif lowest <= 0:
        verdict.deny(
            f"{slo.name} left its budget within the last {days} days (lowest {lowest:.0%})"
        )
    else:
        verdict.reasons.append(f"{slo.name} stayed inside its budget for {days} days")


def _canary(prom: Prometheus, slo: SLO, canary: CanarySpec, verdict: Verdict) -> None:
    sli = slo.sli
    if sli.kind != "outcomes" or sli.bad is None:
        verdict.undecided("canary analysis needs an outcome SLI")
        return
    matcher = canary.matcher
    parsed = parse_matcher(matcher)

    def count(query: str) -> float:
        value = prom.scalar(query)
        return 0.0 if value is None else value

    c_bad = count(promql.canary_runs(sli.bad, parsed, canary.window))
    c_all = count(promql.canary_runs(sli.total, parsed, canary.window))
    b_bad = count(promql.baseline_runs(sli.bad, parsed, canary.window))
    b_all = count(promql.baseline_runs(sli.total, parsed, canary.window))
    verdict.figures["canary"] = {"bad": c_bad, "runs": c_all}
    verdict.figures["baseline"] = {"bad": b_bad, "runs": b_all}
    if c_all < canary.min_runs or b_all < canary.min_runs:
        verdict.undecided(
            f"not enough data yet: canary {c_all:.0f} and baseline {b_all:.0f} runs in "
            f"{canary.window}, {canary.min_runs} each needed"
        )
        return
    p = fisher_greater(round(c_bad), round(c_all), round(b_bad), round(b_all))
    c_rate, b_rate = c_bad / c_all, b_bad / b_all
    burn = c_rate / float(slo.phase_at(time.time()).budget)
    verdict.figures["canary"].update({"rate": c_rate, "burn_rate": burn})
    verdict.figures["baseline"]["rate"] = b_rate
    verdict.figures["p_value"] = p
    if p < canary.alpha:
        verdict.deny(
            f"the canary ({matcher}) is worse: {c_rate:.1%} bad against {b_rate:.1%} "
            f"(one-sided Fisher exact test p={p:.2g} < {canary.alpha})"
        )
    elif burn > canary.max_burn:
        verdict.deny(
            f"the canary ({matcher}) would burn the budget {burn:.1f}x too fast "
            f"(above {canary.max_burn}x)"
        )
    else:
        verdict.reasons.append(
            f"the canary ({matcher}) is not worse: {c_rate:.1%} bad against {b_rate:.1%} "
            f"(p={p:.2g})"
        )


def fisher_greater(a_bad: int, a_all: int, b_bad: int, b_all: int) -> float:
    """One-sided Fisher exact test: P(canary has at least ``a_bad`` bad runs | margins).

    The chance, if canary and baseline shared one bad rate, of the canary drawing this many
    bad runs or more: small means the canary is really worse.
    """
    bad = a_bad + b_bad
    total = a_all + b_all
    if total == 0 or bad == 0:
        return 1.0
    denominator = math.comb(total, a_all)
    upper = min(bad, a_all)
    tail = sum(
        math.comb(bad, k) * math.comb(total - bad, a_all - k) for k in range(a_bad, upper + 1)
    )
    return min(1.0, tail / denominator)
