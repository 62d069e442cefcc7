"""`agent-slo report prometheus` on a real Prometheus scraping the exporter and evaluating
the generated rules (their step group every 2 s instead of 5 minutes), with known counts.

Recorded: task a 20 runs, 12 rejected; task b 20 runs, 1 rejected; task c 3 runs, none; all
on model-a. In all 43 runs, 13 bad: 30.23%. Workflow `idle` records nothing.

- triage-quality: objective 90 until tomorrow, then 95. Budget now 10%: 4.3 failures
  allowed, 1 - 13/4.3 = -202.3% left; policies tighten above 20%, stop above 50%: the whole
  is at "tighten"; task a (60%) "stop", task b (5%, 1 of its 2 allowed) within budget, task
  c (3 runs, fewer than 10) no verdict yet; model-a (30.2%) "tighten".
- triage-strict: the same SLI, 95 since yesterday: budget 5%, 2.15 allowed, 1 - 13/2.15 =
  -504.7% left.
- idle-success: no runs, no verdict.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from harness import process, wait_http
from realprom import Prometheus, free_port, generated_rules, running_prometheus

from agent_slo.cli import main
from exporter.client import OutcomeClient

TODAY = dt.datetime.now(dt.UTC).date()
SPEC = f"""\
apiVersion: agent-slo/v1
workflow: triage
dimensions:
  task: {{max_values: 10, values: [a, b, c]}}
  model: {{max_values: 10, values: [model-a]}}
autonomy:
  - {{days_in_budget: 1, grant: Run without a reviewer.}}
policies:
  - {{name: tighten, failure_rate_above: 20, action: Tighten the prompts.}}
  - {{name: stop, failure_rate_above: 50, action: Stop using the agent for it.}}
slos:
  - name: triage-quality
    objective: 90
    sli: {{outcomes: {{bad: [rejected]}}}}
    tightening: [{{date: {TODAY + dt.timedelta(days=1)}, objective: 95}}]
  - name: triage-strict
    objective: 90
    sli: {{outcomes: {{bad: [rejected]}}}}
    tightening: [{{date: {TODAY - dt.timedelta(days=1)}, objective: 95}}]
---
apiVersion: agent-slo/v1
workflow: idle
slos:
  - name: idle-success
    objective: 99
    sli: {{outcomes: {{}}}}
