"""A real Prometheus scrapes the exporter and sees the outcome series."""

from __future__ import annotations

import json
import threading
import urllib.request
from pathlib import Path

from realprom import running_prometheus

from exporter.catalog import load_catalog
from exporter.server import make_server
from exporter.store import Store

SPEC = """\
apiVersion: agent-slo/v1
workflow: triage
dimensions:
  model: {max_values: 5, values: [model-a]}
slos:
  - name: triage-success
    sli: {outcomes: {}}
"""


def test_prometheus_scrapes_the_exporter(tmp_path: Path) -> None:
    """Pre-initialised series and recorded events reach Prometheus with their labels."""
    (tmp_path / "spec.yaml").write_text(SPEC)
    store = Store(tmp_path / "state.db", load_catalog([tmp_path / "spec.yaml"]))
    server = make_server(store, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        with running_prometheus(tmp_path, [f"{host}:{port}"]) as prom:
            zero = prom.wait_for('agent_outcomes_total{workflow="triage",outcome="rejected"}')
            assert {r["metric"]["model"] for r in zero} == {"model-a", "unknown"}
            assert {r["value"][1] for r in zero} == {"0"}
            request = urllib.request.Request(
                f"http://{host}:{port}/v1/outcomes",
                data=json.dumps(
                    {
                        "workflow": "triage",
                        "outcome": "rejected",
                        "count": 3,
                        "dimensions": {"model": "model-a"},
                        "duration_seconds": 4.2,
                    }
                ).encode(),
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 200
            seen = prom.wait_for(
                'agent_outcomes_total{workflow="triage",outcome="rejected",model="model-a"} == 3'
            )
            assert seen[0]["metric"]["job"] == "agent-slo"
            prom.wait_for(
                'agent_run_duration_seconds_count{workflow="triage",model="model-a"} == 3'
            )
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
        store.close()
