"""The full path, all real: agents (the Python client) → exporter → Prometheus (generated
rules) → Alertmanager (the example routing) → a webhook receiver on loopback."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from harness import Webhook, process, running_alertmanager, wait_http
from realprom import free_port, running_prometheus

from exporter.client import OutcomeClient
from rulegen import pipeline, writer

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "alertmanager" / "alertmanager.yml"
SPEC = """\
apiVersion: agent-slo/v1
workflow: checkout
tier: high
dimensions:
  model: {max_values: 5, values: [model-a]}
slos:
  - name: checkout-success
    objective: 99
    sli: {outcomes: {bad: [rejected, wrong_action]}}
---
apiVersion: agent-slo/v1
workflow: refunds
tier: high
slos:
  - name: refunds-success
    objective: 99
    sli: {outcomes: {bad: [rejected]}}
"""


def test_amtool_accepts_the_example_and_routes_as_documented() -> None:
    """amtool checks the example config; pages and zero tolerance go to the pager."""
    amtool = shutil.which("amtool")
    assert amtool, "amtool is missing: run scripts/setup (Debian's prometheus-alertmanager)"
    check = subprocess.run(
        [amtool, "check-config", str(EXAMPLE)], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    cases = {
        ("alertname=ErrorBudgetBurn", "severity=page", "slo=a"): "pager",
        ("alertname=ErrorBudgetBurn", "severity=ticket", "slo=a"): "tickets",
        ("alertname=ZeroToleranceOutcome", "severity=page", "outcome=x"): "pager",
        ("alertname=ErrorBudgetExhausted", "severity=ticket", "slo=a"): "tickets",
    }
    for labels, receiver in cases.items():
        result = subprocess.run(
            [amtool, "config", "routes", "test", f"--config.file={EXAMPLE}", *labels],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.stdout.strip() == receiver, (labels, result.stdout, result.stderr)


def test_agents_to_pager(tmp_path: Path) -> None:
    """Healthy traffic and an exporter killed and restarted mid-run send nothing; a fast burn
    pages for the right SLO; one zero-tolerance event on a new series pages."""
    (tmp_path / "spec.yaml").write_text(SPEC)
    out = tmp_path / "generated"
    writer.write(out, pipeline.generate(pipeline.load([tmp_path / "spec.yaml"])).files)
    rules = sorted(out.glob("rules/*.rules.yml"))
    webhook = Webhook()
    am_port, exporter_port = free_port(), free_port()
    cli = Path(sys.executable).parent / "agent-slo"
    serve = [
        str(cli), "serve", "--specs", str(tmp_path / "spec.yaml"), "--port", str(exporter_port),
        "--state", str(tmp_path / "state.db"),
    ]  # fmt: skip
    with ExitStack() as stack:
        stack.callback(webhook.server.server_close)
        stack.callback(webhook.server.shutdown)
        stack.enter_context(running_alertmanager(tmp_path, am_port, webhook.port))
        exporter = stack.enter_context(process(serve, tmp_path / "exporter.log"))
        wait_http(f"http://127.0.0.1:{exporter_port}/readyz")
        prom = stack.enter_context(
            running_prometheus(
                tmp_path,
                [f"127.0.0.1:{exporter_port}"],
                rule_files=rules,
                alertmanagers=[f"127.0.0.1:{am_port}"],
            )
        )
        client = OutcomeClient(
            f"http://127.0.0.1:{exporter_port}", flush_interval=0.2, max_retries=30, strict=False
        )
        stack.callback(client.close, 5)
        prom.wait_for('slo:sli_error:ratio_rate5m{slo="checkout-success"}')

        # Healthy traffic (0.5% bad, a fifth of the budget) with a kill -9 and restart midway.
        def healthy(seconds: float) -> None:
            end = time.monotonic() + seconds
            i = 0
            while time.monotonic() < end:
                for workflow in ("checkout", "refunds"):
                    client.record(workflow, "rejected" if i % 200 == 0 else "success")
                i += 1
                time.sleep(0.01)

        healthy(8)
        os.kill(exporter.pid, signal.SIGKILL)
        exporter.wait()
        healthy(2)  # the client queues and retries meanwhile
        stack.enter_context(process(serve, tmp_path / "exporter.log"))
        wait_http(f"http://127.0.0.1:{exporter_port}/readyz")
        healthy(10)
        assert client.flush(30)
        assert prom.query('ALERTS{alertstate="firing"}') == []
        assert webhook.received == [], "healthy traffic (and a restart) must notify nobody"

        # A fast burn on checkout: every run fails. The page needs more than 14.4% of the
        # last hour's runs bad (burn 14.4 at 99%): about 2,000 healthy runs came before, so
        # 800 failures (28% of the hour) are well past it.
        started = time.monotonic()
        for _ in range(800):
            client.record("checkout", "rejected", model="model-a")
            time.sleep(0.005)
        try:
            path, labels = webhook.wait_for("ErrorBudgetBurn", timeout=60)
        except AssertionError:
            state = {
                q: [(r["metric"], r["value"][1]) for r in prom.query(q)]
                for q in (
                    "ALERTS",
                    'agent_outcomes_total{workflow="checkout"} > 0',
                    'slo:sli_error:ratio_rate1h{slo="checkout-success"}',
                )
            }
            raise AssertionError(f"no page; Prometheus saw {state}") from None
        assert (path, labels["severity"], labels["slo"]) == ("/pager", "page", "checkout-success")
        assert labels["long_window"] == "1h"
        assert time.monotonic() - started < 60
        assert all(a[1]["slo"] == "checkout-success" for a in webhook.alerts("ErrorBudgetBurn"))

        # One policy violation by a model never seen before pages on its own.
        client.record("refunds", "policy_violation")
        assert client.flush(10)
        path, labels = webhook.wait_for("ZeroToleranceOutcome", timeout=60)
        assert (path, labels["workflow"], labels["outcome"]) == (
            "/pager",
            "refunds",
            "policy_violation",
        )
