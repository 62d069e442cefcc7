"""The overview: one figure per workflow linking to its board, every SLO in a table worst
budget first, and the budgets and burn rates side by side; filtered by workflow and SLO."""

from __future__ import annotations

from rulegen import names, promql
from rulegen.generators.dashboards import many_slos, thresholds
from rulegen.generators.dashboards._grafana import (
    Grid,
    Json,
    bargauge,
    board,
    dashboard_link,
    query_variable,
    stat,
    target,
)
from rulegen.generators.dashboards.workflow import OVERVIEW_UID, alert_annotations, board_uid
from rulegen.model import Workflow
from rulegen.selectors import Matcher

__all__ = ["overview_dashboard"]

_CHOSEN = (
    Matcher(names.LABEL_WORKFLOW, "=~", "${workflow}"),
    Matcher(names.LABEL_SLO, "=~", "${slo}"),
)
_BY = (names.LABEL_SLO, names.LABEL_WORKFLOW)
_BUDGET = thresholds.overspent_steps()


def _board_url(workflow: str) -> str:
    return f"/d/{board_uid(workflow)}?${{datasource:queryparam}}"


def _variables() -> list[Json]:
    objective = names.REC_OBJECTIVE
    return [
        query_variable(
            names.LABEL_WORKFLOW,
            "Workflow",
            f"label_values({objective}, {names.LABEL_WORKFLOW})",
            description="The workflows shown in the table and the graphs.",
        ),
        query_variable(
            names.LABEL_SLO,
            "SLO",
            f'label_values({objective}{{{names.LABEL_WORKFLOW}=~"${{workflow}}"}}, '
            f"{names.LABEL_SLO})",
            description="The SLOs shown in the table and the graphs.",
        ),
    ]


def _workflow_stats(workflows: list[Workflow], grid: Grid) -> None:
    grid.row("Workflows: the lowest budget remaining of each")
    for wf in sorted(workflows, key=lambda w: w.name):
        grid.add(
            {
                **stat(
                    wf.name,
                    promql.min_all(
                        promql.budget_remaining_by_slo(promql.workflow_matcher(wf.name))
                    ),
                    unit="percentunit",
                    description=(
                        f"{wf.description} The least budget left among its SLOs; red: "
                        "overspent. Click the title for its board."
                    ).strip(),
                    thresholds=_BUDGET,
                ),
                "links": [{"title": f"agent-slo: {wf.name}", "url": _board_url(wf.name)}],
            },
            4,
            4,
        )


def _table(grid: Grid) -> None:
    queries = [
        ("objective", promql.objective_by_slo(*_CHOSEN)),
        ("SLI over the period", promql.sli_over_period_by_slo(*_CHOSEN)),
        ("budget remaining", promql.budget_remaining_by_slo(*_CHOSEN)),
        ("bad runs left in budget", promql.runs_left_by_slo(*_CHOSEN)),
        ("burn rate (1h)", promql.burn_rate_by_slo(*_CHOSEN)),
        ("alerts firing", promql.alerts_firing_by_slo(*_CHOSEN)),
    ]
    targets = [target(promql.sum_by(_BY, expr), instant=True) for _, expr in queries]
    renames = {f"Value #{chr(ord('A') + i)}": name for i, (name, _) in enumerate(queries)}
    table: Json = {
        "type": "table",
        "title": "Every SLO, worst budget first",
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "targets": [{**t, "refId": chr(ord("A") + i)} for i, t in enumerate(targets)],
        "transformations": [
            {"id": "merge", "options": {}},
            {
                "id": "organize",
                "options": {"excludeByName": {"Time": True}, "renameByName": renames},
            },
            {"id": "sortBy", "options": {"sort": [{"field": "budget remaining", "desc": False}]}},
        ],
        "fieldConfig": {
            "defaults": {"unit": "short"},
            "overrides": [
                _column("objective", unit="percentunit"),
                _column("SLI over the period", unit="percentunit"),
                _column("budget remaining", unit="percentunit", colours=_BUDGET),
                _column(
                    "bad runs left in budget",
                    unit="none",
                    colours=thresholds.runs_left_steps(),
                ),
            ],
        },
        "options": {"showHeader": True, "cellHeight": "sm"},
    }
    grid.row("Every SLO")
    grid.add(table, 24, 10)


def _column(name: str, *, unit: str, colours: Json | None = None) -> Json:
    properties: list[Json] = [{"id": "unit", "value": unit}]
    if colours is not None:
        properties += [
            {"id": "thresholds", "value": colours},
            {"id": "custom.cellOptions", "value": {"type": "color-background"}},
        ]
    return {"matcher": {"id": "byName", "options": name}, "properties": properties}


def _graphs(grid: Grid) -> None:
    grid.row("Budgets and burn rates")
    grid.add(
        bargauge(
            "Error budget remaining",
            [target(promql.budget_remaining_by_slo(*_CHOSEN), "{{slo}}")],
            unit="percentunit",
            description="Red: overspent.",
            thresholds=_BUDGET,
        ),
        12,
        10,
    )
    grid.add(many_slos.burn_rates("Burn rate over the last hour", _CHOSEN), 12, 10)


def overview_dashboard(workflows: list[Workflow]) -> Json:
    """Every SLO in one place, worst budget first, with a way into each workflow."""
    grid = Grid()
    _workflow_stats(workflows, grid)
    _table(grid)
    _graphs(grid)
    count = sum(len(w.slos) for w in workflows)
    return board(
        OVERVIEW_UID,
        "agent-slo: overview",
        grid,
        description=f"{count} SLO(s) in {len(workflows)} workflow(s)",
        variables=_variables(),
        annotations=[alert_annotations(*_CHOSEN)],
        links=[
            dashboard_link(
                f"agent-slo: {wf.name}",
                _board_url(wf.name),
                tooltip=wf.description,
                internal=True,
            )
            for wf in sorted(workflows, key=lambda w: w.name)
        ],
    )
