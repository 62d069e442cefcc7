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
from rulegen.selectors import Matcher, Selector

__all__ = ["DATASOURCE", "detail_dashboard", "overview_dashboard", "panel_queries"]

DATASOURCE: Final = {"type": "prometheus", "uid": "${datasource}"}
SCHEMA_VERSION: Final = 39
#: Grafana's range for rates and increases: at least four scrape intervals.
RATE_INTERVAL: Final = "$__rate_interval"
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
    queries = [
        ("objective", promql.objective_by_slo()),
        ("SLI over the period", promql.sli_over_period_by_slo()),
        ("budget remaining", promql.budget_remaining_by_slo()),
        ("runs left in budget", promql.runs_left_by_slo()),
        ("burn rate (1h)", promql.burn_rate_by_slo()),
        ("alerts firing", promql.alerts_firing_by_slo()),
    ]
    targets = [
        _target(promql.sum_by((names.LABEL_SLO,), expr), ref=chr(ord("A") + i), instant=True)
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
        [_target(promql.budget_remaining_by_slo(), "{{slo}}")],
        (0, 12, 12, 10),
        "percentunit",
        options={"orientation": "horizontal", "reduceOptions": {"calcs": ["lastNotNull"]}},
    )
    burn = _panel(
        "Burn rate over the last hour",
        "timeseries",
        [_target(promql.burn_rate_by_slo(), "{{slo}}")],
        (12, 12, 12, 10),
    )
    count = sum(len(w.slos) for w in workflows)
    return _board(
        "agent-slo-overview",
        "agent-slo: overview",
        [table, remaining, burn],
        description=f"{count} SLO(s) in {len(workflows)} workflow(s)",
        annotations=[_alert_annotations(Matcher(names.LABEL_SLO, "!=", ""))],
    )


def _unit(field: str, unit: str) -> dict[str, Any]:
    return {
        "matcher": {"id": "byName", "options": field},
        "properties": [{"id": "unit", "value": unit}],
    }


def _alert_annotations(matcher: Matcher) -> dict[str, Any]:
    return {
        "name": "Alerts",
        "datasource": DATASOURCE,
        "enable": True,
        "iconColor": "red",
        "expr": promql.firing_alerts(matcher),
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
    if any(slo.sli.kind in ("outcomes", "latency") for slo in workflow.slos):
        panels.extend(_outcome_panels(workflow, y))
    return _board(
        f"agent-slo-{workflow.name}"[:40],
        f"agent-slo: {workflow.name}",
        panels,
        description=workflow.description,
        annotations=[_alert_annotations(promql.workflow_matcher(workflow.name))],
    )


def _outcome_panels(workflow: Workflow, y: int) -> list[dict[str, Any]]:
    """Runs by outcome, the health rates and a breakdown per dimension, from raw counters."""
    panels: list[dict[str, Any]] = []
    raw = promql.workflow_outcomes(workflow.name)
    panels.append(
        _panel(
            "Runs by outcome",
            "timeseries",
            [_target(promql.runs_by((names.LABEL_OUTCOME,), raw, RATE_INTERVAL), "{{outcome}}")],
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
    bad = promql.with_matcher(raw, promql.outcomes_matcher(workflow.bad_outcomes))
    for i, dim in enumerate(workflow.dimensions):
        panels.append(
            _panel(
                f"Bad runs by {dim.name} (share of its runs, last hour)",
                "timeseries",
                [
                    _target(
                        promql.share_by((dim.name,), bad, raw, "1h"),
                        f"{{{{{dim.name}}}}}",
                    )
                ],
                ((i % 2) * 12, y + (i // 2) * 8, 12, 8),
                "percentunit",
            )
        )
    return panels


def _health_targets(workflow: Workflow, raw: Selector) -> Iterator[dict[str, Any]]:
    bad = promql.with_matcher(raw, promql.outcomes_matcher(workflow.bad_outcomes))
    yield _target(promql.complement(promql.share_of_runs(bad, raw, "1h")), "success", "A")
    for i, (name, outcomes) in enumerate(HEALTH_RATES, start=1):
        present = [o for o in outcomes if o in workflow.outcomes]
        if not present:
            continue
        sel = promql.with_matcher(raw, promql.outcomes_matcher(present))
        yield _target(promql.share_of_runs(sel, raw, "1h"), name, chr(ord("A") + i))


def _burn_panel_parts(
    slo: SLO,
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
                promql.burn_rate_over_window(slo, long_name),
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
                promql.vector(promql.piecewise(slo.phases, factors)),
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
    burn_targets, thresholds, overrides = _burn_panel_parts(slo)
    return [
        _panel(
            f"{slo.name}: SLI vs objective (1h)",
            "timeseries",
            [
                _target(
                    promql.complement(promql.slo_selector(names.rec_error_ratio("1h"), slo)),
                    "SLI",
                    "A",
                ),
                _target(promql.slo_selector(names.REC_OBJECTIVE, slo), "objective", "B"),
            ],
            (0, y, 8, 9),
            "percentunit",
            description=slo.description,
        ),
        _panel(
            f"{slo.name}: error budget remaining ({slo.period_name})",
            "timeseries",
            [
                _target(promql.budget_remaining(slo), "budget remaining", "A"),
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
