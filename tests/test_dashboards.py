"""Dashboards: every board loads in grafana-foundation-sdk's model with every query decoded;
lines are drawn where the alerts and policies really act; each SLO has a row of figures;
and every query, run against a real Prometheus that scraped the exporter and evaluated the
generated rules, returns data, with the figures the panels show checked by hand."""

from __future__ import annotations

import http.server
import json
import re
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models import bargauge, heatmap, stat, table, timeseries
from grafana_foundation_sdk.models import dashboard as sdk
from grafana_foundation_sdk.models import prometheus as sdk_prometheus
from realprom import Prometheus, running_prometheus

from exporter.catalog import load_catalog
from exporter.client import OutcomeClient
from exporter.server import make_server
from exporter.store import Store
from rulegen import pipeline, promql, writer
from rulegen.generators.dashboards import (
    detail_dashboard,
    overview_dashboard,
    panel_queries,
    variable_queries,
)
from rulegen.loader import load_text
from rulegen.model import Workflow
from rulegen.resolve import build
from rulegen.selectors import Selector

REPO = Path(__file__).resolve().parent.parent
SPEC = """\
apiVersion: agent-slo/v1
workflow: support
dimensions:
  model: {max_values: 5, values: [model-a, model-b]}
  task: {max_values: 5}
alerting:
  runbook_url: https://runbooks.example.com/support
  dashboard_url: https://grafana.example.com/d/agent-slo-support
policies:
  - {name: warning, budget_remaining_below: 50, action: Review the failures.}
  - {name: red_line, budget_remaining_below: 10, action: Humans first.}
slos:
  - name: support-success
    objective: 99
    sli: {outcomes: {exclude: [escalated]}}
  - name: support-latency
    objective: 95
    sli: {latency: {threshold: 2s}}
  - name: support-rework
    objective: 80
    sli: {outcomes: {bad: [major_rewrite, rejected]}}
    tightening:
      - {date: 2099-01-01, objective: 85}
    policies:
      - {name: warning, failure_rate_above: 30, action: Tighten the prompts.}
      - {name: red_line, failure_rate_above: 50, action: Stop using AI here.}
"""
#: Any of the SDK's panel options classes, by panel type: a board's options must decode.
OPTIONS = {
    "timeseries": timeseries.Options,
    "stat": stat.Options,
    "table": table.Options,
    "bargauge": bargauge.Options,
    "heatmap": heatmap.Options,
}


def _workflows(spec: str) -> list[Workflow]:
    documents, errors = load_text(spec, "spec.yaml")
    assert errors == []
    return build(documents)


def _board(spec: str) -> dict[str, Any]:
    return detail_dashboard(_workflows(spec)[0])


def _panels(board: dict[str, Any], title: str) -> list[dict[str, Any]]:
    return [p for p in board["panels"] if p["title"] == title]


def _every_generated_board() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted((REPO / "generated" / "dashboards").glob("*.json")):
        yield path.name, json.loads(path.read_text())
    for path in sorted((REPO / "tests" / "golden" / "cases").glob("*/expected/dashboards/*")):
        yield f"{path.parent.parent.parent.name}/{path.name}", json.loads(path.read_text())


def test_every_board_loads_in_the_sdk_model() -> None:
    """Every committed board decodes as the SDK's Dashboard: rows as rows, each panel's
    options as its plugin's options, each query as a Prometheus query with its PromQL."""
    register_default_plugins()
    boards = dict(_every_generated_board())
    assert len(boards) == 7 + 10
    for name, raw in boards.items():
        board = sdk.Dashboard.from_json(raw)
        assert board.uid == raw["uid"], name
        assert len(board.panels or []) == len(raw["panels"]), name
        for panel, data in zip(board.panels or [], raw["panels"], strict=True):
            if data["type"] == "row":
                assert isinstance(panel, sdk.RowPanel), (name, data["title"])
                continue
            assert isinstance(panel, sdk.Panel), (name, data["title"])
            assert isinstance(panel.options, OPTIONS[data["type"]]), (name, data["title"])
            queries = panel.targets or []
            assert queries, (name, data["title"])
            for query, target in zip(queries, data["targets"], strict=True):
                assert isinstance(query, sdk_prometheus.Dataquery), (name, data["title"])
                assert query.expr == target["expr"] != ""
        assert board.templating.list_val is not None
        variables = [v.name for v in board.templating.list_val]
        assert variables[0] == "datasource"
        assert [a.name for a in board.annotations.list_val or []] == ["Alerts"]


