"""Traffic search: steady events per minute whose error ratio makes a chosen set of alerts
fire. With a constant error ratio every window sees the same ratio, so an alert fires
exactly when the ratio is past its threshold; ratios are found exactly, with fractions,
well away from every threshold."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

from rulegen import burn
from rulegen.generators.unittests.errors import UnitTestError
from rulegen.model import SLO, BurnTier, Policy

__all__ = [
    "Traffic",
    "burn_bands",
    "exhausting_traffic",
    "healthy_traffic",
    "policy_band",
    "policy_fires",
    "traffic_between",
    "traffic_within_budget",
]


@dataclass(frozen=True)
class Traffic:
    """Events per minute: ``total``, of which ``bad`` are bad."""

    total: int
    bad: int

    @property
    def ratio(self) -> Fraction:
        """The exact error ratio."""
        return Fraction(self.bad, self.total)

    @property
    def value(self) -> float:
        """The error ratio as Prometheus computes it, in floating point."""
        return float(self.bad) / float(self.total)


def traffic_between(low: Fraction, high: Fraction, min_bad_per_minute: int) -> Traffic:
    """Integer traffic whose error ratio lies well inside (``low``, ``high``)."""
    target = (low + high) / 2
    for total in (100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000):
        bad = round(target * total)
        if bad < max(1, min_bad_per_minute):
            continue
        ratio = Fraction(bad, total)
        margin = (high - low) / 8
        if low + margin < ratio < high - margin:
            return Traffic(total, bad)
    raise UnitTestError(f"no traffic with an error ratio between {float(low)} and {float(high)}")


def traffic_within_budget(budget: Fraction) -> Traffic:
    """Traffic that spends well under ``budget`` (policies aside)."""
    return traffic_between(Fraction(0), budget / 2, 1)


def healthy_traffic(slo: SLO, budget: Fraction) -> Traffic:
    """Traffic that fires no alert of ``slo``, its policies included."""
    ceiling = budget / 2
    for p in slo.policies:
        if p.kind == "failure_rate":
            ceiling = min(ceiling, Fraction(p.threshold) / 2)
        else:
            ceiling = min(ceiling, budget * (1 - Fraction(p.threshold)) / 2)
    if ceiling <= 0:
        raise UnitTestError("the policies leave no healthy error ratio")
    return traffic_between(ceiling / 4, ceiling, 1)


def burn_bands(slo: SLO, within_minutes: int) -> Iterator[tuple[Traffic, list[BurnTier]]]:
    """For each band between ``slo``'s burn thresholds, lowest first, traffic inside it and
    the tiers it fires, with enough bad events within ``within_minutes``."""
    min_bad = max((t.min_bad_events for t in slo.tiers), default=0)
    # Enough bad events within the shortest long window to pass the low-traffic guard.
    shortest = min((t.long_window for t in slo.tiers), default=burn.HOUR) // 60
    floor = -(-min_bad // max(1, min(shortest, within_minutes))) + 1
    thresholds = sorted({Fraction(t.thresholds[0].ratio) for t in slo.tiers})
    for low, high in itertools.pairwise([*thresholds, Fraction(1)]):
        traffic = traffic_between(low, high, floor)
        yield traffic, [t for t in slo.tiers if Fraction(t.thresholds[0].ratio) < traffic.ratio]


def exhausting_traffic(budget: Fraction) -> Traffic:
    """Traffic that spends ``budget`` faster than it has it: remaining = 1 - ratio/budget < 0."""
    # Twice the budget, or as close to it as ratios allow.
    low, high = budget * Fraction(3, 2), min(budget * 3, Fraction(1))
    if low >= high:
        low = (budget + 1) / 2
    return traffic_between(low, high, 1)


def policy_band(policy: Policy, budget: Fraction) -> tuple[Fraction, Fraction] | None:
    """Error ratios for which ``policy`` holds, or ``None`` if none can occur."""
    t = Fraction(policy.threshold)
    u = Fraction(policy.until) if policy.until is not None else None
    if policy.kind == "failure_rate":
        low, high = t, (u if u is not None else Fraction(1))
    else:
        # remaining = 1 - ratio / budget, in (until, threshold)
        low = budget * (1 - t)
        high = budget * (1 - u) if u is not None else Fraction(1)
    low, high = max(low, Fraction(0)), min(high, Fraction(1))
    return (low, high) if low < high else None


def policy_fires(policy: Policy, value: float) -> bool:
    """Whether ``policy`` fires at ``value`` (the error ratio, or the budget remaining)."""
    t, u = float(policy.threshold), policy.until
    if policy.kind == "failure_rate":
        return value > t and not (u is not None and value > float(u))
    return value < t and not (u is not None and value < float(u))
