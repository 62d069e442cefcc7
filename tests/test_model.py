"""The model: defaults from the risk tier, merged alerting, resolved tiers and policies."""

from __future__ import annotations

from decimal import Decimal

from rulegen.loader import load_text
from rulegen.model import SLO, Workflow
from rulegen.resolve import build


def _workflow(text: str) -> Workflow:
    documents, errors = load_text(text, "spec.yaml")
    assert errors == []
    return build(documents)[0]


def _slo(body: str, head: str = "") -> SLO:
    text = f"apiVersion: agent-slo/v1\nworkflow: w\n{head}slos:\n  - name: s\n{body}"
    return _workflow(text).slos[0]


OUTCOMES = "    sli: {outcomes: {}}\n"


def test_risk_tier_supplies_objective_and_guards() -> None:
    """Each risk tier has its own default objective, page severity and low-traffic guard."""
    low = _slo(OUTCOMES, "tier: low\n")
    high = _slo(OUTCOMES, "tier: high\n")
    assert (low.phases[0].objective, high.phases[0].objective) == (Decimal("0.9"), Decimal("0.99"))
    assert {t.severity for t in low.tiers} == {"ticket"}
    assert [t.severity for t in high.tiers] == ["page", "page", "ticket", "ticket"]
    assert {t.min_bad_events for t in low.tiers} == {5}
    assert {t.min_bad_events for t in high.tiers} == {2}


def test_default_bad_outcomes_are_every_bad_one_not_excluded() -> None:
    """Without `bad`, every bad and zero-tolerance outcome counts, except excluded ones."""
    slo = _slo("    sli: {outcomes: {exclude: [timeout]}}\n", "outcomes: {hallucination: bad}\n")
    assert slo.sli.bad is not None
    bad = slo.sli.bad.matchers[1].value.split("|")
    assert "hallucination" in bad
    assert "policy_violation" in bad
    assert "timeout" not in bad
    assert "success" not in bad
    assert slo.sli.total.render() == 'agent_outcomes_total{workflow="w",outcome!~"timeout"}'


def test_slo_alerting_is_laid_over_the_workflow() -> None:
    """An SLO's alerting overrides fields of the workflow's, tier by tier, labels merged."""
    head = (
        "alerting:\n  labels: {team: a}\n  tiers:\n"
        "    page_fast: {severity: sev1, for: 2m}\n    ticket_slow: false\n"
    )
    body = (
        OUTCOMES + "    alerting:\n      labels: {route: b}\n"
        "      tiers:\n        page_fast: {for: 5m}\n"
    )
    slo = _slo(body, head)
    fast = slo.tiers[0]
    assert (fast.name, fast.severity, fast.for_) == ("page_fast", "sev1", 300)
    assert [t.name for t in slo.tiers] == ["page_fast", "page_slow", "ticket_fast"]
    assert slo.alert_labels == {"route": "b", "team": "a"}


def test_custom_tier_is_added() -> None:
    """A new tier with budget_percent and long_window is added; its short window is a twelfth."""
    head = "alerting:\n  tiers:\n    weekly: {budget_percent: 25, long_window: 2d}\n"
    slo = _slo(OUTCOMES, head)
    weekly = slo.tiers[-1]
    assert (weekly.name, weekly.long_window, weekly.short_window) == ("weekly", 172800, 14400)
    assert weekly.factor == Decimal("3.75")


def test_policies_fire_in_bands() -> None:
    """Each policy knows the next, more severe one of its kind; the kinds interleave freely."""
    head = (
        "policies:\n"
        "  - {name: warn, failure_rate_above: 30, action: tighten}\n"
        "  - {name: low, budget_remaining_below: 25, action: review}\n"
        "  - {name: red, failure_rate_above: 50, action: stop, severity: page}\n"
        "  - {name: spent, budget_remaining_below: -10, action: freeze, severity: page}\n"
    )
    slo = _slo(OUTCOMES, head)
    bands = [(p.name, p.threshold, p.until) for p in slo.policies]
    assert bands == [
        ("warn", Decimal("0.3"), Decimal("0.5")),
        ("red", Decimal("0.5"), None),
        ("low", Decimal("0.25"), Decimal("-0.1")),
        ("spent", Decimal("-0.1"), None),
    ]


def test_tightening_phases_start_at_midnight_utc() -> None:
    """Each tightening step starts a phase at 00:00 UTC of its date."""
    body = (
        OUTCOMES + "    objective: 80\n    tightening:\n      - {date: 2027-01-01, objective: 85}\n"
    )
    slo = _slo(body)
    assert [(p.start, p.objective) for p in slo.phases] == [
        (None, Decimal("0.8")),
        (1798761600, Decimal("0.85")),
    ]


def test_the_objective_in_force_follows_the_schedule() -> None:
    """Before the first tightening date the first objective holds, from 00:00 UTC of each
    date the next one (2027-01-01 00:00 UTC is 1798761600)."""
    body = (
        OUTCOMES + "    objective: 80\n    tightening:\n"
        "      - {date: 2027-01-01, objective: 85}\n      - {date: 2027-03-01, objective: 90}\n"
    )
    slo = _slo(body)
    assert slo.phase_at(0).objective == Decimal("0.8")
    assert slo.phase_at(1798761599.999).objective == Decimal("0.8")
    assert slo.phase_at(1798761600).objective == Decimal("0.85")
    assert slo.phase_at(1798761600 + 59 * 86400 - 1).objective == Decimal("0.85")
    assert slo.phase_at(1798761600 + 59 * 86400).objective == Decimal("0.9")
    assert slo.phase_at(4e9).budget == Decimal("0.1")


def test_latency_sli_reads_the_histogram_bucket() -> None:
    """A latency SLI counts runs under the threshold from the histogram's `le` bucket."""
    slo = _slo("    sli: {latency: {threshold: 1500ms}}\n")
    assert slo.sli.good is not None
    assert slo.sli.good.render() == 'agent_run_duration_seconds_bucket{workflow="w",le="1.5"}'
    assert slo.sli.total.render() == 'agent_run_duration_seconds_count{workflow="w"}'


def test_zero_tolerance_outcomes_come_from_the_taxonomy() -> None:
    """Zero-tolerance outcomes are the taxonomy's plus custom ones, minus reclassified ones."""
    head = "outcomes: {unsanctioned_send: zero_tolerance, policy_violation: bad}\n"
    wf = _workflow(f"apiVersion: agent-slo/v1\nworkflow: w\n{head}slos:\n  - name: s\n{OUTCOMES}")
    assert wf.zero_tolerance is not None
    assert wf.zero_tolerance.outcomes == ("permission_violation", "unsanctioned_send")