"""


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Prometheus, Path]]:
    """Prometheus with the recorded counts above, and the spec file."""
    tmp = tmp_path_factory.mktemp("report")
    rules = generated_rules(tmp, SPEC, step="2s")
    spec = tmp / "spec.yaml"
    port = free_port()
    serve = [
        str(Path(sys.executable).parent / "agent-slo"), "serve", "--specs", str(spec),
        "--port", str(port), "--state", str(tmp / "state.db"),
    ]  # fmt: skip
    with ExitStack() as stack:
        stack.enter_context(process(serve, tmp / "exporter.log"))
        wait_http(f"http://127.0.0.1:{port}/readyz")
        running = stack.enter_context(
            running_prometheus(tmp, [f"127.0.0.1:{port}"], rule_files=rules)
        )
        for slo in ("triage-quality", "triage-strict"):
            running.wait_for(f'slo:events:counter5m_before{{slo="{slo}"}}')
        client = OutcomeClient(f"http://127.0.0.1:{port}", strict=True)
        stack.callback(client.close, 5)
        for task, runs, bad in (("a", 20, 12), ("b", 20, 1), ("c", 3, 0)):
            for i in range(runs):
                outcome = "rejected" if i < bad else "success"
                client.record("triage", outcome, task=task, model="model-a")
        assert client.flush(10)
        for slo in ("triage-quality", "triage-strict"):
            running.wait_value(f'slo:period_events:increase{{slo="{slo}"}}', 43)
            running.wait_value(f'slo:period_bad_events:increase{{slo="{slo}"}}', 13)
            running.wait_for(f'slo:period_error_budget_remaining:ratio{{slo="{slo}"}} < 0')
        yield running, spec


def _report(prom: tuple[Prometheus, Path], *args: str) -> Any:
    running, spec = prom
    result = CliRunner().invoke(
        main,
        ["report", "prometheus", "--prometheus", running.url, "--specs", str(spec), *args],
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.output) if "json" in args else result.output


def test_figures_add_up_and_every_row_has_its_verdict(prom: tuple[Prometheus, Path]) -> None:
    [report] = _report(prom, "--slo", "triage-quality", "--format", "json")
    assert (report["runs"], report["failures"]) == (43, 13)
    assert report["counts"] == {"rejected": 13, "success": 30}
    assert report["allowed_failures"] == pytest.approx(4.3)
    assert report["budget_remaining"] == pytest.approx(1 - 13 / 4.3)
    assert (report["status"], report["action"]) == ("tighten", "Tighten the prompts.")
    rows = {
        b["value"]: (b["runs"], b["failures"], b["status"]) for b in report["breakdowns"]["task"]
    }
    assert rows == {
        "a": (20, 12, "stop"),
        "b": (20, 1, "within_budget"),
        "c": (3, 0, "not_enough_runs"),
    }
    assert [(b["value"], b["status"]) for b in report["breakdowns"]["model"]] == [
        ("model-a", "tighten")
    ]
    for items in report["breakdowns"].values():  # every breakdown adds up to the whole
        assert sum(b["runs"] for b in items) == 43
        assert sum(b["failures"] for b in items) == 13
    assert report["act_on"] == [
        {"status": "stop", "action": "Stop using the agent for it.", "rows": ["task a"]},
        {"status": "tighten", "action": "Tighten the prompts.", "rows": ["model model-a"]},
    ]
    assert report["notes"] == []
    assert sum(runs for _, runs, _ in report["daily"]) == 43
    assert sum(bad for _, _, bad in report["daily"]) == 13
    assert report["daily"][-1][1:] == [43, 13]
    [fewer] = _report(prom, "--slo", "triage-quality", "--min-runs", "3", "--format", "json")
    assert fewer["budget_remaining"] == report["budget_remaining"]  # the same recorded figures
    assert fewer["breakdowns"]["task"][-1]["status"] == "within_budget"  # c: 3 runs, 0 bad


def test_autonomy_from_the_budget_history(prom: tuple[Prometheus, Path]) -> None:
    """Spent now: no day inside budget, the grant not earned and no due date until the budget
    is back; the idle SLO's budget is whole but its history only minutes long: not a day."""
    reports = {r["slo"]: r for r in _report(prom, "--format", "json")}
    quality = reports["triage-quality"]["autonomy"]
    assert quality["days_in_budget"] == 0
    assert quality["ended_by"]["kind"] == "budget_spent", quality
    assert quality["grants"] == [
        {"index": 1, "days": 1, "grant": "Run without a reviewer.", "earned": False, "due": None}
    ]
    idle = reports["idle-success"]["autonomy"]
    assert idle["ended_by"]["kind"] == "start_of_history"
    assert idle["days_in_budget"] < 1 / 24
    assert idle["grants"] == []
    table = _report(prom, "--slo", "triage-quality")
    assert "Autonomy: 0.0 day(s) inside budget; before that, the budget was spent at " in table
    assert (
        "- grant 1 after 1 days (Run without a reviewer.): not earned: the count starts again"
        in table
    )


def test_the_objective_in_force_now_and_the_schedule_ahead(prom: tuple[Prometheus, Path]) -> None:
    """Before its tightening date the SLO judges at 90% and shows 95% ahead; past it, at 95%."""
    [before] = _report(prom, "--slo", "triage-quality", "--format", "json")
    [after] = _report(prom, "--slo", "triage-strict", "--format", "json")
    assert (before["objective"], before["budget"]) == (pytest.approx(0.9), pytest.approx(0.1))
    assert before["schedule"] == [[(TODAY + dt.timedelta(days=1)).isoformat(), 0.95]]
    assert (after["objective"], after["budget"]) == (pytest.approx(0.95), pytest.approx(0.05))
    assert after["schedule"] == []
    assert after["allowed_failures"] == pytest.approx(2.15)
    assert after["budget_remaining"] == pytest.approx(1 - 13 / 2.15)
    table = _report(prom, "--slo", "triage-quality")
    assert f"Objective now: 0.9, 0.95 from {TODAY + dt.timedelta(days=1)}" in table


