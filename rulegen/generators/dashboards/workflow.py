"""The board of one workflow: every SLO of it side by side, then a row per SLO, then the
runs behind them (outcomes, health rates, dimensions)."""

from __future__ import annotations

from rulegen import burn, names, promql
from rulegen.generators.dashboards import many_slos, run_panels, slo_panels
from rulegen.generators.dashboards._grafana import (
    Grid,
    Json,
    board,
    custom_variable,
    dashboard_link,
    query_variable,
)
from rulegen.model import Workflow
from rulegen.selectors import Matcher, Selector

__all__ = ["OVERVIEW_UID", "alert_annotations", "board_uid", "detail_dashboard", "windows"]

OVERVIEW_UID = "agent-slo-overview"
_SLO_VARIABLE = "${" + names.LABEL_SLO + "}"


def board_uid(workflow: str) -> str:
    """The workflow board's uid: ``agent-slo-<workflow>``, cut to Grafana's 40 characters."""
    return f"agent-slo-{workflow}"[:40]


def windows(workflow: Workflow) -> list[str]:
    """The windows every SLO of the workflow records an error ratio for, shortest first."""
    common = set.intersection(*(set(slo.windows()) for slo in workflow.slos))
    return [promql.window_name(w) for w in sorted(common)]


def alert_annotations(*matchers: Matcher) -> Json:
    """Firing alerts as annotations on every time panel."""
    return {
        "name": "Alerts",
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "enable": True,
        "iconColor": "red",
        "expr": promql.firing_alerts(*matchers),
        "titleFormat": "{{alertname}}",
        "textFormat": "{{slo}} {{severity}} {{long_window}}",
        "step": "60s",
    }


def _variables(workflow: Workflow) -> list[Json]:
    choices = windows(workflow)
    wf = promql.workflow_matcher(workflow.name)
    out = [
        custom_variable(
            slo_panels.WINDOW_VARIABLE,
            "SLI window",
            choices,
            promql.window_name(burn.HOUR),
            description="The window of the SLI panels and the rates (windows the rules record).",
        ),
        query_variable(
            names.LABEL_SLO,
            "SLO",
            f"label_values({Selector(names.REC_OBJECTIVE, (wf,)).render()}, {names.LABEL_SLO})",
            description="The SLOs in the summary panels and the alert annotations.",
        ),
    ]
    outcomes = promql.workflow_outcomes(workflow.name).render()
    for dim in workflow.dimensions:
        out.append(
            query_variable(
                run_panels.dimension_variable(dim.name),
                dim.name,
                f"label_values({outcomes}, {dim.name})",
                description=f"The {dim.name} values in the run panels.",
            )
        )
    return out


def _links(workflow: Workflow) -> list[Json]:
    out = [
        dashboard_link(
            "agent-slo: overview",
            f"/d/{OVERVIEW_UID}?${{datasource:queryparam}}",
            tooltip="Every SLO of every workflow",
            internal=True,
        )
    ]
    runbooks = sorted({s.runbook_url for s in workflow.slos if s.runbook_url})
    for url in runbooks:
        who = [s.name for s in workflow.slos if s.runbook_url == url]
        title = "Runbook" if len(runbooks) == 1 else f"Runbook: {', '.join(who)}"
        out.append(dashboard_link(title, url, tooltip=url))
    return out


def _summary(workflow: Workflow, grid: Grid) -> None:
    chosen = (promql.workflow_matcher(workflow.name), Matcher(names.LABEL_SLO, "=~", _SLO_VARIABLE))
    grid.row(f"Every SLO of {workflow.name}")
    grid.add(many_slos.budgets("Error budget remaining, every SLO", chosen), 12, 7)
    grid.add(many_slos.burn_rates("Burn rate over the last hour, every SLO", chosen), 12, 7)


def detail_dashboard(workflow: Workflow) -> Json:
    """One workflow: a summary, each SLO in a row of its own, then the runs behind them."""
    grid = Grid()
    _summary(workflow, grid)
    for slo in workflow.slos:
        slo_panels.slo_panels(slo, grid)
        if slo.sli.kind == "latency":
            run_panels.latency_panels(slo, workflow, grid)
    if any(slo.sli.kind in ("outcomes", "latency") for slo in workflow.slos):
        run_panels.run_panels(workflow, grid)
    return board(
        board_uid(workflow.name),
        f"agent-slo: {workflow.name}",
        grid,
        description=workflow.description,
        variables=_variables(workflow),
        annotations=[
            alert_annotations(
                promql.workflow_matcher(workflow.name),
                Matcher(names.LABEL_SLO, "=~", _SLO_VARIABLE),
            )
        ],
        links=_links(workflow),
    )