def _alert_thresholds(workflow: Workflow) -> dict[tuple[str, str], list[Decimal]]:
    """(slo, long window) → the error ratio each burn alert fires above, phase by phase,
    read back from the generated rule files."""
    out = {}
    files = pipeline.generate([workflow]).files
    for f in files:
        if not f.path.startswith("rules/"):
            continue
        for group in yaml.safe_load(f.content)["groups"]:
            for rule in group["rules"]:
                if rule.get("alert") != "ErrorBudgetBurn":
                    continue
                first = rule["expr"].split("\n")[0]
                threshold = first.split(" > ", 1)[1]
                values = [Decimal(t.rsplit(" ", 1)[-1]) for t in threshold.strip("()").split(" + ")]
                out[(rule["labels"]["slo"], rule["labels"]["long_window"])] = values
    return out


def _series_values(expr: str) -> list[Decimal]:
    """The per-phase numbers of a dashed threshold series ``vector((... * 4.5 + ... * 6))``."""
    inner = expr.removeprefix("vector(").removesuffix(")").strip("()")
    return [Decimal(term.rsplit(" ", 1)[-1]) for term in inner.split(" + ")]


def _example_workflows() -> list[Workflow]:
    """The example specs' workflows and every golden case's."""
    cases = sorted((REPO / "tests" / "golden" / "cases").glob("*/spec.yaml"))
    out = pipeline.load([REPO / "slo-specs"])
    for case in cases:
        out += pipeline.load([case])
    return out


def test_burn_lines_are_where_the_alerts_fire() -> None:
    """For every example SLO and tier, line (or dashed series) × the phase's error budget is
    the error ratio the generated alert fires above, phase by phase."""
    checked = 0
    for workflow in _example_workflows():
        alerts = _alert_thresholds(workflow)
        board = detail_dashboard(workflow)
        for slo in workflow.slos:
            budgets = [1 - p.objective for p in slo.phases]
            (panel,) = [
                p
                for p in board["panels"]
                if p["title"] == "Burn rate by alert window" and slo.name in p["targets"][0]["expr"]
            ]
            lines = {s["value"] for s in panel["fieldConfig"]["defaults"]["thresholds"]["steps"]}
            series = {t["legendFormat"]: t["expr"] for t in panel["targets"]}
            for tier in slo.tiers:
                long_name = next(
                    t["legendFormat"].split(": ")[1].split(",")[0]
                    for t in panel["targets"]
                    if t["legendFormat"].startswith(f"{tier.name} (")
                )
                ratios = alerts[(slo.name, long_name)]
                factors = [r / b for r, b in zip(ratios, budgets, strict=True)]
                dashed = f"{tier.name}: threshold"
                if dashed in series:
                    assert _series_values(series[dashed]) == factors, (slo.name, tier.name)
                else:
                    assert len(set(factors)) == 1, (slo.name, tier.name)
                    assert float(factors[0]) in lines, (slo.name, tier.name, factors, lines)
                checked += 1
    assert checked >= 40


def test_burn_panel_marks_the_rate_an_adapted_tier_fires_at() -> None:
    """At 80% the page tiers fire at 90% errors, 4.5x (0.9 / 0.2), not 14.4x or 6x: one red
    line at 4.5 (two page tiers share it), orange tickets at 3 and 1."""
    board = _board(
        "apiVersion: agent-slo/v1\nworkflow: w\ntier: medium\nslos:\n"
        "  - {name: s, objective: 80, sli: {outcomes: {}}}\n"
    )
    (panel,) = _panels(board, "Burn rate by alert window")
    assert [t["legendFormat"] for t in panel["targets"]] == [
        "page_fast (page): 1h, fires above 4.5x (90% errors)",  # 14.4 * 20% = 288%: adapted
        "page_slow (page): 6h, fires above 4.5x (90% errors)",  # 6 * 20% = 120%: adapted
        "ticket_fast (ticket): 1d, fires above 3x (60% errors)",
        "ticket_slow (ticket): 3d, fires above 1x (20% errors)",
    ]
    assert panel["fieldConfig"]["defaults"]["thresholds"]["steps"] == [
        {"color": "green", "value": None},
        {"color": "orange", "value": 1.0},
        {"color": "orange", "value": 3.0},
        {"color": "red", "value": 4.5},
    ]


