"""Grafana's dashboard JSON, as small typed builders: panels, rows, variables, links.

Plain dicts, serialised by the writer as sorted JSON (byte-stable); every builder writes
only what Grafana 10 and 11 read from a provisioned file, so a board loads without a
migration step changing it. The layout places panels left to right in rows of 24 columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

__all__ = [
    "DATASOURCE",
    "Grid",
    "Json",
    "Step",
    "bargauge",
    "board",
    "custom_variable",
    "dashboard_link",
    "datasource_variable",
    "fixed_colour",
    "heatmap",
    "panel_link",
    "query_variable",
    "stat",
    "steps",
    "target",
    "timeseries",
]

Json = dict[str, Any]
#: A threshold step: its colour, and the value it starts at (``None``: from minus infinity).
Step = tuple[str, float | None]

DATASOURCE: Final = {"type": "prometheus", "uid": "${datasource}"}
SCHEMA_VERSION: Final = 39
WIDTH: Final = 24


def target(
    expr: str,
    legend: str = "",
    *,
    instant: bool = False,
    fmt: Literal["time_series", "table", "heatmap"] = "time_series",
) -> Json:
    """One PromQL query of a panel; ``refId`` is set by the panel."""
    out: Json = {
        "datasource": DATASOURCE,
        "expr": expr,
        "legendFormat": legend or "__auto",
    }
    if instant:
        out.update({"instant": True, "range": False, "format": "table"})
    elif fmt != "time_series":
        out["format"] = fmt
    return out


def steps(*items: Step) -> Json:
    """Absolute thresholds: each colour from its value up to the next step's."""
    return {
        "mode": "absolute",
        "steps": [{"color": colour, "value": value} for colour, value in items],
    }


def fixed_colour(colour: str) -> Json:
    """A field colour that ignores thresholds."""
    return {"mode": "fixed", "fixedColor": colour}


def panel_link(title: str, url: str) -> Json:
    """A link in a panel's corner menu, opened in a new tab."""
    return {"title": title, "url": url, "targetBlank": True}


def _panel(
    kind: str,
    title: str,
    targets: Sequence[Json],
    *,
    unit: str,
    description: str,
    thresholds: Json | None,
    links: Sequence[Json],
) -> Json:
    defaults: Json = {"unit": unit}
    if thresholds is not None:
        defaults["thresholds"] = thresholds
    panel: Json = {
        "type": kind,
        "title": title,
        "datasource": DATASOURCE,
        "targets": [{**t, "refId": _ref(i)} for i, t in enumerate(targets)],
        "fieldConfig": {"defaults": defaults, "overrides": []},
    }
    if description:
        panel["description"] = description
    if links:
        panel["links"] = list(links)
    return panel


def _ref(index: int) -> str:
    return chr(ord("A") + index)


def timeseries(
    title: str,
    targets: Sequence[Json],
    *,
    unit: str = "short",
    description: str = "",
    thresholds: Json | None = None,
    threshold_style: Literal["off", "line", "dashed", "line+area", "dashed+area"] = "off",
    bars: bool = False,
    stacked: bool = False,
    links: Sequence[Json] = (),
    overrides: Sequence[Json] = (),
    decimals: int | None = None,
    min_value: float | None = None,
) -> Json:
    """A time series panel; ``threshold_style`` draws the thresholds as lines or bands."""
    panel = _panel(
        "timeseries",
        title,
        targets,
        unit=unit,
        description=description,
        thresholds=thresholds,
        links=links,
    )
    custom: Json = {"thresholdsStyle": {"mode": threshold_style}}
    if bars:
        custom.update({"drawStyle": "bars", "fillOpacity": 80, "lineWidth": 1})
    if stacked:
        custom["stacking"] = {"group": "A", "mode": "normal"}
    defaults = panel["fieldConfig"]["defaults"]
    defaults["custom"] = custom
    if decimals is not None:
        defaults["decimals"] = decimals
    if min_value is not None:
        defaults["min"] = min_value
    panel["fieldConfig"]["overrides"] = list(overrides)
    panel["options"] = {
        "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
        "tooltip": {"mode": "multi", "sort": "none"},
    }
    return panel


def stat(
    title: str,
    expr: str,
    *,
    unit: str,
    description: str,
    thresholds: Json | None = None,
    decimals: int | None = None,
    links: Sequence[Json] = (),
) -> Json:
    """A single figure: the query's latest value, with its trend drawn behind it; coloured
    by ``thresholds``, or not at all without them."""
    panel = _panel(
        "stat",
        title,
        [target(expr)],
        unit=unit,
        description=description,
        thresholds=thresholds or steps(("text", None)),
        links=links,
    )
    defaults = panel["fieldConfig"]["defaults"]
    defaults["color"] = {"mode": "thresholds"}
    if decimals is not None:
        defaults["decimals"] = decimals
    panel["options"] = {
        "colorMode": "background" if thresholds else "none",
        "graphMode": "area",
        "justifyMode": "auto",
        "orientation": "auto",
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "textMode": "value",
    }
    return panel


