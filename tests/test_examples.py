"""The example agent, end to end: run as its README says against `agent-slo serve` of the
support-triage spec, with a real Prometheus evaluating the rules generated from that spec.
Every figure is counted by hand from the example's 22 tickets (18 answered, 2 escalated,
2 wrong tool calls)."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from realprom import Prometheus, generated_rules, running_exporter, running_prometheus

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "triage_agent.py"
SUCCESS = 'slo="support-triage-success"'
ESCALATION = 'slo="support-triage-escalation-miss"'


def exported(address: str) -> dict[tuple[str, str, str, str], float]:
    """The exporter's support-triage outcome counters that are not 0, by outcome, model,
    prompt version and queue."""
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as response:
        text = response.read().decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if (
                sample.name == "agent_outcomes_total"
                and labels["workflow"] == "support-triage"
                and sample.value
            ):
                key = (
                    labels["outcome"],
                    labels["model"],
                    labels["prompt_version"],
                    labels["queue"],
                )
                out[key] = sample.value
    return out


def wait_near(prom: Prometheus, expr: str, expected: float, timeout: float = 30.0) -> None:
    """Poll until ``expr`` reads ``expected`` (to float rounding)."""
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        got = prom.value(expr)
        if got is not None and got == pytest.approx(expected):
            return
        time.sleep(0.5)
    raise AssertionError(f"{expr} read {got}, not {expected}, within {timeout}s")


def test_the_example_agent_moves_the_support_triage_budget(tmp_path: Path) -> None:
    """The example's runs reach the exporter with their outcomes, model and prompt version,
    and Prometheus counts them in the period: for support-triage-success (95%, escalations
    excluded) 20 runs, 2 bad, a 10% error ratio that spends the budget twice (-1 left), and
    the exhausted budget's ticket and the red line's page fire; for the escalation-miss SLO,
    all 22 runs and none bad."""
    spec = (REPO / "slo-specs" / "support-triage.yaml").read_text()
    rules = generated_rules(tmp_path, spec, step="1s")
    with (
        running_exporter(tmp_path / "exporter", tmp_path / "spec.yaml") as address,
        running_prometheus(tmp_path, [address], rule_files=rules, interval="500ms") as prom,
    ):
        # As the README's walkthrough says: the rules have seen the counters at 0 first.
        prom.wait_for(f"slo:events:counter5m_before{{{SUCCESS}}}")
        command = [sys.executable, str(EXAMPLE), "--url", f"http://{address}"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stderr
        assert "recorded: escalated 2, success 18, wrong_tool_args 2" in result.stdout
        assert exported(address) == {
            ("success", "triage-small", "v1", "unknown"): 18,
            ("escalated", "triage-small", "v1", "unknown"): 2,
            ("wrong_tool_args", "triage-small", "v1", "unknown"): 2,
        }
        # Within seconds, the hour: 20 runs, 2 bad, a 0.1 error ratio.
        prom.wait_value(f"slo:events:increase1h{{{SUCCESS}}}", 20)
        assert prom.value(f"slo:bad_events:increase1h{{{SUCCESS}}}") == 2
        wait_near(prom, f"slo:sli_error:ratio_rate1h{{{SUCCESS}}}", 0.1)
        # At the next step, the period.
        prom.wait_value(f"slo:period_events:increase{{{SUCCESS}}}", 20)
        assert prom.value(f"slo:period_bad_events:increase{{{SUCCESS}}}") == 2
        wait_near(prom, f"slo:period_error_budget_remaining:ratio{{{SUCCESS}}}", -1.0)
        prom.wait_value(f"slo:period_events:increase{{{ESCALATION}}}", 22)
        assert prom.value(f"slo:period_bad_events:increase{{{ESCALATION}}}") == 0
        # The budget is exhausted (a ticket) and the red line crossed (a page); 2 bad runs
        # are fewer than the 3 a medium-tier burn alert needs.
        prom.wait_for(f'ALERTS{{alertname="ErrorBudgetPolicy",alertstate="firing",{SUCCESS}}}')
        prom.wait_for(f'ALERTS{{alertname="ErrorBudgetExhausted",alertstate="firing",{SUCCESS}}}')
        firing = prom.query('ALERTS{alertstate="firing",workflow="support-triage"}')
        assert sorted(
            (a["metric"]["alertname"], a["metric"].get("policy", ""), a["metric"]["severity"])
            for a in firing
        ) == [("ErrorBudgetExhausted", "", "ticket"), ("ErrorBudgetPolicy", "red_line", "page")]