def test_thresholds_given_replace_the_policies(prom: tuple[Prometheus, Path]) -> None:
    """--budget 40 --warning 50: 13 of 43 against 17.2 allowed leaves 1 - 13/17.2 = 24.4%,
    within budget; task a (60%) passes the 50% warning."""
    [report] = _report(
        prom, "--slo", "triage-quality", "--budget", "40", "--warning", "50", "--format", "json"
    )
    assert report["status"] == "within_budget"
    assert report["budget_remaining"] == pytest.approx(1 - 13 / 17.2)
    assert report["breakdowns"]["task"][0]["status"] == "warning"


def test_one_review_of_every_slo_the_worst_first(prom: tuple[Prometheus, Path]) -> None:
    """Every SLO, the least budget left first, the one without data last and said so."""
    reports = _report(prom, "--format", "json")
    assert [(r["slo"], r["status"]) for r in reports] == [
        ("triage-strict", "tighten"),
        ("triage-quality", "tighten"),
        ("idle-success", "no_data"),
    ]
    markdown = _report(prom, "--format", "markdown")
    assert markdown.startswith("# Weekly review: 3 SLO(s), the worst first")
    strict = next(line for line in markdown.splitlines() if line.startswith("| triage-strict"))
    assert strict.startswith("| triage-strict | TIGHTEN | -505% |")
    assert strict.endswith(
        "| 6.05x | 0.0d in budget, 0 of 1 grants | task a | Tighten the prompts. |"
    )
    assert "| idle-success | NO DATA |" in markdown
    page = _report(prom, "--all", "--format", "html")
    assert page.count("<section") == 3
    assert '<span class="verdict severe" title="Stop using the agent for it.">STOP</span>' in page


_MOMENT = re.compile(r"\d{4}-\d\d-\d\d(?: \d\d:\d\d UTC|T\d\d:\d\d:\d\dZ)?")


def _shown(command: str) -> str:
    """The README's output of ``command``, its dates and times as ``<when>``."""
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    block = readme.split(f"$ {command}\n", 1)[1].split("```", 1)[0]
    return _MOMENT.sub("<when>", block)


def test_the_readme_shows_the_review_and_the_gate_as_they_print(
    prom: tuple[Prometheus, Path],
) -> None:
    """The README's review and gate outputs are this Prometheus's, figure for figure (dates
    and times aside: they move with the day the test runs)."""
    review = _MOMENT.sub("<when>", _report(prom))
    shown = _shown("agent-slo report prometheus --specs spec.yaml")
    assert shown.endswith("...\n")
    assert review.startswith(shown.removesuffix("...\n"))
    running, spec = prom
    gate = CliRunner().invoke(
        main,
        ["gate", "--prometheus", running.url, "--specs", str(spec), "--slo", "triage-quality"],
    )
    assert gate.exit_code == 1
    assert _MOMENT.sub("<when>", gate.output) == _shown(
        "agent-slo gate --specs spec.yaml --slo triage-quality"
    )


def test_since_and_until_choose_the_period(prom: tuple[Prometheus, Path]) -> None:
    """Every run was recorded today: a period from 00:00 UTC today holds all 43; one that
    ends at 00:00 UTC today holds none, and says so rather than judging."""
    today = TODAY.isoformat()
    [since] = _report(prom, "--slo", "triage-quality", "--since", today, "--format", "json")
    assert (since["runs"], since["failures"], since["status"]) == (43, 13, "tighten")
    assert since["since"].startswith(today)
    assert [day[1:] for day in since["daily"]] == [[43, 13]]  # one partial day
    [until] = _report(prom, "--slo", "triage-quality", "--until", today, "--format", "json")
    assert (until["runs"], until["status"]) == (0, "no_data")
    assert until["until"] == f"{today} 00:00 UTC"


def test_the_gate_judges_at_the_objective_in_force(prom: tuple[Prometheus, Path]) -> None:
    """The gate reads the objective of the day it judges: 90% before the tightening date, 95%
    after it."""
    running, spec = prom
    for slo, objective in (("triage-quality", 0.9), ("triage-strict", 0.95)):
        gate = CliRunner().invoke(
            main,
            ["gate", "--prometheus", running.url, "--specs", str(spec), "--slo", slo, "--json"],
        )
        assert gate.exit_code == 1, gate.output
        assert json.loads(gate.output)["figures"]["objective"] == pytest.approx(objective)
