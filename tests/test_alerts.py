"""Burn-rate alerts state the burn factor, error ratio and budget share each tier fires at.

Every expected figure here is worked out by hand from the alerting maths (burn factor =
budget share × period / long window; threshold = factor × (1 − objective), capped at 90%
errors when that is 100% or more; an adapted tier's factor is then 0.9 / (1 − objective),
and it spends factor × long window / period of the budget per long window).
"""

from __future__ import annotations

from typing import Any

import pytest

from rulegen.generators.alerts import burn_alert
from rulegen.loader import load_text
from rulegen.model import SLO
from rulegen.resolve import build


def _slo(objective: str, period: str = "30d", extra: str = "") -> SLO:
    text = (
        "apiVersion: agent-slo/v1\nworkflow: w\ntier: medium\n"
        f"period: {period}\nslos:\n  - name: s\n    objective: {objective}\n"
        f"    sli: {{outcomes: {{}}}}\n{extra}"
    )
    documents, errors = load_text(text, "spec.yaml")
    assert errors == []
    return build(documents)[0].slos[0]


def _annotations(slo: SLO, tier: str) -> dict[str, Any]:
    rule = burn_alert(slo, next(t for t in slo.tiers if t.name == tier))
    annotations: dict[str, Any] = rule["annotations"]
    return annotations


def test_adapted_fast_tier_at_80_percent_states_4_5x() -> None:
    """At 80% over 30d, 14.4 × 20% = 288% errors: the tier fires at 90%, a 4.5x burn, 0.625%/1h."""
    # 0.9 / 0.2 = 4.5; 4.5 * 1h / 720h = 0.00625 of the budget.
    ann = _annotations(_slo("80"), "page_fast")
    assert ann["summary"] == (
        "SLO s is burning its error budget 4.5x too fast: 0.625% of the 30d budget within 1h"
    )
    assert "above 90% (burn factor 4.5, objective 80%)" in ann["description"]
    assert ann["description"].endswith(
        "Burning at the threshold spends 0.625% of the 30d error budget every 1h."
    )
    assert ann["budget_spent"] == "0.625% in 1h"
    assert ann["adapted"] == (
        "burn factor 14.4 would need 288% errors at objective 80%; "
        "the tier fires at 90% errors instead, a 4.5x burn"
    )
    assert "14.4x" not in ann["summary"]


def test_adapted_slow_page_at_80_percent_spends_3_75_percent() -> None:
    """At 80% over 30d the 6x tier needs 120% errors: it fires at 90%, 4.5x, 3.75% per 6h."""
    # 6 * 0.2 = 1.2 -> adapted; 0.9 / 0.2 = 4.5; 4.5 * 6h / 720h = 0.0375.
    ann = _annotations(_slo("80"), "page_slow")
    assert ann["summary"] == (
        "SLO s is burning its error budget 4.5x too fast: 3.75% of the 30d budget within 6h"
    )
    assert ann["budget_spent"] == "3.75% in 6h"
    assert ann["adapted"] == (
        "burn factor 6 would need 120% errors at objective 80%; "
        "the tier fires at 90% errors instead, a 4.5x burn"
    )


def test_unadapted_tier_at_80_percent_keeps_its_factor() -> None:
    """At 80% the 3x tier fires at 3 × 20% = 60% errors and says so, with no `adapted` note."""
    ann = _annotations(_slo("80"), "ticket_fast")
    assert ann["summary"] == (
        "SLO s is burning its error budget 3x too fast: 10% of the 30d budget within 1d"
    )
    assert "above 60% (burn factor 3, objective 80%)" in ann["description"]
    assert ann["budget_spent"] == "10% in 1d"
    assert "adapted" not in ann


