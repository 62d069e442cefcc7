"""Burn-rate maths: factors, window scaling and thresholds that can always fire."""

from __future__ import annotations

from decimal import Decimal

import pytest

from rulegen import burn

DAY = 86_400


@pytest.mark.parametrize(
    ("tier", "factor"),
    [("page_fast", "14.4"), ("page_slow", "6"), ("ticket_fast", "3"), ("ticket_slow", "1")],
)
def test_thirty_day_factors_are_the_workbook_table(tier: str, factor: str) -> None:
    """Over 30 days the default tiers have the SRE Workbook's burn factors 14.4, 6, 3 and 1."""
    default = next(t for t in burn.DEFAULT_TIERS if t.name == tier)
    long_s, short_s = burn.scale_windows(default.long_window, default.short_window, 30 * DAY)
    assert (long_s, short_s) == (default.long_window, default.short_window)
    assert burn.burn_factor(default.budget_percent, 30 * DAY, long_s) == Decimal(factor)


def test_seven_day_windows_scale_and_keep_the_factor() -> None:
    """Over 7 days the 1h window becomes 14m (7/30 of it) and the factor stays 14.4."""
    long_s, short_s = burn.scale_windows(3600, 300, 7 * DAY)
    assert long_s == 14 * 60
    assert short_s == 5 * 60  # never shorter than 5m
    assert burn.burn_factor(Decimal(2), 7 * DAY, long_s) == Decimal("14.4")


def test_windows_over_an_hour_land_on_the_step_grid() -> None:
    """A scaled 6h window over 7 days (84m) rounds to a whole number of 5m steps (85m)."""
    long_s, _ = burn.scale_windows(6 * 3600, 30 * 60, 7 * DAY)
    assert long_s == 85 * 60
    assert long_s % burn.STEP == 0


def test_threshold_is_factor_times_budget() -> None:
    """At 99.9% the 14.4 tier fires above 1.44% errors."""
    th = burn.threshold(Decimal("14.4"), Decimal("0.999"), Decimal("0.9"))
    assert th == burn.Threshold(Decimal("0.0144"), adapted=False, factor=Decimal("14.4"))


def test_threshold_that_needs_more_than_all_runs_is_adapted() -> None:
    """At 80% the 14.4 tier would need 288% errors: it fires at the cap (90%), a 4.5x burn."""
    th = burn.threshold(Decimal("14.4"), Decimal("0.8"), Decimal("0.9"))
    assert th == burn.Threshold(Decimal("0.9"), adapted=True, factor=Decimal("4.5"))


def test_threshold_of_exactly_all_runs_is_adapted() -> None:
    """A threshold of exactly 100% can never be exceeded, so it is adapted too."""
    th = burn.threshold(Decimal("10"), Decimal("0.9"), Decimal("0.9"))
    assert th.adapted
