"""Panels over many SLOs at once, one series each: the overview's and the summary row of a
workflow's board, filtered by the board's variables."""

from __future__ import annotations

from rulegen import promql
from rulegen.generators.dashboards import thresholds
from rulegen.generators.dashboards._grafana import Json, target, timeseries
from rulegen.selectors import Matcher

__all__ = ["budgets", "burn_rates"]


def budgets(title: str, matchers: tuple[Matcher, ...]) -> Json:
    """The budget remaining of each SLO over time; red below 0."""
    return timeseries(
        title,
        [target(promql.budget_remaining_by_slo(*matchers), "{{slo}}")],
        unit="percentunit",
        description="1: untouched, 0: spent, below 0 (red): overspent.",
        thresholds=thresholds.overspent_steps(),
        threshold_style="dashed+area",
    )


def burn_rates(title: str, matchers: tuple[Matcher, ...]) -> Json:
    """The burn rate of each SLO over the last hour."""
    return timeseries(
        title,
        [target(promql.burn_rate_by_slo(*matchers), "{{slo}}")],
        description="1: spending exactly the budget over the period.",
        min_value=0,
    )
