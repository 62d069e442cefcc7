"""Panels read from the exporter's raw counters: runs by outcome, the agent health rates,
the bad-run share by each declared dimension, and the run-duration distribution.

Runs are counted in whole numbers and a new series counts from its first run
(``promql.whole_runs``): agents meet new models, tasks and prompt versions every week,
and at low volume the first runs of a new value are often the ones that matter. The
panels follow the board's dimension variables (``model``, ``task``, ...).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Final

from rulegen import names, promql
from rulegen.generators.dashboards._grafana import (
    Grid,
    Json,
    heatmap,
    steps,
    target,
    timeseries,
)
from rulegen.generators.dashboards.slo_panels import WINDOW_VARIABLE
from rulegen.model import SLO, Workflow
from rulegen.selectors import Matcher, Selector

__all__ = ["INTERVAL", "dimension_variable", "latency_panels", "run_panels"]

#: Grafana's interval between two points of a panel: each point counts the runs since the
#: previous one, so the bars of a range add up to its runs exactly.
INTERVAL: Final = "$__interval"
_WINDOW: Final = "${" + WINDOW_VARIABLE + "}"
#: The four health rates of an agent workflow besides success: name → outcomes counted.
HEALTH_RATES: Final = (
    ("human correction", ("minor_fix", "major_rewrite", "rejected")),
    ("escalation miss", ("escalation_miss",)),
    ("rework / duplicate work", ("duplicate_work",)),
)
#: Board variables that are not dimensions; a dimension of the same name gets a prefix.
_TAKEN: Final = frozenset({"datasource", WINDOW_VARIABLE, names.LABEL_SLO})
QUANTILES: Final = (Decimal("0.5"), Decimal("0.9"), Decimal("0.99"))


def dimension_variable(dimension: str) -> str:
    """The name of the board variable that filters ``dimension``."""
    return f"dimension_{dimension}" if dimension in _TAKEN else dimension


def _filtered(selector: Selector, workflow: Workflow) -> Selector:
    """``selector`` narrowed to the values chosen in the board's dimension variables."""
    matchers = [
        Matcher(d.name, "=~", "${" + dimension_variable(d.name) + "}") for d in workflow.dimensions
    ]
    return Selector(selector.metric, (*selector.matchers, *matchers))


def run_panels(workflow: Workflow, grid: Grid) -> None:
    """Rows of outcome panels and, if the workflow declares dimensions, of breakdowns."""
    every = promql.workflow_outcomes(workflow.name)
    runs = _filtered(every, workflow)
    bad = promql.with_matcher(runs, promql.outcomes_matcher(workflow.bad_outcomes))
    grid.row("Runs and outcomes")
    grid.add(
        timeseries(
            "Runs by outcome",
            [
                target(
                    promql.whole_runs((names.LABEL_OUTCOME,), runs, every, INTERVAL), "{{outcome}}"
                )
            ],
            description=(
                "Whole runs between two points of the graph, stacked by outcome; a new "
                "series counts from its first run."
            ),
            bars=True,
            stacked=True,
            decimals=0,
            min_value=0,
        ),
        12,
        8,
    )
    grid.add(
        timeseries(
            f"Agent health rates over {_WINDOW}",
            list(_health_targets(workflow, runs, bad, every)),
            unit="percentunit",
            description="Shares of all runs over the chosen window, at each point.",
            min_value=0,
        ),
        12,
        8,
    )
    if not workflow.dimensions:
        return
    grid.row("Bad runs by dimension")
    for dim in workflow.dimensions:
        grid.add(
            timeseries(
                f"Bad runs by {dim.name}: share of its runs over {_WINDOW}",
                [
                    target(
                        promql.share_of_whole_runs((dim.name,), bad, runs, every, _WINDOW),
                        "{{" + dim.name + "}}",
                    )
                ],
                unit="percentunit",
                description=(
                    f"Which {dim.name} spends the budget: its bad runs over its runs. A "
                    f"{dim.name} seen for the first time counts from its first run."
                ),
                min_value=0,
            ),
            12,
            8,
        )


def _health_targets(
    workflow: Workflow, runs: Selector, bad: Selector, every: Selector
) -> Iterator[Json]:
    yield target(
        promql.complement(promql.share_of_whole_runs((), bad, runs, every, _WINDOW)), "success"
    )
    for name, outcomes in HEALTH_RATES:
        present = [o for o in outcomes if o in workflow.outcomes]
        if present:
            part = promql.with_matcher(runs, promql.outcomes_matcher(present))
            yield target(promql.share_of_whole_runs((), part, runs, every, _WINDOW), name)


def latency_threshold(slo: SLO) -> float:
    """The latency SLO's threshold in seconds: the ``le`` of its good-runs bucket."""
    assert slo.sli.good is not None
    (le,) = [m.value for m in slo.sli.good.matchers if m.label == "le"]
    return float(le)


def latency_panels(slo: SLO, workflow: Workflow, grid: Grid) -> None:
    """How long runs take: the distribution over time, and quantiles against the SLO's
    threshold (a run slower than the threshold is a bad run of the SLO)."""
    bucket = Selector(f"{names.DURATION_METRIC}_bucket", (promql.workflow_matcher(workflow.name),))
    chosen = _filtered(bucket, workflow)
    threshold = latency_threshold(slo)
    grid.add(
        heatmap(
            "Run duration distribution",
            [target(promql.whole_runs(("le",), chosen, bucket, INTERVAL), "{{le}}")],
            unit="s",
            description="Runs between two points of the graph, by duration bucket.",
        ),
        12,
        8,
    )
    grid.add(
        timeseries(
            f"Run duration quantiles over {_WINDOW}",
            list(_quantile_targets(chosen, bucket, QUANTILES)),
            unit="s",
            description=(
                f"Quantiles of the runs over the chosen window; the red line is the SLO's "
                f"threshold ({threshold:g}s)."
            ),
            thresholds=steps(("green", None), ("red", threshold)),
            threshold_style="dashed",
            min_value=0,
        ),
        12,
        8,
    )


def _quantile_targets(
    chosen: Selector, bucket: Selector, quantiles: Sequence[Decimal]
) -> Iterator[Json]:
    buckets = promql.whole_runs(("le",), chosen, bucket, _WINDOW)
    for q in quantiles:
        yield target(promql.quantile(q, buckets), f"p{promql.number(q * 100)}")
