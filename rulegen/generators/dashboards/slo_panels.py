"""The panels of one SLO: its figures as stat panels, the SLI against its objective over a
chosen window, the budget burning down against its policies, and the burn rate of every
alert window against the rate the alert really fires at."""

from __future__ import annotations

from rulegen import names, promql
from rulegen.generators.dashboards import thresholds
from rulegen.generators.dashboards._grafana import (
    Grid,
    Json,
    fixed_colour,
    panel_link,
    stat,
    target,
    timeseries,
)
from rulegen.model import SLO, schedule
from rulegen.numbers import percent

__all__ = ["WINDOW_VARIABLE", "burn_panel", "links", "row_title", "slo_panels"]

#: The dashboard variable holding the SLI window (one of the windows the rules record).
WINDOW_VARIABLE = "window"
_WINDOW = "${" + WINDOW_VARIABLE + "}"


def row_title(slo: SLO) -> str:
    """``support-success: objective 99% over 30d`` (with the tightening schedule)."""
    return f"{slo.name}: objective {_objectives(slo)} over {slo.period_name}"


def _objectives(slo: SLO) -> str:
    """``99%``, or the schedule: ``80% until 2027-02-01, then 85%``."""
    return schedule(slo.phases, [percent(p.objective) for p in slo.phases])


def links(slo: SLO) -> list[Json]:
    """The SLO's runbook and the dashboard its alerts link to, as the spec names them."""
    out = []
    if slo.runbook_url:
        out.append(panel_link("Runbook", slo.runbook_url))
    if slo.dashboard_url:
        out.append(panel_link("Dashboard linked from the alerts", slo.dashboard_url))
    return out


def slo_panels(slo: SLO, grid: Grid) -> None:
    """The SLO's row: four figures, then SLI, budget and burn rate over time."""
    period = slo.period_name
    grid.row(row_title(slo))
    for panel in _stats(slo):
        grid.add(panel, 6, 4)
    sli = promql.complement(promql.slo_selector(names.rec_error_ratio(_WINDOW), slo))
    failure = thresholds.failure_steps(slo)
    grid.add(
        timeseries(
            f"SLI vs objective over {_WINDOW}",
            [
                target(sli, f"SLI over {_WINDOW}"),
                target(promql.slo_selector(names.REC_OBJECTIVE, slo), "objective"),
            ],
            unit="percentunit",
            description=(
                f"{slo.description} The share of good runs over the chosen window at each "
                "point; dashed lines mark the failure-rate policies."
            ).strip(),
            thresholds=failure,
            threshold_style="dashed" if failure else "off",
            overrides=[_dashed("objective", "blue")],
        ),
        8,
        8,
    )
    grid.add(
        timeseries(
            f"Error budget remaining ({period})",
            [target(promql.budget_remaining(slo), "budget remaining")],
            unit="percentunit",
            description=(
                "1: untouched, 0: spent, below 0 (red): overspent. The bands are the "
                "budget policies of the spec."
            ),
            thresholds=thresholds.budget_steps(slo),
            threshold_style="dashed+area",
            links=links(slo),
        ),
        8,
        8,
    )
    grid.add(burn_panel(slo), 8, 8)


def _stats(slo: SLO) -> list[Json]:
    period = slo.period_name
    allowed = promql.slo_selector(names.REC_PERIOD_ALLOWED, slo)
    bad = promql.slo_selector(names.REC_PERIOD_BAD, slo)
    return [
        stat(
            "Objective",
            promql.slo_selector(names.REC_OBJECTIVE, slo),
            unit="percentunit",
            description=f"The objective in force: {_objectives(slo)}, over {period}.",
        ),
        stat(
            f"SLI over {period}",
            promql.complement(promql.slo_selector(names.rec_error_ratio(period), slo)),
            unit="percentunit",
            description=f"Good runs over all counted runs of the last {period}.",
            thresholds=thresholds.failure_steps(slo),
        ),
        stat(
            f"Error budget remaining ({period})",
            promql.budget_remaining(slo),
            unit="percentunit",
            description="Red: overspent. The other colours are the spec's budget policies.",
            thresholds=thresholds.budget_steps(slo),
            links=links(slo),
        ),
        stat(
            "Bad runs left in budget",
            promql.runs_left(allowed, bad),
            unit="none",
            decimals=0,
            description=(
                f"How many more bad runs the {period} budget allows at today's volume "
                "(allowed bad runs less bad runs, rounded down); negative: overspent."
            ),
            thresholds=thresholds.runs_left_steps(),
        ),
    ]


def _dashed(series: str, colour: str) -> Json:
    return {
        "matcher": {"id": "byName", "options": series},
        "properties": [
            {"id": "color", "value": fixed_colour(colour)},
            {"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}},
        ],
    }


def burn_panel(slo: SLO) -> Json:
    """Burn rate over each tier's long window, with a line where the tier's alert fires.

    A tier that fires at one burn rate throughout gets a threshold line; one whose rate
    follows the tightening schedule gets a dashed series of that rate instead.
    """
    targets: list[Json] = []
    overrides: list[Json] = []
    lines = thresholds.burn_lines(slo)
    for line in lines:
        tier = line.tier
        long_name = promql.window_name(tier.long_window)
        figures = [f"{th.factor}x ({percent(th.ratio)} errors)" for th in tier.thresholds]
        targets.append(
            target(
                promql.burn_rate_over_window(slo, long_name),
                f"{tier.name} ({tier.severity}): {long_name}, fires above "
                f"{schedule(slo.phases, figures)}",
            )
        )
        if line.fixed:
            continue
        legend = f"{tier.name}: threshold"
        targets.append(target(promql.vector(promql.piecewise(slo.phases, line.factors)), legend))
        overrides.append(_dashed(legend, line.colour))
    return timeseries(
        "Burn rate by alert window",
        targets,
        description=(
            "How fast each alert's long window spends the budget (1: exactly the budget "
            "over the period). Lines: where each alert fires, at the rate it really "
            "fires at (an adapted tier fires below its configured factor). Red: pages "
            "(or the fastest tier when none pages), orange: tickets."
        ),
        thresholds=thresholds.burn_steps(lines),
        threshold_style="dashed",
        overrides=overrides,
        links=links(slo),
        min_value=0,
    )
