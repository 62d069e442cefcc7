"""Where the boards draw lines and colours: the burn factors the alerts really fire at, the
budget and failure-rate policies, and an overspent budget in red.

A line that a panel draws must be the alert's own threshold, not the tier's configured
factor: an adapted tier (its factor would need 100% errors or more) fires at the capped
error ratio, a lower burn. Lines are computed here from the same thresholds the alerts use
(``BurnTier.thresholds``), as threshold ratio / budget, exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from rulegen.generators.dashboards._grafana import Json, Step, steps
from rulegen.model import SLO, BurnTier, Policy

__all__ = [
    "OVERSPENT",
    "BurnLine",
    "budget_steps",
    "burn_lines",
    "failure_steps",
    "overspent_steps",
    "runs_left_steps",
]

#: The colour of an overspent budget, and of the most urgent burn-rate line.
OVERSPENT: Final = "red"
_URGENT: Final = "red"
_SOON: Final = "orange"
_WATCH: Final = "yellow"
_FINE: Final = "green"


@dataclass(frozen=True)
class BurnLine:
    """Where one tier fires on the burn-rate scale, phase by phase, and its colour."""

    tier: BurnTier
    factors: tuple[Decimal, ...]  # one per phase: threshold ratio / that phase's budget
    colour: str

    @property
    def fixed(self) -> bool:
        """Whether the tier fires at one burn rate whatever the phase (a fixed line)."""
        return len(set(self.factors)) == 1


def burn_lines(slo: SLO) -> list[BurnLine]:
    """Each tier's real firing burn rate: page tiers red, tickets orange; where no tier
    pages, the fastest burn is red all the same, so the worst zone always reads red."""
    factors = [
        tuple(th.ratio / p.budget for p, th in zip(slo.phases, t.thresholds, strict=True))
        for t in slo.tiers
    ]
    pages = any(t.severity == "page" for t in slo.tiers)
    top = max(max(f) for f in factors) if factors else Decimal(0)
    lines = []
    for tier, tier_factors in zip(slo.tiers, factors, strict=True):
        urgent = tier.severity == "page" or (not pages and max(tier_factors) == top)
        lines.append(BurnLine(tier, tier_factors, _URGENT if urgent else _SOON))
    return lines


def burn_steps(lines: Sequence[BurnLine]) -> Json:
    """Threshold steps for the fixed lines; where two tiers share a value, the more urgent
    colour wins."""
    colours: dict[float, str] = {}
    for line in lines:
        if not line.fixed:
            continue
        value = float(line.factors[0])
        if colours.get(value) != _URGENT:
            colours[value] = line.colour
    return steps((_FINE, None), *sorted(((c, v) for v, c in colours.items()), key=_value))


def _value(step: Step) -> float:
    return step[1] or 0.0


def _bands(policies: Sequence[Policy]) -> list[Decimal]:
    return sorted({p.threshold for p in policies if 0 < p.threshold < 1})


def overspent_steps() -> Json:
    """Budget remaining without policies: red below 0, green from 0."""
    return steps((OVERSPENT, None), (_FINE, 0.0))


def budget_steps(slo: SLO) -> Json:
    """Budget remaining: red once overspent (below 0), orange up to the lowest policy
    threshold, yellow between further ones, green above the highest."""
    bands = _bands([p for p in slo.policies if p.kind == "budget_remaining"])
    items: list[Step] = [(OVERSPENT, None), (_SOON if bands else _FINE, 0.0)]
    for i, value in enumerate(bands):
        items.append((_FINE if i == len(bands) - 1 else _WATCH, float(value)))
    return steps(*items)


def failure_steps(slo: SLO) -> Json | None:
    """The SLI (1 − failure rate) against the failure-rate policies: red past the most
    severe, orange between, green above the mildest; ``None`` without such policies."""
    bands = _bands([p for p in slo.policies if p.kind == "failure_rate"])
    if not bands:
        return None
    bounds = sorted(1 - b for b in bands)  # the most severe policy is the lowest SLI
    items: list[Step] = [(_URGENT, None)]
    for i, value in enumerate(bounds):
        items.append((_FINE if i == len(bounds) - 1 else _SOON, float(value)))
    return steps(*items)


def runs_left_steps() -> Json:
    """Bad runs left in the period: red when overspent, orange when the next bad run
    overspends, green otherwise."""
    return steps((OVERSPENT, None), (_SOON, 0.0), (_FINE, 1.0))