@pytest.mark.parametrize(
    ("period", "long_window"),
    [("30d", "1h"), ("7d", "14m")],
)
def test_adapted_fast_tier_at_90_percent_states_9x(period: str, long_window: str) -> None:
    """At 90% the fast tier (14.4 × 10% = 144%) fires at 90% errors, a 9x burn, 1.25% per window."""
    # 0.9 / 0.1 = 9. 30d: 9 * 1h / 720h = 0.0125; 7d: 9 * 14m / 10080m = 0.0125.
    ann = _annotations(_slo("90", period), "page_fast")
    assert ann["summary"] == (
        f"SLO s is burning its error budget 9x too fast: 1.25% of the {period} budget "
        f"within {long_window}"
    )
    assert "above 90% (burn factor 9, objective 90%)" in ann["description"]
    assert ann["budget_spent"] == f"1.25% in {long_window}"
    assert ann["adapted"] == (
        "burn factor 14.4 would need 144% errors at objective 90%; "
        "the tier fires at 90% errors instead, a 9x burn"
    )


@pytest.mark.parametrize(
    ("period", "long_window", "factor", "ratio"),
    [
        ("30d", "6h", "6", "60%"),  # 5% * 720h / 6h = 6; 6 * 10% = 60%
        ("7d", "1h25m", "5.929", "59.29%"),  # 5% * 10080m / 85m = 5.929; * 10% = 59.29%
    ],
)
def test_slow_page_at_90_percent_is_not_adapted(
    period: str, long_window: str, factor: str, ratio: str
) -> None:
    """At 90% the slow page tier stays below 100% errors and keeps its factor and 5% share."""
    ann = _annotations(_slo("90", period), "page_slow")
    assert ann["summary"] == (
        f"SLO s is burning its error budget {factor}x too fast: 5% of the {period} budget "
        f"within {long_window}"
    )
    assert f"above {ratio} (burn factor {factor}, objective 90%)" in ann["description"]
    assert ann["budget_spent"] == f"5% in {long_window}"
    assert "adapted" not in ann


def test_99_9_percent_fires_at_the_workbook_figures() -> None:
    """At 99.9% nothing is adapted: 14.4x is 1.44% errors and spends 2% of the budget per hour."""
    ann = _annotations(_slo("99.9"), "page_fast")
    assert ann["summary"] == (
        "SLO s is burning its error budget 14.4x too fast: 2% of the 30d budget within 1h"
    )
    assert "above 1.44% (burn factor 14.4, objective 99.9%)" in ann["description"]
    assert ann["budget_spent"] == "2% in 1h"
    assert "adapted" not in ann


def test_adapted_threshold_percent_sets_the_effective_factor() -> None:
    """With the cap at 95%, an 80% objective's fast tier fires at 4.75x, 0.66% per hour."""
    # 0.95 / 0.2 = 4.75; 4.75 * 1h / 720h = 0.0065972... -> 0.66% to three significant digits.
    extra = "    alerting: {adapted_threshold_percent: 95}\n"
    ann = _annotations(_slo("80", extra=extra), "page_fast")
    assert ann["summary"] == (
        "SLO s is burning its error budget 4.75x too fast: 0.66% of the 30d budget within 1h"
    )
    assert ann["adapted"].endswith("the tier fires at 95% errors instead, a 4.75x burn")


TIGHTENING = (
    "    tightening:\n"
    "      - {date: 2027-02-01, objective: 85}\n"
    "      - {date: 2027-05-01, objective: 90}\n"
)


def test_tightening_states_the_figure_in_force_per_phase() -> None:
    """80% → 85% → 90% over 7d: the fast tier fires at 90% errors, 4.5x, then 6x, then 9x."""
    # 0.9/0.2 = 4.5, 0.9/0.15 = 6, 0.9/0.1 = 9; * 14m / 10080m: 0.625%, 0.8333%, 1.25%.
    ann = _annotations(_slo("80", "7d", TIGHTENING), "page_fast")
    assert ann["summary"] == (
        "SLO s is burning its error budget too fast over 14m: "
        "above 4.5x until 2027-02-01, then 6x until 2027-05-01, then 9x"
    )
    assert (
        "above 90% (burn factor 4.5, objective 80%) until 2027-02-01, "
        "then 90% (burn factor 6, objective 85%) until 2027-05-01, "
        "then 90% (burn factor 9, objective 90%)."
    ) in ann["description"]
    assert ann["description"].endswith(
        "Burning at the threshold spends this share of the 7d error budget every 14m: "
        "0.625% until 2027-02-01, then 0.833% until 2027-05-01, then 1.25%."
    )
    assert ann["budget_spent"] == (
        "0.625% in 14m until 2027-02-01, then 0.833% in 14m until 2027-05-01, then 1.25% in 14m"
    )
    assert ann["adapted"] == (
        "burn factor 14.4 would need 288% errors at objective 80% (until 2027-02-01), "
        "216% errors at objective 85% (from 2027-02-01 until 2027-05-01) and 144% errors at "
        "objective 90% (from 2027-05-01); the tier fires at 90% errors instead, "
        "a 4.5x, 6x and 9x burn"
    )


