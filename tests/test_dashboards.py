"""Dashboards: burn-rate panels mark where each tier really fires, and every query, run
against a real Prometheus that scraped the exporter and evaluated the generated rules,
parses and returns data."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from realprom import running_prometheus

from exporter.catalog import load_catalog
from exporter.client import OutcomeClient
from exporter.server import make_server
from exporter.store import Store
from rulegen import pipeline, writer
from rulegen.generators.dashboards import detail_dashboard, panel_queries
from rulegen.loader import load_text
from rulegen.resolve import build

SPEC = """\
apiVersion: agent-slo/v1
workflow: support
dimensions:
  model: {max_values: 5, values: [model-a, model-b]}
  task: {max_values: 5}
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
      - {date: 2027-01-01, objective: 85}
"""
OUTCOMES = (
    "success", "minor_fix", "major_rewrite", "rejected", "escalation_miss", "duplicate_work",
    "escalated", "policy_violation",
)  # fmt: skip


def _burn_panel(spec: str) -> dict[str, Any]:
    documents, errors = load_text(spec, "spec.yaml")
    assert errors == []
    board = detail_dashboard(build(documents)[0])
    panel: dict[str, Any] = next(p for p in board["panels"] if "burn rate" in p["title"])
    return panel


def test_burn_panel_marks_the_factor_an_adapted_tier_fires_at() -> None:
    """At 80% the page tiers fire at 90% errors, 4.5x (0.9 / 0.2): legends and lines say 4.5."""
    panel = _burn_panel(
        "apiVersion: agent-slo/v1\nworkflow: w\ntier: medium\nslos:\n"
        "  - {name: s, objective: 80, sli: {outcomes: {}}}\n"
    )
    assert [t["legendFormat"] for t in panel["targets"]] == [
        "page_fast: 1h, fires above 4.5x (90% errors)",  # 14.4 * 20% = 288%: adapted
        "page_slow: 6h, fires above 4.5x (90% errors)",  # 6 * 20% = 120%: adapted
        "ticket_fast: 1d, fires above 3x (60% errors)",
        "ticket_slow: 3d, fires above 1x (20% errors)",
    ]
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert steps == [
        {"color": "green", "value": None},
        {"color": "orange", "value": 1.0},
        {"color": "orange", "value": 3.0},
        {"color": "red", "value": 4.5},
    ]


def test_burn_panel_follows_the_tightening_schedule() -> None:
    """80% then 85%: the fast tier fires at 4.5x then 6x (0.9 / 0.15), drawn as a dashed series."""
    panel = _burn_panel(
        "apiVersion: agent-slo/v1\nworkflow: w\ntier: medium\nperiod: 7d\nslos:\n"
        "  - name: s\n    objective: 80\n    sli: {outcomes: {}}\n"
        "    tightening: [{date: 2027-01-01, objective: 85}]\n"
    )
    targets = {t["legendFormat"]: t["expr"] for t in panel["targets"]}
    assert (
        "page_fast: 14m, fires above 4.5x (90% errors) until 2027-01-01, then 6x (90% errors)"
        in targets
    )
    # 2027-01-01T00:00:00Z is 1798761600.
    assert targets["page_fast: threshold"] == (
        "vector(((time() < bool 1798761600) * 4.5 + (time() >= bool 1798761600) * 6))"
    )
    dashed = {o["matcher"]["options"] for o in panel["fieldConfig"]["overrides"]}
    assert "page_fast: threshold" in dashed
    lines = [s["value"] for s in panel["fieldConfig"]["defaults"]["thresholds"]["steps"]]
    assert 14.4 not in lines
    assert 4.5 not in lines  # the fast tier's line moves with the schedule: it is a series


def _fast_steps(rule_file: Path) -> None:
    """Run the 5-minute steps every second, so their series exist within a short test.

    Only timing changes: the step rules keep their meaning (events since the previous
    evaluation); values are not what this test checks.
    """
    text = rule_file.read_text()
    text = text.replace("interval: 5m", "interval: 1s").replace(" offset 5m", " offset 1s")
    rule_file.write_text(text)


def test_every_panel_query_returns_data(tmp_path: Path) -> None:
    """Each query of the overview and the workflow board returns at least one series."""
    (tmp_path / "spec.yaml").write_text(SPEC)
    out = tmp_path / "generated"
    files = pipeline.generate(pipeline.load([tmp_path / "spec.yaml"])).files
    writer.write(out, files)
    rules = sorted(out.glob("rules/*.rules.yml"))
    for rule_file in rules:
        _fast_steps(rule_file)
    boards = {p.name: json.loads(p.read_text()) for p in sorted(out.glob("dashboards/*.json"))}
    assert set(boards) == {"agent-slo-overview.json", "agent-slo-support.json"}

    store = Store(tmp_path / "state.db", load_catalog([tmp_path / "spec.yaml"]))
    server = make_server(store, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    client = OutcomeClient(f"http://{host}:{port}", flush_interval=0.1, strict=True)
    try:
        with running_prometheus(tmp_path, [f"{host}:{port}"], rule_files=rules) as prom:
            prom.wait_for('slo:sli_error:ratio_rate5m{slo="support-success"}')
            deadline = time.monotonic() + 12
            i = 0
            while time.monotonic() < deadline:
                outcome = OUTCOMES[i % len(OUTCOMES)] if i % 3 == 0 else "rejected"
                client.record(
                    "support",
                    outcome,
                    duration_seconds=0.5 + (i % 5),
                    model=("model-a", "model-b")[i % 2],
                    task=f"t{i % 3}",
                )
                i += 1
                time.sleep(0.01)
            assert client.flush(10)
            prom.wait_for('ALERTS{alertstate="firing",slo="support-success"}', timeout=30)
            prom.wait_for('slo:period_error_budget_remaining:ratio{slo="support-success"}')
            empty = []
            for name, board in boards.items():
                queries = panel_queries(board)
                assert queries
                for title, expr in queries:
                    query = expr.replace("$__rate_interval", "1m")
                    if not prom.query(query):
                        empty.append(f"{name} / {title}: {query}")
            assert empty == []
    finally:
        client.close()
        server.shutdown()
        server.server_close()
        thread.join()
        store.close()