def heatmap(title: str, targets: Sequence[Json], *, unit: str, description: str) -> Json:
    """Counts by bucket over time, from Prometheus histogram buckets (``format: heatmap``
    turns cumulative ``le`` buckets into counts per bucket)."""
    panel = _panel(
        "heatmap",
        title,
        [{**t, "format": "heatmap"} for t in targets],
        unit="short",
        description=description,
        thresholds=None,
        links=(),
    )
    panel["options"] = {
        "calculate": False,
        "cellGap": 1,
        "color": {"mode": "scheme", "scheme": "Oranges", "steps": 64},
        "yAxis": {"axisPlacement": "left", "unit": unit},
        "tooltip": {"mode": "single", "yHistogram": True},
        "legend": {"show": True},
    }
    return panel


def bargauge(
    title: str, targets: Sequence[Json], *, unit: str, description: str, thresholds: Json
) -> Json:
    """One horizontal bar per series: its latest value, coloured by ``thresholds``."""
    panel = _panel(
        "bargauge",
        title,
        targets,
        unit=unit,
        description=description,
        thresholds=thresholds,
        links=(),
    )
    panel["fieldConfig"]["defaults"]["color"] = {"mode": "thresholds"}
    panel["options"] = {
        "displayMode": "basic",
        "orientation": "horizontal",
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "showUnfilled": True,
    }
    return panel


def datasource_variable() -> Json:
    """The Prometheus data source every query uses."""
    return {
        "name": "datasource",
        "label": "Prometheus",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "hide": 0,
        "options": [],
        "refresh": 1,
        "regex": "",
    }


def query_variable(name: str, label: str, query: str, *, description: str) -> Json:
    """A multi-value variable from ``label_values(...)``; *All* matches every value, the
    empty one included (``.*``), so a series without the label is not filtered out."""
    return {
        "name": name,
        "label": label,
        "description": description,
        "type": "query",
        "datasource": DATASOURCE,
        "query": query,
        "definition": query,
        "refresh": 2,
        "sort": 1,
        "multi": True,
        "includeAll": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "hide": 0,
        "options": [],
        "regex": "",
    }


def custom_variable(
    name: str, label: str, values: Sequence[str], default: str, *, description: str
) -> Json:
    """A single-value variable with fixed choices."""
    return {
        "name": name,
        "label": label,
        "description": description,
        "type": "custom",
        "query": ",".join(values),
        "current": {"selected": True, "text": default, "value": default},
        "options": [
            {"selected": value == default, "text": value, "value": value} for value in values
        ],
        "multi": False,
        "includeAll": False,
        "hide": 0,
    }


def dashboard_link(title: str, url: str, *, tooltip: str = "", internal: bool = False) -> Json:
    """A link in the board's header: to another board of the project (``internal``: same
    tab, time range kept) or to an external page (new tab)."""
    return {
        "title": title,
        "type": "link",
        "url": url,
        "tooltip": tooltip,
        "icon": "dashboard" if internal else "doc",
        "targetBlank": not internal,
        "keepTime": internal,
        "includeVars": False,
        "asDropdown": False,
        "tags": [],
    }


@dataclass
class Grid:
    """Panels in reading order: left to right, wrapping at 24 columns, under rows."""

    panels: list[Json] = field(default_factory=list)
    _x: int = 0
    _y: int = 0
    _line: int = 0  # height of the current line

    def row(self, title: str) -> None:
        """A row header across the board; the panels after it belong to it."""
        self._newline()
        self.panels.append(
            {
                "type": "row",
                "title": title,
                "collapsed": False,
                "gridPos": {"x": 0, "y": self._y, "w": WIDTH, "h": 1},
                "panels": [],
            }
        )
        self._y += 1

    def add(self, panel: Json, width: int, height: int) -> None:
        """Place ``panel`` to the right of the previous one, or on a new line."""
        if self._x + width > WIDTH:
            self._newline()
        panel["gridPos"] = {"x": self._x, "y": self._y, "w": width, "h": height}
        self.panels.append(panel)
        self._x += width
        self._line = max(self._line, height)

    def _newline(self) -> None:
        self._y += self._line
        self._x = 0
        self._line = 0


def board(
    uid: str,
    title: str,
    grid: Grid,
    *,
    description: str,
    variables: Sequence[Json],
    annotations: Sequence[Json],
    links: Sequence[Json],
) -> Json:
    """A whole dashboard; panel ids follow the reading order."""
    for i, panel in enumerate(grid.panels, start=1):
        panel["id"] = i
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["agent-slo"],
        "timezone": "utc",
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": False,
        "graphTooltip": 1,
        "refresh": "1m",
        "time": {"from": "now-7d", "to": "now"},
        "templating": {"list": [datasource_variable(), *variables]},
        "annotations": {"list": list(annotations)},
        "links": list(links),
        "panels": grid.panels,
    }
