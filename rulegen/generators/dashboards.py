"""Grafana dashboards as data: an overview of every SLO and a detail board per workflow.

Built as plain dicts and serialised as sorted, indented JSON, so output is byte-stable. Every
query reads the recorded series of the generated rules or the exporter's raw counters.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from rulegen import names, promql
from rulegen.model import SLO, Workflow, schedule
from rulegen.numbers import percent
from rulegen.selectors import escape, slo_selector

__all__ = ["DATASOURCE", "detail_dashboard", "overview_dashboard", "panel_queries"]

DATASOURCE: Final = {"type": "prometheus", "uid": "${datasource}"}
SCHEMA_VERSION: Final = 39
#: The four health rates of an agent workflow: name → outcomes counted.
HEALTH_RATES: Final = (
    ("human correction", ("minor_fix", "major_rewrite", "rejected")),
    ("escalation miss", ("escalation_miss",)),
    ("rework / duplicate work", ("duplicate_work",)),
)


def _datasource_variable() -> dict[str, Any]:
    return {
        "name": "datasource",
        "label": "Prometheus",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "hide": 0,
    }


def _target(expr: str, legend: str = "", ref: str = "A", instant: bool = False) -> dict[str, Any]:
    target: dict[str, Any] = {
        "datasource": DATASOURCE,
        "expr": expr,
        "legendFormat": legend or "__auto",
        "refId": ref,
    }
    if instant:
        target.update({"instant": True, "range": False, "format": "table"})
    return target


def _panel(
    title: str,
    kind: str,
    targets: list[dict[str, Any]],
    grid: tuple[int, int, int, int],
    unit: str = "short",
    **extra: Any,
) -> dict[str, Any]:
    x, y, w, h = grid
    panel: dict[str, Any] = {
        "title": title,
        "type": kind,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "targets": targets,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
    }
    panel.update(extra)
    return panel


def _board(uid: str, title: str, panels: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    for i, panel in enumerate(panels, start=1):
        panel["id"] = i
    board: dict[str, Any] = {
        "uid": uid,
        "title": title,
        "tags": ["agent-slo"],
        "timezone": "utc",
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": False,
        "refresh": "1m",
        "time": {"from": "now-7d", "to": "now"},
        "templating": {"list": [_datasource_variable(), *extra.pop("variables", [])]},
        "annotations": {"list": extra.pop("annotations", [])},
        "panels": panels,
    }
    board.update(extra)
    return board


def overview_dashboard(workflows: list[Workflow]) -> dict[str, Any]:
    """Every SLO in one table, worst budget first, with the figures behind it."""
    by_slo = '{slo!=""}'
    queries = [
        ("objective", f"{names.REC_OBJECTIVE}{by_slo}"),
        (
            "SLI over the period",
            f"1 - {names.REC_BURN_PERIOD}{by_slo} * on(slo) {names.REC_ERROR_BUDGET}{by_slo}",
        ),
        ("budget remaining", f"{names.REC_PERIOD_REMAINING}{by_slo}"),
        (
            "runs left in budget",
            f"{names.REC_PERIOD_ALLOWED}{by_slo} - on(slo) {names.REC_PERIOD_BAD}{by_slo}",
        ),
        ("burn rate (1h)", f"{names.REC_BURN_CURRENT}{by_slo}"),
        (
            "alerts firing",
            'count by (slo) (ALERTS{alertstate="firing",slo!=""}) or on(slo) '
            f"0 * {names.REC_OBJECTIVE}{by_slo}",
        ),
    ]
    targets = [
        _target(f"sum by (slo) ({expr})", ref=chr(ord("A") + i), instant=True)
        for i, (_, expr) in enumerate(queries)
    ]
    renames = {f"Value #{chr(ord('A') + i)}": name for i, (name, _) in enumerate(queries)}
    table = _panel(
        "Every SLO, worst budget first",
        "table",
        targets,
        (0, 0, 24, 12),
        transformations=[
            {"id": "merge", "options": {}},
            {
                "id": "organize",
                "options": {"excludeByName": {"Time": True}, "renameByName": renames},
            },
            {"id": "sortBy", "options": {"sort": [{"field": "budget remaining", "desc": False}]}},
        ],
        fieldConfig={
            "defaults": {"unit": "short"},
            "overrides": [
                _unit("objective", "percentunit"),
                _unit("SLI over the period", "percentunit"),
                _unit("budget remaining", "percentunit"),
            ],
        },
    )
    remaining = _panel(
        "Error budget remaining",
        "bargauge",
        [_target(f"{names.REC_PERIOD_REMAINING}{by_slo}", "{{slo}}")],
        (0, 12, 12, 10),
        "percentunit",
        options={"orientation": "horizontal", "reduceOptions": {"calcs": ["lastNotNull"]}},
    )
    burn = _panel(
        "Burn rate over the last hour",
        "timeseries",
        [_target(f"{names.REC_BURN_CURRENT}{by_slo}", "{{slo}}")],
        (12, 12, 12, 10),
    )
    count = sum(len(w.slos) for w in workflows)
    return _board(
        "agent-slo-overview",
        "agent-slo: overview",
        [table, remaining, burn],
        description=f"{count} SLO(s) in {len(workflows)} workflow(s)",
        annotations=[_alert_annotations('slo!=""')],
    )


def _unit(field: str, unit: str) -> dict[str, Any]:
    return {
        "matcher": {"id": "byName", "options": field},
        "properties": [{"id": "unit", "value": unit}],
    }


def _alert_annotations(matcher: str) -> dict[str, Any]:
    return {
        "name": "Alerts",
        "datasource": DATASOURCE,
        "enable": True,
        "iconColor": "red",
        "expr": f'ALERTS{{alertstate="firing",{matcher}}}',
        "titleFormat": "{{alertname}}",
        "textFormat": "{{slo}} {{severity}} {{long_window}}",
        "step": "60s",
    }


def detail_dashboard(workflow: Workflow) -> dict[str, Any]:
    """One workflow: each SLO's budget and burn, outcomes, health rates, dimensions."""
    panels: list[dict[str, Any]] = []
    y = 0
    for slo in workflow.slos:
        panels.extend(_slo_panels(slo, y))
        y += 9
    wf = f'{names.LABEL_WORKFLOW}="{escape(workflow.name)}"'
    if any(slo.sli.kind in ("outcomes", "latency") for slo in workflow.slos):
        panels.extend(_outcome_panels(workflow, wf, y))
    return _board(
        f"agent-slo-{workflow.name}"[:40],
        f"agent-slo: {workflow.name}",
        panels,
        description=workflow.description,
        annotations=[_alert_annotations(wf)],
    )


