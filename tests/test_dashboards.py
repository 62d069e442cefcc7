"""Every dashboard query, run against a real Prometheus that scraped the exporter and
evaluated the generated rules: it parses and it returns data."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from realprom import running_prometheus

from exporter.catalog import load_catalog
from exporter.client import OutcomeClient
from exporter.server import make_server
from exporter.store import Store
from rulegen import pipeline, writer
from rulegen.generators.dashboards import panel_queries

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
"""
OUTCOMES = (
    "success", "minor_fix", "major_rewrite", "rejected", "escalation_miss", "duplicate_work",
    "escalated", "policy_violation",
)  # fmt: skip


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
