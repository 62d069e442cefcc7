"""Autonomy from the budget's history: the streak inside the budget, what ended it, the grants
earned and due; and the gate's ``--grant`` and ``--require-days-in-budget`` judging it.

The streak is computed from hand-written checks first, then from hourly checks of a real
Prometheus holding four days of history backfilled with promtool: the budget left, recorded
every 5 minutes as the generated rules do, for SLOs that stayed inside their budget, started
recently, spent their budget a day ago, or stopped recording for three hours.
"""

from __future__ import annotations

import calendar
import json
import math
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from realprom import Prometheus, running_prometheus

from agent_slo.cli import main
from decisions import promapi
from decisions.autonomy import Autonomy, StreakEnd, autonomy, find_grant, from_checks
from decisions.gate import ROUNDED
from rulegen import pipeline
from statuspage import streaks

HOUR = 3600
DAY = 86_400
AT = calendar.timegm((2026, 3, 5, 0, 0, 0))  # 2026-03-05T00:00:00Z: every test asks as of then
GRANTS = ((1, "Merge prompt changes with one reviewer"), (3, "Ship new task types without review"))


def _checks(at: int, **values: float) -> dict[int, float]:
    """Check values keyed ``h<k>``: the check k hours before ``at``."""
    return {at - int(k[1:]) * HOUR: v for k, v in values.items()}


# -- the streak from hand-written checks -------------------------------------------------


def test_a_streak_through_every_check_ends_at_the_horizon() -> None:
    """Six good checks, 0 to 5 hours back, of the 5 looked at: 5 hours inside the budget."""
    found = from_checks(
        _checks(AT, h0=0.5, h1=0.4, h2=0.3, h3=0.3, h4=0.2, h5=0.1), slo="s", at=AT, checks=5
    )
    assert (found.seconds_in_budget, found.streak_start) == (5 * HOUR, AT - 5 * HOUR)
    assert found.ended_by == StreakEnd("horizon", AT - 5 * HOUR)


def test_a_spent_check_restarts_the_count() -> None:
    """A check at 0 two hours back (0 left is spent): the streak is the hour since the next."""
    found = from_checks(_checks(AT, h0=0.5, h1=0.5, h2=0.0, h3=0.9), slo="s", at=AT, checks=3)
    assert (found.seconds_in_budget, found.streak_start) == (HOUR, AT - HOUR)
    assert found.ended_by == StreakEnd("budget_spent", AT - 2 * HOUR)
    assert found.reaches(1) is False


def test_a_missing_check_is_a_gap_never_inside_the_budget() -> None:
    """No value two hours back, values before: a gap between the checks around it, and the
    streak is the hour after it, however good the budget was before."""
    found = from_checks(_checks(AT, h0=0.5, h1=0.5, h3=0.9, h4=0.9), slo="s", at=AT, checks=4)
    assert (found.seconds_in_budget, found.streak_start) == (HOUR, AT - HOUR)
    assert found.ended_by == StreakEnd("gap", AT - 3 * HOUR, AT - HOUR)
    assert found.reaches(1) is None


def test_a_nan_is_a_gap_too() -> None:
    """A NaN check holds no budget figure: a gap."""
    found = from_checks(_checks(AT, h0=0.5, h1=math.nan, h2=0.5), slo="s", at=AT, checks=2)
    assert found.ended_by == StreakEnd("gap", AT - 2 * HOUR, AT)
    assert found.seconds_in_budget == 0


def test_history_that_starts_within_the_horizon() -> None:
    """Values for the last two checks of five: the history starts at the earlier one."""
    found = from_checks(_checks(AT, h0=0.5, h1=0.5), slo="s", at=AT, checks=5)
    assert found.ended_by == StreakEnd("start_of_history", AT - HOUR)
    assert found.seconds_in_budget == HOUR