def _outcome_panels(workflow: Workflow, wf: str, y: int) -> list[dict[str, Any]]:
    """Runs by outcome, the health rates and a breakdown per dimension, from raw counters."""
    panels: list[dict[str, Any]] = []
    raw = f"{names.OUTCOMES_METRIC}{{{wf}}}"
    panels.append(
        _panel(
            "Runs by outcome",
            "timeseries",
            [_target(f"sum by (outcome) (increase({raw}[$__rate_interval]))", "{{outcome}}")],
            (0, y, 12, 8),
            options={"legend": {"displayMode": "table", "placement": "right"}},
            fieldConfig={
                "defaults": {"unit": "short", "custom": {"stacking": {"mode": "normal"}}},
                "overrides": [],
            },
        )
    )
    panels.append(
        _panel(
            "Agent health rates (last hour)",
            "timeseries",
            list(_health_targets(workflow, raw)),
            (12, y, 12, 8),
            "percentunit",
        )
    )
    y += 8
    bad_sel = f'{names.OUTCOMES_METRIC}{{{wf},outcome=~"{"|".join(workflow.bad_outcomes)}"}}'
    for i, dim in enumerate(workflow.dimensions):
        panels.append(
            _panel(
                f"Bad runs by {dim.name} (share of its runs, last hour)",
                "timeseries",
                [
                    _target(
                        f"sum by ({dim.name}) (increase({bad_sel}[1h]))\n/\n"
                        f"(sum by ({dim.name}) (increase({raw}[1h])) > 0)",
                        f"{{{{{dim.name}}}}}",
                    )
                ],
                ((i % 2) * 12, y + (i // 2) * 8, 12, 8),
                "percentunit",
            )
        )
    return panels


def _health_targets(workflow: Workflow, raw: str) -> Iterator[dict[str, Any]]:
    total = f"(sum(increase({raw}[1h])) > 0)"
    sel = raw[:-1] + f',outcome=~"{"|".join(workflow.bad_outcomes)}"}}'
    yield _target(f"1 - sum(increase({sel}[1h])) / {total}", "success", "A")
    for i, (name, outcomes) in enumerate(HEALTH_RATES, start=1):
        present = [o for o in outcomes if o in workflow.outcomes]
        if not present:
            continue
        sel = raw[:-1] + f',outcome=~"{"|".join(present)}"}}'
        yield _target(f"sum(increase({sel}[1h])) / {total}", name, chr(ord("A") + i))


def _burn_panel_parts(
    slo: SLO, s: str
) -> tuple[list[dict[str, Any]], dict[str, Any], list[dict[str, Any]]]:
    """Burn-rate targets, threshold steps and overrides: a line where each tier fires.

    A tier that fires at one burn factor throughout gets a fixed threshold line; one whose
    factor follows the tightening schedule (an adapted tier) gets a dashed series instead.
    """
    colors = {"page": "red", "ticket": "orange"}
    targets: list[dict[str, Any]] = []
    fixed: set[tuple[float, str]] = set()
    overrides: list[dict[str, Any]] = []
    for t in slo.tiers:
        long_name = promql.window_name(t.long_window)
        figures = [f"{th.factor}x ({percent(th.ratio)} errors)" for th in t.thresholds]
        targets.append(
            _target(
                f"{names.rec_error_ratio(long_name)}{s}\n/ on(slo)\n{names.REC_ERROR_BUDGET}{s}",
                f"{t.name}: {long_name}, fires above {schedule(slo.phases, figures)}",
                chr(ord("A") + len(targets)),
            )
        )
        color = colors.get(t.severity, "yellow")
        factors = [th.factor for th in t.thresholds]
        if len(set(factors)) == 1:
            fixed.add((float(factors[0]), color))
            continue
        legend = f"{t.name}: threshold"
        targets.append(
            _target(
                f"vector({promql.piecewise(slo.phases, factors)})",
                legend,
                chr(ord("A") + len(targets)),
            )
        )
        overrides.append(
            {
                "matcher": {"id": "byName", "options": legend},
                "properties": [
                    {"id": "color", "value": {"mode": "fixed", "fixedColor": color}},
                    {"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}},
                ],
            }
        )
    thresholds = {
        "mode": "absolute",
        "steps": [{"color": "green", "value": None}]
        + [{"color": color, "value": factor} for factor, color in sorted(fixed)],
    }
    return targets, thresholds, overrides


def _slo_panels(slo: SLO, y: int) -> list[dict[str, Any]]:
    s = slo_selector("", slo.name)
    objective = f"{names.REC_OBJECTIVE}{s}"
    burn_targets, thresholds, overrides = _burn_panel_parts(slo, s)
    return [
        _panel(
            f"{slo.name}: SLI vs objective (1h)",
            "timeseries",
            [
                _target(f"1 - {names.rec_error_ratio('1h')}{s}", "SLI", "A"),
                _target(objective, "objective", "B"),
            ],
            (0, y, 8, 9),
            "percentunit",
            description=slo.description,
        ),
        _panel(
            f"{slo.name}: error budget remaining ({slo.period_name})",
            "timeseries",
            [
                _target(f"{names.REC_PERIOD_REMAINING}{s}", "budget remaining", "A"),
            ],
            (8, y, 8, 9),
            "percentunit",
        ),
        _panel(
            f"{slo.name}: burn rate by alert window",
            "timeseries",
            burn_targets,
            (16, y, 8, 9),
            fieldConfig={
                "defaults": {
                    "unit": "short",
                    "thresholds": thresholds,
                    "custom": {"thresholdsStyle": {"mode": "line"}},
                },
                "overrides": overrides,
            },
        ),
    ]


def panel_queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, PromQL) of every query in a dashboard, annotations included."""
    out = [
        (panel["title"], target["expr"])
        for panel in dashboard["panels"]
        for target in panel["targets"]
    ]
    out += [(a["name"], a["expr"]) for a in dashboard["annotations"]["list"]]
    return out
