"""The status page's test site, shared by its test files: one real Prometheus a test
process (a session fixture; under ``--dist loadfile`` each worker starts its own) scraping
the exporter and evaluating the generated rules (their step group every 2 s), with known
counts.

Recorded, as for the report: task a 20 runs, 12 rejected; task b 20 runs, 1 rejected; task
c 3 runs, none; all on model-a. In all 43 runs, 13 bad.

- triage-quality (team support, medium): objective 90 (95 from 2030): 4.3 failures
  allowed, 1 - 13/4.3 = -202.3% left, 4.3 - 13 = -8.7 runs left, SLI 30/43 = 69.77%; the
  failure rate 30.2% passes "tighten" (20%) but not "stop" (50%).
- idle-success (team ops, low): rules loaded, no run: "no data yet". One more rule holds an
  alert of its page tier (1h/5m) pending for an hour (``for: 1h``), the state an alert is
  in before it fires.
- unloaded-success (team ops, high): its rules are not given to Prometheus: "rules not
  loaded".
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from realprom import Prometheus, generated_rules, running_exporter, running_prometheus

from exporter.client import OutcomeClient
from rulegen.resolve import load
from statuspage.app import StatusPage
from statuspage.overview import Catalog

__all__ = ["PENDING_RULES", "SPEC", "Site", "site"]

SPEC = """\
apiVersion: agent-slo/v1
workflow: triage
tier: medium
labels: {team: support}
dimensions:
  task: {max_values: 10, values: [a, b, c]}
  model: {max_values: 10, values: [model-a]}
alerting:
  runbook_url: https://runbooks.example.com/triage
  dashboard_url: https://grafana.example.com/d/triage
autonomy:
  - {days_in_budget: 1, grant: Run without a reviewer.}
policies:
  - {name: tighten, failure_rate_above: 20, action: Tighten the prompts.}
  - {name: stop, failure_rate_above: 50, action: Stop using the agent for it.}
slos:
  - name: triage-quality
    objective: 90
    sli: {outcomes: {bad: [rejected]}}
    tightening: [{date: 2030-01-01, objective: 95}]
---
apiVersion: agent-slo/v1
workflow: idle
tier: low
labels: {team: ops}
slos:
  - name: idle-success
    objective: 99
    sli: {outcomes: {}}
---
apiVersion: agent-slo/v1
workflow: unloaded
tier: high
labels: {team: ops}
slos:
  - name: unloaded-success
    description: Its rules are not given to Prometheus.
    objective: 99
    sli: {outcomes: {}}
"""


@dataclass(frozen=True)
class Site:
    """The running Prometheus, the spec file and its SLOs."""

    prom: Prometheus
    spec: Path
    catalog: Catalog

    def page(self, at: float, **options: Any) -> StatusPage:
        """The status page as of Unix time ``at``."""
        return StatusPage(self.prom, self.catalog, clock=lambda: at, **options)


#: An alert of idle-success's page tier that stays pending: its condition holds from the
#: first evaluation, and it fires only once it has held for an hour.
PENDING_RULES = {
    "groups": [
        {
            "name": "pending",
            "interval": "1s",
            "rules": [
                {
                    "alert": "ErrorBudgetBurn",
                    "expr": 'slo:period_events:increase{slo="idle-success"} >= 0',
                    "for": "1h",
                    "labels": {"severity": "page", "long_window": "1h", "short_window": "5m"},
                }
            ],
        }
    ]
}


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """Prometheus with the counts above recorded for triage, the rules of every SLO but
    unloaded-success, and the pending alert of idle-success."""
    tmp = tmp_path_factory.mktemp("statuspage")
    rules = [p for p in generated_rules(tmp, SPEC, step="2s") if not p.name.startswith("unloaded")]
    (tmp / "pending.rules.yml").write_text(yaml.safe_dump(PENDING_RULES))
    rules.append(tmp / "pending.rules.yml")
    spec = tmp / "spec.yaml"
    with ExitStack() as stack:
        exporter = stack.enter_context(running_exporter(tmp / "exporter", spec))
        running = stack.enter_context(running_prometheus(tmp, [exporter], rule_files=rules))
        running.wait_for('slo:events:counter5m_before{slo="triage-quality"}')
        client = OutcomeClient(f"http://{exporter}", strict=True)
        stack.callback(client.close, 5)
        for task, runs, bad in (("a", 20, 12), ("b", 20, 1), ("c", 3, 0)):
            for i in range(runs):
                client.record(
                    "triage", "rejected" if i < bad else "success", task=task, model="model-a"
                )
        assert client.flush(10)
        running.wait_value('slo:period_events:increase{slo="triage-quality"}', 43)
        running.wait_value('slo:period_bad_events:increase{slo="triage-quality"}', 13)
        running.wait_for('slo:period_error_budget_remaining:ratio{slo="triage-quality"} < 0')
        running.wait_for('slo:period_events:increase{slo="idle-success"}')
        running.wait_for('ALERTS{slo="triage-quality", alertstate="firing"}')
        running.wait_for('ALERTS{slo="idle-success", alertstate="pending"}')
        # The SLO page's charts end at the whole second before the moment asked about: the
        # budget spent must be what Prometheus answers for a second ago too.
        running.wait_for(
            'slo:period_error_budget_remaining:ratio{slo="triage-quality"} offset 2s < 0'
        )
        yield Site(running, spec, Catalog(load([spec])))