def test_no_streak_without_a_value_now() -> None:
    """Spent now, or nothing at all: no streak, and no grant is due."""
    spent = from_checks(_checks(AT, h0=-0.1, h1=0.5), slo="s", at=AT, checks=1, grants=GRANTS)
    assert (spent.seconds_in_budget, spent.streak_start) == (0, None)
    assert spent.ended_by == StreakEnd("budget_spent", AT)
    assert [g.due for g in spent.grants] == [None, None]
    nothing = from_checks({}, slo="s", at=AT, checks=3, grants=GRANTS)
    assert nothing.ended_by == StreakEnd("no_history")
    assert nothing.to_dict()["ended_by"]["text"] == "no history of the budget"
    stopped = from_checks(_checks(AT, h2=0.5), slo="s", at=AT, checks=3)
    assert stopped.ended_by == StreakEnd("gap", AT - 2 * HOUR, None)
    assert stopped.ended_by.describe() == "a gap in the budget's history since 2026-03-04T22:00:00Z"


def test_grants_earned_and_due_in_the_stable_json_form() -> None:
    """30 good hourly checks after a spent one: 29 hours in the budget since 2026-03-03T19:00
    (the earliest good check), so the 1-day grant is earned (due 2026-03-04T19:00) and the
    3-day one is due 2026-03-06T19:00 if the budget holds."""
    values = {AT - k * HOUR: 0.2 for k in range(30)} | {AT - 30 * HOUR: -0.5}
    found = from_checks(values, slo="s", at=AT, checks=72, grants=GRANTS)
    assert found.to_dict() == {
        "slo": "s",
        "at": "2026-03-05T00:00:00Z",
        "days_in_budget": round(29 / 24, 4),
        "streak_start": "2026-03-03T19:00:00Z",
        "ended_by": {
            "kind": "budget_spent",
            "at": "2026-03-03T18:00:00Z",
            "until": None,
            "text": "the budget was spent at 2026-03-03T18:00:00Z",
        },
        "grants": [
            {"index": 1, "days": 1, "grant": GRANTS[0][1], "earned": True,
             "due": "2026-03-04T19:00:00Z"},
            {"index": 2, "days": 3, "grant": GRANTS[1][1], "earned": False,
             "due": "2026-03-06T19:00:00Z"},
        ],
    }  # fmt: skip
    assert found.duration == "1d5h"
    assert (found.reaches(1), found.reaches(3)) == (True, False)
    json.dumps(found.to_dict())


class _Answers(promapi.Prometheus):
    """Answers range queries from hand-written checks, and counts the queries."""

    def __init__(self, values: dict[int, float]) -> None:
        super().__init__("http://answers.invalid")
        self.values = values
        self.asked: list[tuple[float, float]] = []

    def query_range(self, expr: str, start: float, end: float, step: int) -> list[dict[str, Any]]:
        assert expr == (
            'min(min_over_time(slo:period_error_budget_remaining:ratio{slo="steady"}[1h4m59s999ms]))'
        )
        self.asked.append((start, end))
        points = [[t, str(v)] for t, v in sorted(self.values.items()) if start <= t <= end]
        return [{"metric": {}, "values": points}] if points else []