def test_without_a_page_the_fastest_burn_is_red() -> None:
    """A low-risk SLO only opens tickets: its fastest line is red all the same (90%: the
    page_fast tier is adapted to 0.9 / 0.1 = 9x), the others orange."""
    board = _board(
        "apiVersion: agent-slo/v1\nworkflow: w\ntier: low\nslos:\n"
        "  - {name: s, objective: 90, sli: {outcomes: {}}}\n"
    )
    (panel,) = _panels(board, "Burn rate by alert window")
    assert panel["fieldConfig"]["defaults"]["thresholds"]["steps"] == [
        {"color": "green", "value": None},
        {"color": "orange", "value": 1.0},
        {"color": "orange", "value": 3.0},
        {"color": "orange", "value": 6.0},
        {"color": "red", "value": 9.0},
    ]


def test_burn_panel_follows_the_tightening_schedule() -> None:
    """80% then 85%: the fast tier fires at 4.5x then 6x (0.9 / 0.15), drawn as a dashed
    red series; no fixed line at either rate."""
    board = _board(
        "apiVersion: agent-slo/v1\nworkflow: w\ntier: medium\nperiod: 7d\nslos:\n"
        "  - name: s\n    objective: 80\n    sli: {outcomes: {}}\n"
        "    tightening: [{date: 2027-01-01, objective: 85}]\n"
    )
    (panel,) = _panels(board, "Burn rate by alert window")
    targets = {t["legendFormat"]: t["expr"] for t in panel["targets"]}
    assert (
        "page_fast (page): 14m, fires above 4.5x (90% errors) until 2027-01-01, "
        "then 6x (90% errors)" in targets
    )
    # 2027-01-01T00:00:00Z is 1798761600.
    assert targets["page_fast: threshold"] == (
        "vector(((time() < bool 1798761600) * 4.5 + (time() >= bool 1798761600) * 6))"
    )
    dashed = {
        o["matcher"]["options"]: o["properties"][0]["value"]["fixedColor"]
        for o in panel["fieldConfig"]["overrides"]
    }
    assert dashed["page_fast: threshold"] == "red"
    lines = [s["value"] for s in panel["fieldConfig"]["defaults"]["thresholds"]["steps"]]
    assert 14.4 not in lines
    assert 4.5 not in lines
    assert 6.0 not in lines


def _steps(panel: dict[str, Any]) -> list[tuple[str, float | None]]:
    return [
        (s["color"], s["value"]) for s in panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    ]


