"""Multiwindow, multi-burn-rate alerting maths (Google SRE Workbook, chapter 5).

burn factor = share of the period's budget × period / long window; the alert fires when the
error ratio over both windows exceeds burn factor × (1 − objective). The default tiers are
table 5-8 plus its ticket rows, stated for a 30-day period; other periods scale the windows
so that each tier still means the same share of the budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Final

__all__ = [
    "DEFAULT_TIERS",
    "HOUR",
    "MINUTE",
    "RAW_WINDOW_MAX",
    "STEP",
    "DefaultTier",
    "Threshold",
    "budget_share",
    "burn_factor",
    "default_short_window",
    "scale_windows",
    "threshold",
]

MINUTE: Final = 60
HOUR: Final = 3600
DAY: Final = 86_400
#: The non-overlapping step on which bad and total events are recorded exactly; longer
#: windows and the period are sums of these steps. Also the interval of that rule group.
STEP: Final = 5 * MINUTE
#: Windows up to this length are computed from the raw counters (they must react within a
#: scrape or two); longer ones are sums of recorded steps.
RAW_WINDOW_MAX: Final = HOUR
#: Minimum short window: fewer samples than this at common scrape intervals is noise.
SHORT_WINDOW_MIN: Final = 5 * MINUTE
REFERENCE_PERIOD: Final = 30 * DAY


@dataclass(frozen=True)
class DefaultTier:
    """A default tier, as stated for a 30-day period."""

    name: str
    severity: str
    budget_percent: Decimal
    long_window: int
    short_window: int


DEFAULT_TIERS: Final = (
    DefaultTier("page_fast", "page", Decimal(2), HOUR, 5 * MINUTE),
    DefaultTier("page_slow", "page", Decimal(5), 6 * HOUR, 30 * MINUTE),
    DefaultTier("ticket_fast", "ticket", Decimal(10), DAY, 2 * HOUR),
    DefaultTier("ticket_slow", "ticket", Decimal(10), 3 * DAY, 6 * HOUR),
)


def _grain(seconds: int) -> int:
    return STEP if seconds > RAW_WINDOW_MAX else MINUTE


def _round_to(seconds: Decimal, grain: int) -> int:
    steps = (seconds / grain).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    return max(grain, int(steps) * grain)


def scale_windows(long_window: int, short_window: int, period: int) -> tuple[int, int]:
    """Scale a 30-day tier's windows to ``period``, on the grid the rules can compute."""
    ratio = Decimal(period) / REFERENCE_PERIOD
    scaled_long = Decimal(long_window) * ratio
    long_s = _round_to(scaled_long, _grain(int(scaled_long)))
    short_s = max(SHORT_WINDOW_MIN, _round_to(Decimal(short_window) * ratio, MINUTE))
    if short_s > RAW_WINDOW_MAX:
        short_s = _round_to(Decimal(short_s), STEP)
    return long_s, short_s


def default_short_window(long_window: int) -> int:
    """The Workbook's short window: a twelfth of the long one, on the computable grid."""
    short = max(SHORT_WINDOW_MIN, _round_to(Decimal(long_window) / 12, MINUTE))
    return _round_to(Decimal(short), STEP) if short > RAW_WINDOW_MAX else short


def burn_factor(budget_percent: Decimal, period: int, long_window: int) -> Decimal:
    """Budget share × period / long window, to three decimals (exact for the 30-day table)."""
    return _three_decimals(budget_percent / 100 * period / long_window)


@dataclass(frozen=True)
class Threshold:
    """The error ratio a tier fires above, for one objective, and the burn factor that is.

    ``factor`` is the tier's own burn factor, or, when ``adapted``, the lower one the capped
    ratio means at this objective (cap / budget: 90% errors at an 80% objective is 4.5x).
    """

    ratio: Decimal
    adapted: bool
    factor: Decimal


def threshold(factor: Decimal, objective: Decimal, cap: Decimal) -> Threshold:
    """Factor × budget, or ``cap`` when that would need 100% errors or more to fire."""
    budget = 1 - objective
    ratio = factor * budget
    if ratio >= 1:
        return Threshold(cap, adapted=True, factor=_three_decimals(cap / budget))
    return Threshold(ratio.normalize(), adapted=False, factor=factor)


def budget_share(
    th: Threshold, objective: Decimal, budget_percent: Decimal, period: int, long_window: int
) -> Decimal:
    """The share of the period's budget that burning at the threshold for a long window spends.

    The tier's ``budget_percent`` / 100, or for an adapted tier the smaller share its lower
    burn factor spends: cap / budget × long window / period (exact, not from the rounded factor).
    """
    if not th.adapted:
        return (budget_percent / 100).normalize()
    return th.ratio / (1 - objective) * long_window / period


def _three_decimals(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.001"), rounding=ROUND_HALF_EVEN).normalize()
