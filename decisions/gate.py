"""The deploy gate: allow, deny, or cannot decide, from the budget as Prometheus records it.

Exit codes: 0 allow, 1 deny, 3 could not decide (and why). Reads the generated recording
rules (``slo:period_error_budget_remaining:ratio`` and its history for autonomy,
``slo:period_events:increase``), firing alerts (``ALERTS``) and, for a canary, the raw
``agent_outcomes_total`` counters. Every figure is read as of one time, and the objective is
the one in force then.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from decisions.autonomy import Autonomy, autonomy, iso
from decisions.promapi import Prometheus, PrometheusError
from rulegen import burn, names, promql
from rulegen.durations import format_duration
from rulegen.model import SLO
from rulegen.selectors import parse_matcher

__all__ = [
    "ALLOW",
    "DENY",
    "ROUNDED",
    "UNDECIDED",
    "AutonomySpec",
    "CanarySpec",
    "Verdict",
    "decide",
    "fisher_greater",
]

ALLOW: Final = 0
DENY: Final = 1
UNDECIDED: Final = 3  # 2 is a usage error, as for every command
#: How the canary's runs are counted: ``increase()`` extrapolates to the window's edges.
ROUNDED: Final = "counts are increase() over the window, rounded to whole runs"


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


@dataclass(frozen=True)
class AutonomySpec:
    """Days inside the budget to require: those of a grant of the workflow's ladder
    (``grant``, 1-based) and a number of days of one's own (``days``)."""

    grants: Sequence[tuple[int, str]] = ()
    grant: int | None = None
    days: int | None = None


def decide(
    prom: Prometheus,
    slo: SLO,
    min_remaining: float = 0.0,
    required: AutonomySpec | None = None,
    canary: CanarySpec | None = None,
    *,
    at: float | None = None,
) -> Verdict:
    """The gate's verdict for ``slo`` as of Unix time ``at`` (default now)."""
    at = time.time() if at is None else at
    verdict = Verdict()
    try:
        _budget(prom, slo, min_remaining, at, verdict)
        pages = prom.query(promql.pages_firing(slo), at)
        if pages:
            names_ = sorted({p["metric"].get("alertname", "?") for p in pages})
            verdict.deny(f"a page is firing for {slo.name}: {', '.join(names_)}")
        if required and (required.grant or required.days):
            _autonomy(prom, slo, required, at, verdict)
        if canary:
            _canary(prom, slo, canary, at, verdict)
    except PrometheusError as exc:
        verdict.undecided(str(exc))
    if verdict.code == ALLOW:
        verdict.reasons.insert(0, f"{slo.name} is inside its budget and nothing pages")
    return verdict


def _budget(prom: Prometheus, slo: SLO, min_remaining: float, at: float, verdict: Verdict) -> None:
    verdict.figures["objective"] = float(slo.phase_at(at).objective)
    remaining = prom.scalar(promql.budget_remaining(slo), at)
    if remaining is None:
        verdict.undecided(
            f"no {names.REC_PERIOD_REMAINING} for {slo.name}: are the generated rules loaded?"
        )
        return
    events = prom.scalar(promql.period_events(slo), at)
    verdict.figures["period_events"] = round(events or 0)
    if not events:
        verdict.undecided(
            f"no events in the period: nothing to judge ({slo.name} recorded no run in its "
            f"{slo.period_name} period)"
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


def _autonomy(
    prom: Prometheus, slo: SLO, required: AutonomySpec, at: float, verdict: Verdict
) -> None:
    streak = autonomy(prom, slo, required.grants, at, required.days or 0)
    verdict.figures["autonomy"] = streak.to_dict()
    if required.grant:
        days, text = required.grants[required.grant - 1]
        _streak_reaches(streak, days, f"grant {required.grant} ({text})", verdict)
    if required.days:
        wanted = f"{format_duration(required.days * burn.DAY)} inside the budget"
        _streak_reaches(streak, required.days, wanted, verdict)


def _streak_reaches(streak: Autonomy, days: int, wanted: str, verdict: Verdict) -> None:
    """Judge one requirement of ``days`` inside the budget, named ``wanted``."""
    have = f"{streak.slo} has been inside its budget for {streak.duration}"
    need = format_duration(days * burn.DAY)
    ended = streak.ended_by.describe()
    due = streak.due(days)
    if_held = "" if due is None else f"; due {iso(due)} if the budget holds"
    reached = streak.reaches(days)
    if reached:
        verdict.reasons.append(f"{wanted} earned: {have} ({need} needed)")
    elif reached is None:
        verdict.undecided(
            f"cannot tell whether {wanted} is earned: {have} of the {need} needed, and whether "
            f"the budget held before that is unknown ({ended}){if_held}"
        )
    else:
        verdict.deny(
            f"{wanted} not earned: {have} of the {need} needed; the count restarted after "
            f"{ended}{if_held}"
        )


def _canary(prom: Prometheus, slo: SLO, canary: CanarySpec, at: float, verdict: Verdict) -> None:
    sli = slo.sli
    if sli.kind != "outcomes" or sli.bad is None:
        verdict.undecided("canary analysis needs an outcome SLI")
        return
    matcher = canary.matcher
    parsed = parse_matcher(matcher)

    def count(query: str) -> int:
        """Runs counted by ``increase()``, extrapolated to the window: rounded to whole runs."""
        value = prom.scalar(query, at)
        return 0 if value is None else round(value)

    c_bad = count(promql.canary_runs(sli.bad, parsed, canary.window))
    c_all = count(promql.canary_runs(sli.total, parsed, canary.window))
    b_bad = count(promql.baseline_runs(sli.bad, parsed, canary.window))
    b_all = count(promql.baseline_runs(sli.total, parsed, canary.window))
    verdict.figures["canary"] = {"bad": c_bad, "runs": c_all}
    verdict.figures["baseline"] = {"bad": b_bad, "runs": b_all}
    verdict.figures["counts"] = ROUNDED
    if c_all < canary.min_runs or b_all < canary.min_runs:
        verdict.undecided(
            f"not enough data yet: canary {c_all} and baseline {b_all} runs in "
            f"{canary.window}, {canary.min_runs} each needed ({ROUNDED})"
        )
        return
    p = fisher_greater(c_bad, c_all, b_bad, b_all)
    c_rate, b_rate = c_bad / c_all, b_bad / b_all
    burn = c_rate / float(slo.phase_at(at).budget)
    verdict.figures["canary"].update({"rate": c_rate, "burn_rate": burn})
    verdict.figures["baseline"]["rate"] = b_rate
    verdict.figures["p_value"] = p
    if p < canary.alpha:
        verdict.deny(
            f"the canary ({matcher}) is worse: {c_rate:.1%} bad ({c_bad} of {c_all}) against "
            f"{b_rate:.1%} ({b_bad} of {b_all}) (one-sided Fisher exact test p={p:.2g} < "
            f"{canary.alpha}; {ROUNDED})"
        )
    elif burn > canary.max_burn:
        verdict.deny(
            f"the canary ({matcher}) would burn the budget {burn:.1f}x too fast "
            f"(above {canary.max_burn}x)"
        )
    else:
        verdict.reasons.append(
            f"the canary ({matcher}) is not worse: {c_rate:.1%} bad ({c_bad} of {c_all}) "
            f"against {b_rate:.1%} ({b_bad} of {b_all}) (p={p:.2g}; {ROUNDED})"
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
