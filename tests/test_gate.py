"""The deploy gate against a real Prometheus scraping known figures.

A fixture target serves the recorded budget series and ALERTS of five SLOs (as the
generated rules would record them; two without events in their period, one recording 0 and
one nothing) and outcome counters growing at fixed rates: baseline
prompt v41 100 runs/s, 1% bad; canary v42 10 runs/s, 30% bad (worse); canary v43 10
runs/s, 1% bad (equal); canary v44 one run every 10 s (too little data).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from harness import ScrapeTarget
from realprom import Prometheus, free_port, running_prometheus

from agent_slo.cli import main
from decisions.gate import fisher_greater

SPEC = """\
apiVersion: agent-slo/v1
workflow: w
slos:
  - name: healthy
    objective: 99
    sli: {outcomes: {bad: [rejected]}}
    policies: [{name: review, budget_remaining_below: 70, action: Review the failures weekly}]
  - {name: spent, objective: 99, sli: {outcomes: {bad: [rejected]}}}
  - {name: paging, objective: 99, sli: {outcomes: {bad: [rejected]}}}
  - {name: idle, objective: 99, sli: {outcomes: {bad: [rejected]}}}
  - {name: unrecorded, objective: 99, sli: {outcomes: {bad: [rejected]}}}
"""
RATES = {  # prompt version: (runs per second, bad share)
    "v41": (100.0, 0.01),
    "v42": (10.0, 0.30),
    "v43": (10.0, 0.01),
    "v44": (0.1, 0.0),
}


class Fixture:
    """A scrape target with known figures."""

    def __init__(self) -> None:
        self.start = time.time()
        self.scraped = ScrapeTarget(self.text)

    @property
    def target(self) -> str:
        return self.scraped.address

    def text(self) -> str:
        elapsed = time.time() - self.start
        lines = [
            'slo:period_error_budget_remaining:ratio{slo="healthy",workflow="w"} 0.6',
            'slo:period_events:increase{slo="healthy",window="30d",workflow="w"} 1000',
            'slo:period_bad_events:increase{slo="healthy",window="30d",workflow="w"} 4',
            'slo:period_allowed_bad_events:count{slo="healthy",window="30d",workflow="w"} 10',
            'slo:error_budget:ratio{slo="healthy",workflow="w"} 0.01',
            'slo:objective:ratio{slo="healthy",workflow="w"} 0.99',
            'slo:period_error_budget_remaining:ratio{slo="spent",workflow="w"} -0.2',
            'slo:period_events:increase{slo="spent",window="30d",workflow="w"} 1000',
            'slo:period_error_budget_remaining:ratio{slo="paging",workflow="w"} 0.5',
            'slo:period_events:increase{slo="paging",window="30d",workflow="w"} 1000',
            'slo:period_error_budget_remaining:ratio{slo="idle",workflow="w"} 1',
            'slo:period_events:increase{slo="idle",window="30d",workflow="w"} 0',
            'slo:period_error_budget_remaining:ratio{slo="unrecorded",workflow="w"} 1',
            'ALERTS{alertname="ErrorBudgetBurn",alertstate="firing",severity="page",'
            'slo="paging",workflow="w"} 1',
        ]
        for version, (rate, bad) in RATES.items():
            runs = int(rate * elapsed)
            bad_runs = int(runs * bad)
            for outcome, value in (("success", runs - bad_runs), ("rejected", bad_runs)):
                lines.append(
                    f'agent_outcomes_total{{workflow="w",outcome="{outcome}",'
                    f'prompt_version="{version}"}} {value}'
                )
        return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Prometheus, Path]]:
    """Prometheus that has scraped the fixture for about 20 s, and the spec file."""
    tmp = tmp_path_factory.mktemp("gate")
    (tmp / "spec.yaml").write_text(SPEC)
    fixture = Fixture()
    with running_prometheus(tmp, [fixture.target], honor_labels=True) as running:
        running.wait_for('agent_outcomes_total{prompt_version="v42"} > 0')
        time.sleep(20)
        yield running, tmp / "spec.yaml"
    fixture.scraped.close()


def _gate(prom: tuple[Prometheus, Path], *args: str) -> tuple[int, dict[str, Any]]:
    running, spec = prom
    result = CliRunner().invoke(
        main, ["gate", "--specs", str(spec), "--prometheus", running.url, "--json", *args]
    )
    return result.exit_code, json.loads(result.output)


def test_healthy_allows(prom: tuple[Prometheus, Path]) -> None:
    """Budget left and nothing paging: allow (exit 0)."""
    code, verdict = _gate(prom, "--slo", "healthy")
    assert (code, verdict["verdict"]) == (0, "allow")
    assert verdict["figures"]["budget_remaining"] == pytest.approx(0.6)


@pytest.mark.parametrize("slo", ["idle", "unrecorded"])
def test_no_events_is_undecided(prom: tuple[Prometheus, Path], slo: str) -> None:
    """No events in the period (0 recorded, or none): nothing to judge, exit 3, never allow."""
    code, verdict = _gate(prom, "--slo", slo)
    assert (code, verdict["verdict"]) == (3, "undecided")
    assert verdict["reasons"] == [
        f"no events in the period: nothing to judge ({slo} recorded no run in its 30d period)"
    ]
    assert verdict["figures"]["period_events"] == 0


def test_minimum_remaining_denies(prom: tuple[Prometheus, Path]) -> None:
    """60% left is not enough when 75% is required."""
    code, verdict = _gate(prom, "--slo", "healthy", "--min-remaining", "75")
    assert code == 1
    assert "only 60% of the 30d budget of healthy remains" in verdict["reasons"][0]


def test_exhausted_denies(prom: tuple[Prometheus, Path]) -> None:
    """A spent budget denies, quoting the policy's action."""
    code, verdict = _gate(prom, "--slo", "spent")
    assert code == 1
    assert (
        "error budget of spent is spent (-20% remains); policy: Freeze changes"
        in (verdict["reasons"][0])
    )