def test_tightening_adapts_only_the_phases_that_need_it() -> None:
    """The 5.929 tier needs 118.58% errors at 80% only; from 85% on it fires as specified."""
    # 5.929 * 0.2 = 1.1858 -> 90%, 4.5x, 4.5 * 85m / 10080m = 3.79%;
    # 5.929 * 0.15 = 88.935%, 5.929 * 0.1 = 59.29%, both 5%.
    ann = _annotations(_slo("80", "7d", TIGHTENING), "page_slow")
    assert ann["summary"] == (
        "SLO s is burning its error budget too fast over 1h25m: above 4.5x until 2027-02-01, "
        "then 5.929x"
    )
    assert (
        "above 90% (burn factor 4.5, objective 80%) until 2027-02-01, "
        "then 88.935% (burn factor 5.929, objective 85%) until 2027-05-01, "
        "then 59.29% (burn factor 5.929, objective 90%)."
    ) in ann["description"]
    assert ann["budget_spent"] == "3.79% in 1h25m until 2027-02-01, then 5% in 1h25m"
    assert ann["adapted"] == (
        "burn factor 5.929 would need 118.58% errors at objective 80% (until 2027-02-01); "
        "the tier fires at 90% errors instead, a 4.5x burn"
    )


def test_notes_state_the_effective_factor_and_share() -> None:
    """The note printed by generate/validate gives the phase, the 4.5x factor and its share."""
    slo = _slo("80", "7d", TIGHTENING)
    assert slo.notes[0] == (
        "SLO 's', tier page_fast, objective 80% (until 2027-02-01): burn factor 14.4 needs "
        "288% errors, more than can happen; it fires at 90% errors instead, a 4.5x burn, "
        "which spends 0.625% of the 7d budget in 14m rather than 2%"
    )
    assert slo.notes[1].startswith(
        "SLO 's', tier page_fast, objective 85% (from 2027-02-01 until 2027-05-01):"
    )
    assert slo.notes[1].endswith(
        "a 6x burn, which spends 0.833% of the 7d budget in 14m rather than 2%"
    )


def _guard(slo: SLO, tier: str) -> str:
    expr: str = burn_alert(slo, next(t for t in slo.tiers if t.name == tier))["expr"]
    line = next(x for x in expr.splitlines() if "slo:period_allowed_bad_events:count" in x)
    return line.split("ignoring(window) ")[1].split(" * slo:period_allowed")[0]


def test_low_traffic_guard_asks_for_the_share_the_tier_spends() -> None:
    """The guard wants the share burning at the threshold spends: 0.625% for 4.5x, 2% for 14.4x."""
    assert _guard(_slo("80"), "page_fast") == "0.00625"  # 4.5 * 1h / 720h
    assert _guard(_slo("80"), "page_slow") == "0.0375"  # 4.5 * 6h / 720h
    assert _guard(_slo("80"), "ticket_fast") == "0.1"  # not adapted: its 10%
    assert _guard(_slo("90", "7d"), "page_fast") == "0.0125"  # 9 * 14m / 10080m
    assert _guard(_slo("99.9"), "page_fast") == "0.02"


def test_low_traffic_guard_follows_the_tightening_schedule() -> None:
    """Per phase: 4.5x, 6x and 9x over 14m of 7d spend 0.625%, 0.8333...% and 1.25%."""
    # 2027-02-01 is 1801440000, 2027-05-01 is 1809129600; 6 * 14 / 10080 rounded down.
    assert _guard(_slo("80", "7d", TIGHTENING), "page_fast") == (
        "((time() < bool 1801440000) * 0.00625 + (time() >= bool 1801440000) * "
        "(time() < bool 1809129600) * 0.00833333 + (time() >= bool 1809129600) * 0.0125)"
    )
