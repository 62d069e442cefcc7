"""A real Prometheus scrapes the exporter and sees the outcome series."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from exporters import catalog_of, serving
from realprom import running_prometheus

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
    store = Store(tmp_path / "state.db", catalog_of(SPEC))
    try:
        with serving(store) as url, running_prometheus(tmp_path, [_address(url)]) as prom:
            zero = prom.wait_for('agent_outcomes_total{workflow="triage",outcome="rejected"}')
            assert {r["metric"]["model"] for r in zero} == {"model-a", "unknown"}
            assert {r["value"][1] for r in zero} == {"0"}
            request = urllib.request.Request(
                f"{url}/v1/outcomes",
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
        store.close()


def _address(url: str) -> str:
    """``host:port`` of an ``http://`` URL: a scrape target."""
    return url.removeprefix("http://")
