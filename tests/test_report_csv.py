"""The review-log report and import: figures worked out by hand from tests/reviewlog/log.csv.

Week 2026-03-23..29: 16 reviewed outputs: 7 accepted as is, 4 minor fixes, 2 major rewrites,
3 rejected. Failures (major rewrite or rejected): 5, 31.25%, above the 30% warning line and
under the 50% red line; the budget (20% of 16 = 3.2 failures) is overspent by 1.8, i.e.
1 - 5/3.2 = -56.25% remains, burn rate 1.5625x. The week before: 1 failure in 10 (10%), so
+21.25 points. By task: regex parser burned 4 of the 3.2 allowed (125%), auth middleware 1
(31.25%, one run: too few to mean anything); by model gpt-4o 5 failures in 10 runs, claude-3.5
none in 6; by prompt v1 5 in 6, v2 none in 10.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from agent_slo.cli import main

LOG = Path(__file__).parent / "reviewlog" / "log.csv"
BAD = Path(__file__).parent / "reviewlog" / "bad.csv"


def _json(*args: str) -> dict:  # type: ignore[type-arg]
    result = CliRunner().invoke(main, ["report", "csv", str(LOG), "--format", "json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def test_week_figures() -> None:
    """Totals, shares, failure rate, budget in runs, status and action for the last week."""
    report = _json("--min-runs", "5")
    assert (report["since"], report["until"]) == ("2026-03-23", "2026-03-29")
    assert report["counts"] == {
        "accepted_as_is": 7,
        "minor_fix": 4,
        "major_rewrite": 2,
        "rejected": 3,
    }
    assert report["runs"] == 16
    assert report["failures"] == 5
    assert report["failure_rate"] == pytest.approx(0.3125)
    assert report["allowed_failures"] == pytest.approx(3.2)
    assert report["runs_left"] == pytest.approx(-1.8)
    assert report["budget_remaining"] == pytest.approx(-0.5625)
    assert report["burn_rate"] == pytest.approx(1.5625)
    assert report["status"] == "warning"
    assert report["action"].startswith("Tighten prompt constraints")
    assert report["previous_failure_rate"] == pytest.approx(0.1)
    assert report["change_pp"] == pytest.approx(21.25)
    assert report["schema"] == "agent-slo/report/v1"


def test_breakdowns_rank_by_budget_burned() -> None:
    """Tasks, models and prompts are ranked by failures, small samples flagged."""
    report = _json("--min-runs", "5")
    tasks = [
        (b["value"], b["runs"], b["failures"], b["meaningful"])
        for b in report["breakdowns"]["task"]
    ]
    assert tasks == [
        ("regex parser", 5, 4, True),
        ("auth middleware", 1, 1, False),
        ("api endpoint", 4, 0, False),
        ("unit tests", 6, 0, True),
    ]
    assert report["breakdowns"]["task"][0]["budget_share"] == pytest.approx(1.25)
    models = [(b["value"], b["runs"], b["failures"]) for b in report["breakdowns"]["model"]]
    assert models == [("gpt-4o", 10, 5), ("claude-3.5", 6, 0)]
    prompts = [(b["value"], b["runs"], b["failures"]) for b in report["breakdowns"]["prompt"]]
    assert prompts == [("v1", 6, 5), ("v2", 10, 0)]


def test_thresholds_from_the_command_line() -> None:
    """--warning and --red-line move the status: 31.25% is a red line under 30%."""
    assert _json("--warning", "25", "--red-line", "30")["status"] == "red_line"
    assert _json("--budget", "40", "--warning", "45", "--red-line", "60")["status"] == (
        "within_budget"
    )
    previous = _json("--since", "2026-03-16", "--until", "2026-03-22")
    assert (previous["runs"], previous["failures"], previous["status"]) == (10, 1, "within_budget")


def test_table_and_markdown() -> None:
    """The terminal table and the Markdown say the status, the action, each row's verdict and
    flag small samples (under the default 10 runs, every task row)."""
    for fmt, marker in (("table", "WARNING: failure rate 31.2%"), ("markdown", "**WARNING**")):
        result = CliRunner().invoke(main, ["report", "csv", str(LOG), "--format", fmt])
        assert result.exit_code == 0, result.output
        assert marker in result.output
        assert "+21.2 pp against the previous period" in result.output
        assert "not enough runs yet" in result.output
    md = CliRunner().invoke(main, ["report", "csv", str(LOG), "--format", "markdown"]).output
    assert "| regex parser | 5 | 4 | 80% | 125% | not enough runs yet |" in md
    assert "| gpt-4o | 10 | 5 | 50% | 156% | WARNING |" in md


def test_every_row_gets_the_verdict_of_the_whole_thresholds() -> None:
    """With 5 runs enough: regex parser 4 bad of 5 (80% > the 50% red line), prompt v1 5 of
    6 (83%): red line; gpt-4o 5 of 10 (50%, not above 50, above 30): warning; unit tests 0
    of 6, claude-3.5 0 of 6, v2 0 of 10: within budget; auth middleware (1 run) and api
    endpoint (4): not enough runs yet. What to act on first lists the red line first."""
    report = _json("--min-runs", "5")
    verdicts = {
        (name, b["value"]): b["status"] for name, rows in report["breakdowns"].items() for b in rows
    }
    assert verdicts == {
        ("task", "regex parser"): "red_line",
        ("task", "auth middleware"): "not_enough_runs",
        ("task", "api endpoint"): "not_enough_runs",
        ("task", "unit tests"): "within_budget",
        ("model", "gpt-4o"): "warning",
        ("model", "claude-3.5"): "within_budget",
        ("prompt", "v1"): "red_line",
        ("prompt", "v2"): "within_budget",
    }
    stop = "Stop using AI for this task; do it by hand until the prompts are fixed."
    regex = report["breakdowns"]["task"][0]
    assert (regex["value"], regex["action"]) == ("regex parser", stop)
    assert report["act_on"] == [
        {"status": "red_line", "action": stop, "rows": ["task regex parser", "prompt v1"]},
        {
            "status": "warning",
            "action": "Tighten prompt constraints for the tasks burning the budget.",
            "rows": ["model gpt-4o"],
        },
    ]
    table = CliRunner().invoke(main, ["report", "csv", str(LOG), "--min-runs", "5"]).output
    assert f"- RED LINE: task regex parser, prompt v1. {stop}" in table
    assert "regex parser     5     4         80%           125%           RED LINE" in table


def test_a_row_over_its_own_allowance_but_under_the_warning_is_over_budget() -> None:
    """Against a 10% budget, 35% warning, 90% red line: unit tests 0 of 6 within; gpt-4o 5 of
    10 (50%): warning; claude-3.5 0 of 6: within. With the warning at 60%: gpt-4o's 5 bad runs
    exceed its 1 allowed (10% of 10): over budget."""
    rows = _json("--min-runs", "5", "--budget", "10", "--warning", "35", "--red-line", "90")
    assert rows["breakdowns"]["model"][0]["status"] == "warning"
    rows = _json("--min-runs", "5", "--budget", "10", "--warning", "60", "--red-line", "90")
    assert [(b["value"], b["status"]) for b in rows["breakdowns"]["model"]] == [
        ("gpt-4o", "over_budget"),
        ("claude-3.5", "within_budget"),
    ]


def test_bad_rows_are_reported_with_line_numbers() -> None:
    """Every bad row is named by its line; nothing is reported from a bad log."""
    result = CliRunner().invoke(main, ["report", "csv", str(BAD)])
    assert result.exit_code == 1
    expected = [
        f"{BAD}:3: date: invalid date '2026-03-32' (expected YYYY-MM-DD)",
        f"{BAD}:4: minor_fix: invalid count 'zero' (expected a whole number ≥ 0)",
        f"{BAD}:5: expected 7 columns, found 6",
        f"{BAD}:6: task: empty (every row names its task and model)",
        f"{BAD}:7: every count is 0: the row reviews nothing",
        f"{BAD}:8: accepted_as_is: invalid count '-1' (expected a whole number ≥ 0)",
        "6 bad row(s); nothing was reported",
    ]
    for line in expected:
        assert line in result.output


def test_missing_columns(tmp_path: Path) -> None:
    """A header without the count columns is refused, naming them."""
    path = tmp_path / "log.csv"
    path.write_text("date,task,model,ok\n2026-01-01,a,b,1\n")
    result = CliRunner().invoke(main, ["report", "csv", str(path)])
    assert result.exit_code == 1
    assert "missing column(s) accepted_as_is, minor_fix, major_rewrite, rejected" in result.output


def test_import_backfills_into_prometheus(tmp_path: Path) -> None:
    """import csv writes OpenMetrics that promtool turns into blocks, holding the log's totals."""
    out = tmp_path / "history.om"
    result = CliRunner().invoke(
        main, ["import", "csv", str(LOG), "--workflow", "code-review", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert text.endswith("# EOF\n")
    line = (
        'agent_outcomes_total{model="gpt-4o",outcome="rejected",prompt_version="v1",'
        'task="regex parser",workflow="code-review"} 4 '
    )
    assert line + "1774828799" in text  # 2026-03-29 23:59:59 UTC: 4 rejected regex parsers
    promtool = shutil.which("promtool")
    assert promtool
    blocks = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(out), str(tmp_path / "data")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert blocks.returncode == 0, blocks.stdout + blocks.stderr
    assert any((tmp_path / "data").iterdir())


def test_html_is_self_contained() -> None:
    """The HTML page carries the status, a burn-down bar per day and a bar per task."""
    result = CliRunner().invoke(main, ["report", "csv", str(LOG), "--format", "html"])
    assert result.exit_code == 0, result.output
    page = result.output
    assert page.startswith("<!doctype html>")
    assert '<span class="status warn">WARNING</span>' in page
    assert '<span class="verdict none" title="Not enough runs yet: keep recording.">' in page
    assert "2026-03-29: 5 failure(s) so far, 3.2 allowed" in page
    assert page.count("<rect") == 7 + 4 + 2 + 2  # 7 days, 4 tasks, 2 models, 2 prompts
    assert "http" not in page.replace("<!doctype html>", "")  # nothing fetched from elsewhere


def test_thresholds_in_the_wrong_order_are_a_usage_error() -> None:
    """A red line below the warning would invert the escalation: refused, naming the order."""
    result = CliRunner().invoke(
        main, ["report", "csv", str(LOG), "--warning", "60", "--red-line", "50"]
    )
    assert result.exit_code == 2
    assert "expected --budget ≤ --warning ≤ --red-line, got 20, 60, 50" in result.output


def test_each_report_accepts_only_the_options_it_honours() -> None:
    """`report csv` has no Prometheus, and `report prometheus` takes a warning or a red line
    only with the budget they escalate: an option that would be ignored is a usage error."""
    result = CliRunner().invoke(main, ["report", "prometheus", "--warning", "30"])
    assert result.exit_code == 2
    assert "--warning and --red-line go with --budget" in result.output
    result = CliRunner().invoke(main, ["report", "csv", str(LOG), "--prometheus", "http://x"])
    assert result.exit_code == 2
    assert "No such option" in result.output
    assert "--prometheus" in result.output


def test_a_failure_rate_equal_to_the_budget_spends_it_all() -> None:
    """5 failures in 16 runs against a 31.25% budget: 5 allowed, 5 spent, 0 remains (not a
    rounding error either side), and the status is the one the generated exhausted-budget
    alert (remaining <= 0) would give: over budget."""
    report = _json("--budget", "31.25", "--warning", "40", "--red-line", "60")
    assert report["allowed_failures"] == 5.0
    assert report["budget_remaining"] == 0.0
    assert report["status"] == "over_budget"
    just_under = _json("--budget", "31.26", "--warning", "40", "--red-line", "60")
    assert just_under["status"] == "within_budget"


def test_the_readme_shows_the_report_as_it_prints() -> None:
    """The README's example output is the command's output, byte for byte."""
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    command = "$ agent-slo report csv tests/reviewlog/log.csv --min-runs 5\n"
    shown = readme.split(command, 1)[1].split("```", 1)[0]
    result = CliRunner().invoke(main, ["report", "csv", str(LOG), "--min-runs", "5"])
    assert result.exit_code == 0, result.output
    assert shown == result.output


def test_the_whole_log_gives_the_weekly_shell_summary_figures() -> None:
    """The shell summary teams start from (count rows, sum each column with awk, divide with
    bc at scale 1) prints for this log: 26 generations; accepted as is 15 (57.6%), minor fixes
    5 (19.2%), major rewrites 2 (7.6%), rejected 4 (15.3%); failure rate 23.0%; and says
    "within budget" because it only checks the 30% and 50% lines. The report gives the same
    counts, the shares rounded rather than truncated (15/26 = 57.69%, 2/26 = 7.69%, 4/26 =
    15.38%, 6/26 = 23.08%), over budget against 20%, and the per-task verdicts besides."""
    report = _json("--since", "2026-03-16", "--until", "2026-03-29")
    assert report["runs"] == 26
    assert report["counts"] == {
        "accepted_as_is": 15,
        "minor_fix": 5,
        "major_rewrite": 2,
        "rejected": 4,
    }
    shares = {c: f"{v:.1%}" for c, v in report["shares"].items()}
    assert shares == {
        "accepted_as_is": "57.7%",
        "minor_fix": "19.2%",
        "major_rewrite": "7.7%",
        "rejected": "15.4%",
    }
    assert f"{report['failure_rate']:.1%}" == "23.1%"
    assert report["status"] == "over_budget"
    tasks = {b["value"]: b["status"] for b in report["breakdowns"]["task"]}
    assert tasks["regex parser"] == "not_enough_runs"  # 6 runs, fewer than 10
    assert tasks["unit tests"] == "within_budget"  # 0 failures in 10
