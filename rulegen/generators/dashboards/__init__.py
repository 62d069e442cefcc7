"""Grafana dashboards as data: an overview of every SLO and a board per workflow.

Built as plain dicts (``_grafana``) and serialised as sorted, indented JSON, so output is
byte-stable. Every query reads the recorded series of the generated rules or the
exporter's raw counters; every line drawn is a threshold the rules or the spec's policies
really use (``thresholds``).
"""

from __future__ import annotations

from typing import Any

from rulegen.generators.dashboards.overview import overview_dashboard
from rulegen.generators.dashboards.workflow import detail_dashboard

__all__ = ["detail_dashboard", "overview_dashboard", "panel_queries", "variable_queries"]


def panel_queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, PromQL) of every query in a dashboard, annotations included."""
    out = [
        (panel["title"], target["expr"])
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]
    out += [(a["name"], a["expr"]) for a in dashboard["annotations"]["list"]]
    return out


def variable_queries(dashboard: dict[str, Any]) -> dict[str, str]:
    """The ``label_values(...)`` query of each query variable, by variable name."""
    return {v["name"]: v["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"}