def test_budget_and_failure_rate_policies_are_drawn() -> None:
    """Budget: red below 0, orange to the red line (10%), yellow to the warning (50%), green
    above. SLI of support-rework: red below 50% (failure rate above its red line, 50%),
    orange to 70% (its warning, 30%), green above; the others have no failure-rate policy."""
    board = _board(SPEC)
    budget = [p for p in board["panels"] if p["title"] == "Error budget remaining (30d)"]
    assert len(budget) == 6  # a stat and a graph for each of the three SLOs
    bands = [("red", None), ("orange", 0.0), ("yellow", 0.1), ("green", 0.5)]
    # support-rework's own policies replace the workflow's: no budget bands, only red.
    assert [_steps(p) for p in budget] == [bands] * 4 + [[("red", None), ("green", 0.0)]] * 2
    graph = next(p for p in budget if p["type"] == "timeseries")
    assert graph["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] == "dashed+area"
    sli = [p for p in board["panels"] if p["title"] == "SLI over 30d"]
    assert [("rework" in p["targets"][0]["expr"], p["options"]["colorMode"]) for p in sli] == [
        (False, "none"),
        (False, "none"),
        (True, "background"),
    ]
    assert _steps(sli[2]) == [("red", None), ("orange", 0.5), ("green", 0.7)]
    (runs_left, *_) = _panels(board, "Bad runs left in budget")
    assert _steps(runs_left) == [("red", None), ("orange", 0.0), ("green", 1.0)]


def test_each_slo_has_a_row_of_figures_then_its_graphs() -> None:
    """support-triage (four SLOs): a summary row, a row per SLO holding four stats and three
    graphs, then the outcome and dimension rows; every panel sits under its row."""
    (workflow,) = pipeline.load([REPO / "slo-specs" / "support-triage.yaml"])
    board = detail_dashboard(workflow)
    rows = [p["title"] for p in board["panels"] if p["type"] == "row"]
    assert rows == [
        "Every SLO of support-triage",
        "support-triage-success: objective 95% over 30d",
        "support-triage-human-correction: objective 85% over 30d",
        "support-triage-escalation-miss: objective 99% over 30d",
        "support-triage-rework: objective 97% over 30d",
        "Runs and outcomes",
        "Bad runs by dimension",
    ]
    under: dict[str, list[str]] = {}
    row = ""
    bottom = 0
    for panel in board["panels"]:
        pos = panel["gridPos"]
        assert pos["y"] >= bottom or panel["type"] != "row"
        if panel["type"] == "row":
            assert pos["y"] >= bottom
            row = panel["title"]
            under[row] = []
        else:
            assert pos["x"] + pos["w"] <= 24
            under[row].append(panel["type"])
        bottom = max(bottom, pos["y"] + pos["h"])
    assert (
        under["support-triage-success: objective 95% over 30d"] == ["stat"] * 4 + ["timeseries"] * 3
    )
    assert under["Bad runs by dimension"] == ["timeseries"] * 3  # model, prompt_version, queue


def test_links_and_variables() -> None:
    """A workflow board links the overview and the spec's runbook, its SLO panels the
    runbook and the alerts' dashboard; the overview links every workflow's board; the
    variables select SLO, workflow and each dimension."""
    workflows = _workflows(SPEC)
    board = detail_dashboard(workflows[0])
    assert [(link["title"], link["url"]) for link in board["links"]] == [
        ("agent-slo: overview", "/d/agent-slo-overview?${datasource:queryparam}"),
        ("Runbook", "https://runbooks.example.com/support"),
    ]
    (burn, *_) = _panels(board, "Burn rate by alert window")
    assert [link["url"] for link in burn["links"]] == [
        "https://runbooks.example.com/support",
        "https://grafana.example.com/d/agent-slo-support",
    ]
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert list(variables) == ["datasource", "window", "slo", "model", "task"]
    # Windows every SLO records a ratio for; the period (30d) included.
    assert variables["window"]["query"] == "5m,30m,1h,2h,6h,1d,3d,30d"
    assert variables["window"]["current"]["value"] == "1h"
    overview = overview_dashboard(workflows)
    assert [link["url"] for link in overview["links"]] == [
        "/d/agent-slo-support?${datasource:queryparam}"
    ]
    assert variable_queries(overview) == {
        "workflow": "label_values(slo:objective:ratio, workflow)",
        "slo": 'label_values(slo:objective:ratio{workflow=~"${workflow}"}, slo)',
    }
    latency = [p["type"] for p in board["panels"] if "Run duration" in p["title"]]
    assert latency == ["heatmap", "timeseries"]


# -- on a real Prometheus ------------------------------------------------------------------


def _fast_steps(rule_file: Path) -> None:
    """Run the 5-minute steps every second, so their series exist within a short test.

    Only timing changes: the step rules keep their meaning (events since the previous
    evaluation), and the period sums every step recorded.
    """
    text = rule_file.read_text()
    text = text.replace("interval: 5m", "interval: 1s").replace(" offset 5m", " offset 1s")
    rule_file.write_text(text)


class Live:
    """A Prometheus that has scraped a known set of runs, and the boards of their spec."""

    def __init__(self, prom: Prometheus, boards: dict[str, dict[str, Any]], since: float) -> None:
        self.prom = prom
        self.boards = boards
        self.since = since  # after the zeros were scraped, before the first run

    def window(self) -> str:
        """A window reaching back to just after the first scrape: it holds every run."""
        return f"{int(time.time() - self.since)}s"


# 41 runs: (outcome, model, task, seconds, count). The last one is the first run of a task
# never seen before; it is recorded once the others are counted.
RUNS = [
    ("success", "model-a", "t0", 0.5, 30),
    ("minor_fix", "model-a", "t0", 0.5, 4),
    ("rejected", "model-b", "t1", 3.0, 6),
]
NEW_RUN = ("rejected", "model-a", "t-new", 0.5, 1)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """Exporter and Prometheus for the whole module; the runs recorded and counted."""
    tmp_path = tmp_path_factory.mktemp("dashboards")
    (tmp_path / "spec.yaml").write_text(SPEC)
    out = tmp_path / "generated"
    writer.write(out, pipeline.generate(pipeline.load([tmp_path / "spec.yaml"])).files)
    rules = sorted(out.glob("rules/*.rules.yml"))
    for rule_file in rules:
        _fast_steps(rule_file)
    boards = {p.name: json.loads(p.read_text()) for p in sorted(out.glob("dashboards/*.json"))}
    store = Store(tmp_path / "state.db", load_catalog([tmp_path / "spec.yaml"]))
    server = make_server(store, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    client = OutcomeClient(f"http://{host}:{port}", flush_interval=0.1, strict=True)
    try:
        with running_prometheus(tmp_path, [f"{host}:{port}"], rule_files=rules) as prom:
            prom.wait_for('slo:period_events:increase{slo="support-success"}')
            since = time.time()
            time.sleep(1.5)
            for outcome, model, task, seconds, count in RUNS:
                for _ in range(count):
                    client.record(
                        "support", outcome, duration_seconds=seconds, model=model, task=task
                    )
            assert client.flush(10)
            prom.wait_value('slo:period_events:increase{slo="support-success"}', 40)
            outcome, model, task, seconds, _ = NEW_RUN
            client.record("support", outcome, duration_seconds=seconds, model=model, task=task)
            assert client.flush(10)
            for slo in ("support-success", "support-latency", "support-rework"):
                prom.wait_value(f'slo:period_events:increase{{slo="{slo}"}}', 41)
            prom.wait_for('ALERTS{alertstate="firing",slo="support-success"}', timeout=30)
            yield Live(prom, boards, since)
    finally:
        client.close()
        server.shutdown()
        server.server_close()
        thread.join()
        store.close()


def _fill(expr: str, window: str, interval: str, values: dict[str, str]) -> str:
    """A panel's query as Grafana sends it: variables replaced by real values."""
    out = expr.replace("$__interval", interval).replace("${window}", window)
    for name, value in values.items():
        out = out.replace("${" + name + "}", value)
    assert "$" not in out, out
    return out


def _label_values(prom: Prometheus, query: str) -> list[str]:
    """What Grafana lists for ``label_values(selector, label)``."""
    match = re.fullmatch(r"label_values\((.*), (\w+)\)", query)
    assert match, query
    selector, label = match.groups()
    return sorted(
        r["metric"].get(label, "") for r in prom.query(f"count by ({label}) ({selector})")
    )


def test_every_variable_lists_real_values(live: Live) -> None:
    """Each variable's label_values query lists the SLOs, workflows and dimension values
    the runs carry."""
    detail = variable_queries(live.boards["agent-slo-support.json"])
    got = {
        name: _label_values(live.prom, query.replace("${workflow}", ".*"))
        for name, query in detail.items()
    }
    assert got["slo"] == ["support-latency", "support-rework", "support-success"]
    # "unknown": the value of the zeros the exporter pre-initialises for a dimension.
    assert got["model"] == ["model-a", "model-b", "unknown"]
    assert got["task"] == ["t-new", "t0", "t1", "unknown"]
    overview = variable_queries(live.boards["agent-slo-overview.json"])
    assert _label_values(live.prom, overview["workflow"]) == ["support"]


def test_every_query_returns_data(live: Live) -> None:
    """Each query of both boards returns data with All selected and with one value of each
    variable selected, for every SLI window the board offers."""
    detail = live.boards["agent-slo-support.json"]
    variables = {v["name"]: v for v in detail["templating"]["list"]}
    windows = variables["window"]["query"].split(",")
    choices = [
        {"slo": ".*", "workflow": ".*", "model": ".*", "task": ".*"},
        {"slo": "support-success", "workflow": "support", "model": "model-b", "task": "t1"},
    ]
    empty = []
    asked = 0
    for name, board in live.boards.items():
        for title, expr in panel_queries(board):
            recorded_window = "ratio_rate${window}" in expr
            for values in choices:
                for window in windows if recorded_window else [live.window()]:
                    query = _fill(expr, window, live.window(), values)
                    asked += 1
                    if not live.prom.query(query):
                        empty.append(f"{name} / {title}: {query}")
    assert empty == []
    assert asked > 150


def _value(live: Live, board: str, title: str, slo: str) -> float:
    """The figure a single-value panel of ``slo`` shows now."""
    (panel,) = [
        p
        for p in live.boards[board]["panels"]
        if p["type"] == "stat" and p["title"] == title and f'slo="{slo}"' in p["targets"][0]["expr"]
    ]
    value = live.prom.value(_fill(panel["targets"][0]["expr"], "1h", live.window(), {}))
    assert value is not None
    return value


def test_stat_panels_show_the_figures_worked_out_by_hand(live: Live) -> None:
    """41 runs, 7 rejected (one the first run of a new task), 6 of them slower than 2s.

    support-success (99%, budget 1%): SLI 34/41; 7 bad against 0.41 allowed: budget
    1 - (7/41)/0.01 = -16.07 (overspent), floor(0.41 - 7) = -7 runs left.
    support-rework (80%, budget 20%, 7 bad): 1 - (7/41)/0.2 = 0.1463; floor(8.2 - 7) = 1.
    support-latency (95%, budget 5%, 6 slow): SLI 35/41; floor(2.05 - 6) = -4.
    """
    board = "agent-slo-support.json"
    cases = {
        "support-success": (34 / 41, 1 - (7 / 41) / 0.01, -7),
        "support-rework": (34 / 41, 1 - (7 / 41) / 0.2, 1),
        "support-latency": (35 / 41, 1 - (6 / 41) / 0.05, -4),
    }
    for slo, (sli, remaining, runs_left) in cases.items():
        assert _value(live, board, "SLI over 30d", slo) == pytest.approx(sli, abs=1e-9)
        got = _value(live, board, "Error budget remaining (30d)", slo)
        assert got == pytest.approx(remaining, abs=1e-9)
        assert _value(live, board, "Bad runs left in budget", slo) == runs_left
        assert (
            _value(live, board, "Objective", slo)
            == {"support-success": 0.99, "support-rework": 0.8, "support-latency": 0.95}[slo]
        )
    # The overview's table shows the same figures, one row per SLO.
    (table,) = _panels(live.boards["agent-slo-overview.json"], "Every SLO, worst budget first")
    columns = table["transformations"][1]["options"]["renameByName"]
    rows: dict[str, dict[str, float]] = {}
    for query_target in table["targets"]:
        query = _fill(query_target["expr"], "1h", "1h", {"slo": ".*", "workflow": ".*"})
        for series in live.prom.query(query):
            labels = series["metric"]
            assert set(labels) == {"slo", "workflow"}, labels  # rows merge on these two
            column = columns[f"Value #{query_target['refId']}"]
            rows.setdefault(labels["slo"], {})[column] = float(series["value"][1])
    for slo, (sli, remaining, runs_left) in cases.items():
        assert rows[slo]["SLI over the period"] == pytest.approx(sli, abs=1e-9)
        assert rows[slo]["budget remaining"] == pytest.approx(remaining, abs=1e-9)
        assert rows[slo]["bad runs left in budget"] == runs_left
    assert rows["support-success"]["alerts firing"] >= 1


def _series(live: Live, board: str, title: str, window: str, **values: str) -> dict[str, float]:
    """legend → value of every series of every query of the panel titled ``title``."""
    (panel,) = [p for p in live.boards[board]["panels"] if p["title"].startswith(title)]
    out = {}
    for target in panel["targets"]:
        query = _fill(
            target["expr"], window, window, {"slo": ".*", "model": ".*", "task": ".*", **values}
        )
        for series in live.prom.query(query):
            labels = series["metric"]
            legend = re.sub(
                r"\{\{(\w+)\}\}",
                lambda m, found=labels: found.get(m.group(1), ""),
                target["legendFormat"],
            )
            out[legend] = float(series["value"][1])
    return out


def test_run_panels_count_whole_runs_new_series_included(live: Live) -> None:
    """Runs by outcome are whole runs, the new task's first run among them; the new task's
    bad share is 1/1 (a raw increase over an hour would not see it at all); health rates
    are 34/41 success and 11/41 corrected (4 minor fixes, 7 rejected)."""
    board = "agent-slo-support.json"
    window = live.window()
    by_outcome = _series(live, board, "Runs by outcome", window)
    assert {k: v for k, v in by_outcome.items() if v} == {
        "success": 30,
        "minor_fix": 4,
        "rejected": 7,
    }
    by_task = _series(live, board, "Bad runs by task", window)
    assert {k: by_task[k] for k in ("t0", "t1", "t-new")} == {"t0": 0, "t1": 1, "t-new": 1}
    only_b = _series(live, board, "Runs by outcome", window, model="model-b")
    assert {k: v for k, v in only_b.items() if v} == {"rejected": 6}
    health = _series(live, board, "Agent health rates", window)
    assert health["success"] == pytest.approx(34 / 41, abs=1e-9)
    assert health["human correction"] == pytest.approx(11 / 41, abs=1e-9)


def test_latency_quantiles_against_the_threshold(live: Live) -> None:
    """35 of 41 runs took 0.5s and 6 took 3s: the median is at most 0.5s, and the 90th
    percentile (above 35/41 = 85%) lies beyond the 2s threshold the red line marks."""
    board = "agent-slo-support.json"
    quantiles = _series(live, board, "Run duration quantiles", live.window())
    assert quantiles["p50"] <= 0.5
    assert quantiles["p90"] > 2
    (panel,) = [
        p for p in live.boards[board]["panels"] if p["title"].startswith("Run duration quantiles")
    ]
    assert _steps(panel) == [("green", None), ("red", 2.0)]
    heat = _series(live, board, "Run duration distribution", live.window())
    assert heat["+Inf"] == 41
    assert heat["2.0"] == 35


class _Counters:
    """A scrape target whose counters the test sets: Prometheus text, one line a series."""

    def __init__(self) -> None:
        self.values: dict[str, int] = {}
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = "".join(
                    f'agent_outcomes_total{{workflow="w",outcome="{o}"}} {v}\n'
                    for o, v in sorted(owner.values.items())
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def address(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host}:{port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def _settle(prom: Prometheus, counters: dict[str, int]) -> float:
    """Wait until Prometheus has scraped ``counters``; the time just after."""
    for outcome, value in counters.items():
        prom.wait_value(f'agent_outcomes_total{{workflow="w",outcome="{outcome}"}}', value)
    return time.time()


def test_whole_runs_count_a_new_series_and_a_reset(tmp_path: Path) -> None:
    """The run panels' counting, on a real Prometheus: a rise counts its runs; a series new
    in the window counts whole (the 1 a new series appears with); a counter that fell counts
    its value since; and a window reaching back before the first scrape counts nothing."""
    target = _Counters()
    runs = Selector("agent_outcomes_total", (promql.workflow_matcher("w"),))

    def whole(at: float, since: float) -> dict[str, float]:
        window = f"{round((at - since) * 1000)}ms"
        query = promql.whole_runs(("outcome",), runs, runs, window)
        return {r["metric"]["outcome"]: float(r["value"][1]) for r in prom.query(query, at=at)}

    try:
        with running_prometheus(tmp_path, [target.address]) as prom:
            target.values = {"success": 0}
            start = _settle(prom, {"success": 0})
            time.sleep(1.2)
            target.values = {"success": 5}
            risen = _settle(prom, {"success": 5})
            time.sleep(1.2)
            target.values = {"success": 2, "rejected": 1}  # reset to 2; a new series at 1
            end = _settle(prom, {"success": 2, "rejected": 1})
            assert whole(risen, start) == {"success": 5}
            assert whole(end, risen) == {"success": 2, "rejected": 1}
            assert whole(end, start - 60) == {}
    finally:
        target.close()