def test_page_firing_denies(prom: tuple[Prometheus, Path]) -> None:
    """A firing page denies even with budget left."""
    code, verdict = _gate(prom, "--slo", "paging")
    assert code == 1
    assert verdict["reasons"] == ["a page is firing for paging: ErrorBudgetBurn"]


def test_canary_worse_denies(prom: tuple[Prometheus, Path]) -> None:
    """A canary at 30% bad against 1% is significantly worse: deny."""
    code, verdict = _gate(
        prom, "--slo", "healthy", "--canary", 'prompt_version="v42"', "--canary-window", "1m"
    )
    assert code == 1, verdict
    assert verdict["figures"]["p_value"] < 1e-6
    for side in ("canary", "baseline"):
        assert {type(verdict["figures"][side][k]) for k in ("bad", "runs")} == {int}
    assert 'the canary (prompt_version="v42") is worse' in verdict["reasons"][0]


def test_canary_equal_allows(prom: tuple[Prometheus, Path]) -> None:
    """A canary as good as the baseline passes."""
    code, verdict = _gate(
        prom, "--slo", "healthy", "--canary", 'prompt_version="v43"', "--canary-window", "1m"
    )
    assert code == 0, verdict
    assert verdict["figures"]["p_value"] > 0.01


def test_too_little_data_is_undecided(prom: tuple[Prometheus, Path]) -> None:
    """A canary with a handful of runs, or autonomy without history: exit 3 with the reason."""
    code, verdict = _gate(
        prom, "--slo", "healthy", "--canary", 'prompt_version="v44"', "--canary-window", "1m"
    )
    assert code == 3
    assert verdict["exit_code"] == 3
    assert verdict["reasons"][0].startswith("not enough data yet: canary")
    code, verdict = _gate(prom, "--slo", "healthy", "--require-days-in-budget", "30")
    assert code == 3
    assert verdict["reasons"][0].startswith(
        "cannot tell whether 30d inside the budget is earned: healthy has been inside"
    )
    assert verdict["figures"]["autonomy"]["ended_by"]["kind"] == "start_of_history"


def test_unreachable_prometheus_is_undecided(tmp_path: Path) -> None:
    """No Prometheus: exit 3, saying so."""
    (tmp_path / "spec.yaml").write_text(SPEC)
    url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(
        main, ["gate", "--specs", str(tmp_path), "--prometheus", url, "--slo", "healthy"]
    )
    assert result.exit_code == 3
    assert f"cannot query Prometheus at {url}" in result.output


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["--canary", "prompt_version"],
            2,
            "Invalid value for '--canary': 'prompt_version' is not",
        ),
        (["--canary", 'a="1",b="2"'], 2, "is not one label matcher"),
        (["--canary-window", "soon"], 2, "Invalid value for '--canary-window': invalid duration"),
        (["--slo", "nope"], 2, "unknown SLO 'nope'"),
        (["--grant", "1"], 2, "Invalid value for '--grant': workflow 'w' declares no autonomy"),
        (["--require-days-in-budget", "0"], 2, "Invalid value for '--require-days-in-budget'"),
        (["--at", "yesterday"], 2, "Invalid value for '--at'"),
    ],
)
def test_bad_gate_options_are_usage_errors(
    tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    """A bad option value is a usage error (2), with a message naming the option: never a
    traceback, never "deny" (1) or "undecided" (3)."""
    (tmp_path / "spec.yaml").write_text(SPEC)
    result = CliRunner().invoke(main, ["gate", "--specs", str(tmp_path), "--slo", "healthy", *args])
    assert result.exit_code == code, result.output
    assert message in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_invalid_specs_are_neither_deny_nor_undecided(tmp_path: Path) -> None:
    """The gate cannot judge with invalid specs: exit 4, with the errors."""
    (tmp_path / "spec.yaml").write_text(SPEC.replace("workflow:", "workflw:", 1))
    result = CliRunner().invoke(main, ["gate", "--specs", str(tmp_path), "--slo", "healthy"])
    assert result.exit_code == 4, result.output
    assert "no decision was made" in result.output


def test_fisher_exact_test() -> None:
    """Known values of the one-sided Fisher exact test (Lady tasting tea: 1/70 for 4 of 4)."""
    assert fisher_greater(4, 4, 0, 4) == pytest.approx(1 / 70)
    assert fisher_greater(0, 4, 4, 4) == pytest.approx(1.0)
    assert fisher_greater(3, 4, 1, 4) == pytest.approx(17 / 70)