def test_long_histories_are_asked_for_in_parts_latest_first(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With 3 checks a query, a streak over 4 checks takes two queries (the latest first);
    once a spent check is found no older part is asked for."""
    monkeypatch.setattr("decisions.autonomy.MAX_CHECKS", 3)
    (tmp_path / "spec.yaml").write_text(SPEC)
    (workflow,) = pipeline.load([tmp_path / "spec.yaml"])
    answers = _Answers(_checks(AT, h0=0.5, h1=0.5, h2=0.5, h3=0.5, h4=-0.2, h5=0.5))
    found = autonomy(answers, workflow.slos[0], workflow.autonomy, AT)
    assert (found.seconds_in_budget, found.ended_by) == (
        3 * HOUR, StreakEnd("budget_spent", AT - 4 * HOUR)
    )  # fmt: skip
    assert answers.asked == [(AT - 2 * HOUR, AT), (AT - 5 * HOUR, AT - 3 * HOUR)]


@pytest.mark.parametrize(
    ("wanted", "index"),
    [("1", 1), ("2", 2), (" ship ", 2), ("MERGE PROMPT", 1), (GRANTS[0][1].upper(), 1)],
)
def test_a_grant_is_found_by_number_or_text(wanted: str, index: int) -> None:
    """A grant is named by its 1-based number, its text, or a part of it found once."""
    assert find_grant(GRANTS, wanted, "w") == index


@pytest.mark.parametrize(
    ("wanted", "message"),
    [
        ("3", "workflow 'w' has no grant 3; its grants are 1: Merge"),
        ("review", "'review' matches several grants of workflow 'w'; its grants are 1: Merge"),
        ("deploy", "'deploy' matches no grant of workflow 'w'"),
        ("", "name a grant of workflow 'w'"),
    ],
)
def test_an_unknown_or_ambiguous_grant_is_refused(wanted: str, message: str) -> None:
    """A number off the ladder, a text found in several grants or in none: ValueError listing
    the grants."""
    with pytest.raises(ValueError, match="grant") as caught:
        find_grant(GRANTS, wanted, "w")
    assert message in str(caught.value)
    assert "2: Ship new task types without review (after 3d)" in str(caught.value)


# -- four days of history in a real Prometheus -------------------------------------------

SPEC = """\
apiVersion: agent-slo/v1
workflow: w
period: 7d
autonomy:
  - {days_in_budget: 3, grant: Ship new task types without review}
  - {days_in_budget: 1, grant: Merge prompt changes with one reviewer}
slos:
  - {name: steady, objective: 99, sli: {outcomes: {bad: [rejected]}}}
  - {name: young, objective: 99, sli: {outcomes: {bad: [rejected]}}}
  - {name: recovered, objective: 99, sli: {outcomes: {bad: [rejected]}}}
  - {name: gappy, objective: 99, sli: {outcomes: {bad: [rejected]}}}
  - {name: relabelled, objective: 99, sli: {outcomes: {bad: [rejected]}}}
"""
FIVE_MINUTES = 300


def _budget(slo: str, t: int) -> float | None:
    """The budget left that the rules recorded for ``slo`` at ``t`` (``None``: nothing)."""
    if slo == "steady":  # four days; recording paused for 55 minutes, under a check's reach
        return None if AT - 10 * HOUR < t < AT - 9 * HOUR - FIVE_MINUTES else 0.5
    if slo == "young":  # recorded for the last 36 hours only
        return 0.8 if t >= AT - 36 * HOUR else None
    if slo == "recovered":  # spent from 30 to 28 hours ago, both included
        return -0.1 if AT - 30 * HOUR <= t <= AT - 28 * HOUR else 0.3
    return None if AT - 20 * HOUR < t < AT - 17 * HOUR else 0.6  # gappy: 3 hours without


def _relabelled(t: int) -> dict[str, float]:
    """The budget left recorded for relabelled at ``t`` by series (its spec's labels
    changed): the old one at 0.5 from four days back to 48h10m back; the new one spent from
    72 hours back to 48h10m back, then at 0.5. Check 48 (48 hours back, reading down to
    49h05m) sees the new one spent, check 47 (down to 48h05m) does not: the streak is the
    47 hours since AT - 47h. Counted a series at a time, neither series has a day with a
    spent check and a good one, so only the two read together say so."""
    found = {}
    if t <= AT - 48 * HOUR - 600:
        found["old"] = 0.5
    if t >= AT - 72 * HOUR:
        found["new"] = -0.1 if t <= AT - 48 * HOUR - 600 else 0.5
    return found


def _history() -> str:
    """OpenMetrics: the budget left and the period's events every 5 minutes for four days,
    and outcome counters whose extrapolated ``increase()`` over the last hour is 12/11 of
    their real rise (samples 150 s inside either end of the hour)."""
    times = range(AT - 4 * DAY, AT + 1, FIVE_MINUTES)
    lines = ["# TYPE slo:period_error_budget_remaining:ratio gauge"]
    for slo in ("steady", "young", "recovered", "gappy"):
        for t in times:
            value = _budget(slo, t)
            if value is not None:
                lines.append(
                    f'slo:period_error_budget_remaining:ratio{{slo="{slo}",workflow="w"}} '
                    f"{value} {t}"
                )
    for t in times:
        lines.extend(
            f'slo:period_error_budget_remaining:ratio{{prompt="{series}",slo="relabelled",'
            f'workflow="w"}} {value} {t}'
            for series, value in _relabelled(t).items()
        )
    lines.append("# TYPE slo:period_events:increase gauge")
    for slo in ("steady", "young", "recovered", "gappy"):
        lines.extend(
            f'slo:period_events:increase{{slo="{slo}",window="7d",workflow="w"}} 100 {t}'
            for t in times
        )
    lines.append("# TYPE agent_outcomes counter")
    # (prompt version, outcome): the rise within the last hour. The canary v2: 14 + 6 runs,
    # 6 bad; increase() reads 15.27 + 6.55 = 21.82 runs and 6.55 bad: 22 and 7 rounded. The
    # baseline v1: 1089 + 11 runs, 11 bad; increase() reads 1188 + 12.
    rises = {("v1", "success"): 1089, ("v1", "rejected"): 11, ("v2", "success"): 14,
             ("v2", "rejected"): 6}  # fmt: skip
    for (version, outcome), rise in rises.items():
        labels = f'outcome="{outcome}",prompt_version="{version}",workflow="w"'
        for i in range(24):  # 150 s past every 5 minutes of the last two hours
            value = 1000 + (rise if i >= 13 else 0)  # rises once, between the first two
            t = AT - 2 * HOUR + 150 + i * FIVE_MINUTES  # samples of the last hour (i ≥ 12)
            lines.append(f"agent_outcomes_total{{{labels}}} {value} {t}")
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def history(
    tmp_path_factory: pytest.TempPathFactory, promtool: str
) -> Iterator[tuple[Prometheus, Path]]:
    """Prometheus holding the backfilled history, and the spec file."""
    tmp = tmp_path_factory.mktemp("autonomy")
    (tmp / "spec.yaml").write_text(SPEC)
    (tmp / "history.om").write_text(_history())
    subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(tmp / "history.om"),
         str(tmp / "tsdb")],
        check=True,
        capture_output=True,
    )  # fmt: skip
    with running_prometheus(tmp, [], config={"scrape_configs": []}) as prom:
        prom.wait_for(f'slo:period_events:increase{{slo="gappy"}} @ {AT}')
        yield prom, tmp / "spec.yaml"


def _autonomy(history: tuple[Prometheus, Path], slo: str) -> Autonomy:
    prom, spec = history
    (workflow,) = pipeline.load([spec])
    (found,) = [s for s in workflow.slos if s.name == slo]
    return autonomy(prom, found, workflow.autonomy, AT)


def test_a_steady_budget_earns_every_grant(history: tuple[Prometheus, Path]) -> None:
    """Inside its budget for all four days of history (a 55-minute pause in the recording is
    no gap: every hourly check still reads a value): both grants earned, the 1-day one due
    2026-03-02, the 3-day one 2026-03-04."""
    found = _autonomy(history, "steady")
    assert found.days_in_budget == 4.0
    assert found.ended_by == StreakEnd("start_of_history", AT - 4 * DAY)
    assert [(g.days, g.earned, g.due) for g in found.grants] == [
        (1, True, AT - 3 * DAY),
        (3, True, AT - DAY),
    ]


def test_young_history_earns_the_first_grant_only(history: tuple[Prometheus, Path]) -> None:
    """36 hours of history: 1.5 days in the budget since 2026-03-03T12:00; the 3-day grant is
    due 2026-03-06T12:00 if the budget holds."""
    found = _autonomy(history, "young")
    assert (found.days_in_budget, found.streak_start) == (1.5, AT - 36 * HOUR)
    assert found.ended_by == StreakEnd("start_of_history", AT - 36 * HOUR)
    assert [(g.earned, g.due) for g in found.grants] == [
        (True, AT - 12 * HOUR),
        (False, AT + 36 * HOUR),
    ]


def test_a_spent_budget_restarts_the_count(history: tuple[Prometheus, Path]) -> None:
    """Spent from 30 to 28 hours back: the checks 30 to 27 hours back see it (27 reads the
    hour and 5 minutes before it, down to 28h05m), so the streak runs from 26 hours back,
    2026-03-03T22:00: 26/24 days."""
    found = _autonomy(history, "recovered")
    assert (found.seconds_in_budget, found.streak_start) == (26 * HOUR, AT - 26 * HOUR)
    assert found.ended_by == StreakEnd("budget_spent", AT - 27 * HOUR)
    assert [(g.earned, g.due) for g in found.grants] == [
        (True, AT - 2 * HOUR),
        (False, AT + 46 * HOUR),
    ]


def test_a_gap_ends_the_streak(history: tuple[Prometheus, Path]) -> None:
    """Nothing recorded between 20 and 17 hours back: the check 18 hours back reads nothing
    (its reach, 19h05m to 18h, holds no value), the checks 19 and 17 hours back do; the
    streak is the 17 hours since 2026-03-04T07:00, and the gap never counts."""
    found = _autonomy(history, "gappy")
    assert (found.seconds_in_budget, found.streak_start) == (17 * HOUR, AT - 17 * HOUR)
    assert found.ended_by == StreakEnd("gap", AT - 19 * HOUR, AT - 17 * HOUR)
    assert [g.earned for g in found.grants] == [False, False]


# -- the gate on that history ------------------------------------------------------------

GateRun = Callable[..., tuple[int, dict[str, Any]]]


@pytest.fixture
def gate(history: tuple[Prometheus, Path]) -> GateRun:
    """Run the gate as of 2026-03-05T00:00Z: exit code and JSON verdict."""
    prom, spec = history

    def run(*args: str) -> tuple[int, dict[str, Any]]:
        result = CliRunner().invoke(
            main,
            ["gate", "--specs", str(spec), "--prometheus", prom.url, "--json",
             "--at", "2026-03-05T00:00:00Z", *args],
        )  # fmt: skip
        assert result.exception is None or isinstance(result.exception, SystemExit), result
        return result.exit_code, json.loads(result.output)

    return run


@pytest.mark.parametrize(
    ("slo", "grant", "code", "reason"),
    [
        (  # 4 days in the budget earn the 3-day grant
            "steady", "ship new task", 0,
            "grant 2 (Ship new task types without review) earned: steady has been inside its "
            "budget for 4d (3d needed)",
        ),
        (  # 26 hours since the budget was spent earn the 1-day grant...
            "recovered", "1", 0,
            "grant 1 (Merge prompt changes with one reviewer) earned: recovered has been "
            "inside its budget for 1d2h (1d needed)",
        ),
        (  # ... and not the 3-day one: what reset the count, and when the grant is due
            "recovered", "2", 1,
            "grant 2 (Ship new task types without review) not earned: recovered has been "
            "inside its budget for 1d2h of the 3d needed; the count restarted after the "
            "budget was spent at 2026-03-03T21:00:00Z; due 2026-03-06T22:00:00Z if the "
            "budget holds",
        ),
        (  # 17 hours since a gap: whether the budget held in it is unknown
            "gappy", "merge", 3,
            "cannot tell whether grant 1 (Merge prompt changes with one reviewer) is earned: "
            "gappy has been inside its budget for 17h of the 1d needed, and whether the "
            "budget held before that is unknown (a gap in the budget's history between "
            "2026-03-04T05:00:00Z and 2026-03-04T07:00:00Z); due 2026-03-05T07:00:00Z if the "
            "budget holds",
        ),
        (  # 36 hours of history, 3 days needed
            "young", "2", 3,
            "cannot tell whether grant 2 (Ship new task types without review) is earned: young "
            "has been inside its budget for 1d12h of the 3d needed, and whether the budget "
            "held before that is unknown (the budget's history starts at "
            "2026-03-03T12:00:00Z); due 2026-03-06T12:00:00Z if the budget holds",
        ),
    ],
)  # fmt: skip
def test_a_grant_allows_denies_or_cannot_tell(
    gate: GateRun, slo: str, grant: str, code: int, reason: str
) -> None:
    """A grant earned allows; one the streak since a spent budget falls short of denies with
    its due date; one short of a streak that a gap or the start of history ends is
    undecided: exit 0, 1 or 3 with the reason as the last one."""
    got, verdict = gate("--slo", slo, "--grant", grant)
    assert (got, verdict["reasons"][-1]) == (code, reason), verdict
    assert len(verdict["reasons"]) == (2 if code == 0 else 1)  # allow: the budget's too


def test_require_days_in_budget_reads_the_same_streak(gate: GateRun) -> None:
    """--require-days-in-budget judges the same streak: 26 hours are 1 day and not 2, and a
    gap never counts."""
    assert gate("--slo", "recovered", "--require-days-in-budget", "1")[0] == 0
    code, verdict = gate("--slo", "recovered", "--require-days-in-budget", "2")
    assert code == 1
    assert verdict["reasons"][0].startswith("2d inside the budget not earned: recovered")
    assert gate("--slo", "gappy", "--require-days-in-budget", "1")[0] == 3


def test_the_canary_counts_whole_runs(gate: GateRun) -> None:
    """increase() reads 21.82 canary runs, 6.55 bad: the gate counts 22 and 7, and the
    baseline's 1188 + 12 as 1200 and 12, and says the counts are rounded."""
    code, verdict = gate("--slo", "steady", "--canary", 'prompt_version="v2"', "--min-runs", "20")
    assert code == 1, verdict
    figures = verdict["figures"]
    assert figures["canary"] == {"bad": 7, "runs": 22, "rate": 7 / 22, "burn_rate": 7 / 22 / 0.01}
    assert (figures["baseline"]["bad"], figures["baseline"]["runs"]) == (12, 1200)
    assert figures["counts"] == ROUNDED
    assert "31.8% bad (7 of 22) against 1.0% (12 of 1200)" in verdict["reasons"][0]


def test_an_unknown_grant_is_a_usage_error(history: tuple[Prometheus, Path]) -> None:
    """--grant naming no grant, or several: exit 2, listing the grants."""
    _, spec = history
    result = CliRunner().invoke(
        main, ["gate", "--specs", str(spec), "--slo", "steady", "--grant", "review"]
    )
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--grant': 'review' matches several grants" in result.output
    assert "1: Merge prompt changes with one reviewer (after 1d)" in result.output


# -- the status page's two rounds give the same streaks ----------------------------------


def _page_streaks(history: tuple[Prometheus, Path], at: float) -> dict[str, Autonomy]:
    """Every SLO's streak as the status page's overview reads it: good checks a day, then
    the checks of the days that end a streak."""
    prom, spec = history
    (workflow,) = pipeline.load([spec])
    horizons = {
        s.name: streaks.checks_of([d for d, _ in workflow.autonomy], s.period)
        for s in workflow.slos
    }
    days = [span.ask(prom) for span in streaks.day_spans(at, max(horizons.values()))]
    grants = {s.name: workflow.autonomy for s in workflow.slos}
    return streaks.streaks(prom, at, horizons, grants, days)


@pytest.mark.parametrize("at", [AT, AT - 1234.5])
def test_the_status_page_reads_the_same_streaks(
    history: tuple[Prometheus, Path], at: float
) -> None:
    """Read a day at a time and then hour by hour where a streak ends, every SLO's streak
    (days, start, what ended it, grants) is the one read check by check, on an hour and
    between two: a pause under a check's reach, a young history, a spent stretch, a gap and
    an SLO whose two series must be read together."""
    found = _page_streaks(history, at)
    prom, spec = history
    (workflow,) = pipeline.load([spec])
    for slo in workflow.slos:
        assert found[slo.name] == autonomy(prom, slo, workflow.autonomy, at), slo.name
    if at == AT:  # the figures the tests above work out by hand
        assert {name: a.seconds_in_budget for name, a in found.items()} == {
            "steady": 4 * DAY, "young": 36 * HOUR, "recovered": 26 * HOUR, "gappy": 17 * HOUR,
            "relabelled": 47 * HOUR,
        }  # fmt: skip
        assert found["relabelled"].ended_by == StreakEnd("budget_spent", AT - 48 * HOUR)
        assert found["gappy"].ended_by == StreakEnd("gap", AT - 19 * HOUR, AT - 17 * HOUR)
        assert found["recovered"].ended_by == StreakEnd("budget_spent", AT - 27 * HOUR)
    else:  # checks at AT - 1234 s - k hours (the whole second at or after the time asked
        # about); the history starts at AT - 4d, which the check 95 hours back reads (its
        # reach goes back to AT - 4d - 1534 s) and the check 96 hours back, at
        # AT - 4d - 1234 s, does not
        steady = found["steady"]
        assert steady.seconds_in_budget == 95 * HOUR
        assert steady.ended_by == StreakEnd("start_of_history", AT - 1234 - 95 * HOUR)
