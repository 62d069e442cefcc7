"""Alerting rules: burn-rate tiers, exhausted budget, policy thresholds, silence, zero tolerance."""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal
from typing import Any

from rulegen import burn, names, promql
from rulegen.durations import format_duration
from rulegen.generators.recording import (
    Rule,
    bad_record,
    events_record,
    ratio_record,
    slo_labels,
)
from rulegen.model import SLO, BurnTier, Policy, Workflow, schedule, span
from rulegen.numbers import percent, share_percent

__all__ = ["alerts_group", "zero_tolerance_group"]


def _alert(
    name: str,
    expr: str,
    labels: dict[str, str],
    annotations: dict[str, str],
    for_: int | None = None,
) -> Rule:
    rule: Rule = {"alert": name, "expr": expr}
    if for_:
        rule["for"] = format_duration(for_)
    rule["labels"] = labels
    rule["annotations"] = annotations
    return rule


def _links(slo: SLO) -> dict[str, str]:
    links = {}
    if slo.runbook_url:
        links["runbook_url"] = slo.runbook_url
    if slo.dashboard_url:
        links["dashboard_url"] = slo.dashboard_url
    return links


def _with_period_events_guard(slo: SLO, expr: str) -> str:
    """``expr``, only once the period holds the SLO's minimum of events."""
    if slo.min_events <= 0:
        return expr
    return promql.and_ignoring_window(
        expr, promql.at_least(events_record(slo, slo.period), slo.min_events)
    )


def burn_alert(slo: SLO, tier: BurnTier) -> Rule:
    """One multiwindow burn-rate alert, with the low-traffic guards."""
    long_name = promql.window_name(tier.long_window)
    short_name = promql.window_name(tier.short_window)
    threshold = promql.piecewise(slo.phases, [t.ratio for t in tier.thresholds])
    parts = [
        promql.above(ratio_record(slo, tier.long_window), threshold),
        promql.above(ratio_record(slo, tier.short_window), threshold),
    ]
    bad_long = bad_record(slo, tier.long_window)
    if tier.min_bad_events > 0:
        parts.append(promql.at_least(bad_long, tier.min_bad_events))
    if slo.budget_share_guard:
        # The period's allowed bad events come from the steps group; until it has run once
        # (up to one step after the rules are loaded) only the other guards apply. The share
        # is what burning at the threshold spends: for an adapted tier, less than its
        # budget_percent, or steady traffic at the adapted threshold could never fire it.
        shares = [_guard_share(share) for share in tier.budget_shares]
        share = (
            promql.number(shares[0])
            if len(set(shares)) == 1
            else promql.piecewise(slo.phases, shares)
        )
        allowed = promql.slo_selector(names.REC_PERIOD_ALLOWED, slo)
        parts.append(promql.budget_share_guard(bad_long, share, allowed))
    labels = {
        **slo_labels(slo),
        **slo.alert_labels,
        **tier.labels,
        names.LABEL_SEVERITY: tier.severity,
        names.LABEL_LONG_WINDOW: long_name,
        names.LABEL_SHORT_WINDOW: short_name,
    }
    annotations = {
        **_burn_annotations(slo, tier),
        **_links(slo),
        **slo.alert_annotations,
        **tier.annotations,
    }
    adapted = _adapted_annotation(slo, tier)
    if adapted:
        annotations["adapted"] = adapted
    return _alert(names.ALERT_BURN, promql.all_of(parts), labels, annotations, tier.for_)


def _guard_share(share: Decimal) -> Decimal:
    """A budget share for the low-traffic guard: six significant digits, rounded down."""
    exponent = share.adjusted() - 5
    return share.quantize(Decimal(1).scaleb(exponent), rounding=ROUND_FLOOR).normalize()


def _burn_annotations(slo: SLO, tier: BurnTier) -> dict[str, str]:
    """Summary, description and budget spent, with the figures each phase really fires at."""
    long_name = promql.window_name(tier.long_window)
    short_name = promql.window_name(tier.short_window)
    period = slo.period_name
    factors = [f"{th.factor}x" for th in tier.thresholds]
    shares = [share_percent(share) for share in tier.budget_shares]
    figures = [
        f"{percent(th.ratio)} (burn factor {th.factor}, objective {percent(p.objective)})"
        for p, th in zip(slo.phases, tier.thresholds, strict=True)
    ]
    if len(set(zip(factors, shares, strict=True))) == 1:
        summary = (
            f"SLO {slo.name} is burning its error budget {factors[0]} too fast: "
            f"{shares[0]} of the {period} budget within {long_name}"
        )
        spends = f"{shares[0]} of the {period} error budget every {long_name}"
    else:
        summary = (
            f"SLO {slo.name} is burning its error budget too fast over {long_name}: "
            f"above {schedule(slo.phases, factors)}"
        )
        spends = (
            f"this share of the {period} error budget every {long_name}: "
            f"{schedule(slo.phases, shares)}"
        )
    return {
        "summary": summary,
        "description": (
            f"{{{{ $value | humanizePercentage }}}} of {slo.workflow} runs were bad over "
            f"the last {long_name}, and over the last {short_name} too, above "
            f"{schedule(slo.phases, figures)}. Burning at the threshold spends {spends}."
        ),
        "budget_spent": schedule(slo.phases, [f"{share} in {long_name}" for share in shares]),
    }


def _adapted_annotation(slo: SLO, tier: BurnTier) -> str | None:
    """Which phases fire below the tier's own factor, and the factor they fire at instead."""
    adapted = [
        (i, p, th)
        for i, (p, th) in enumerate(zip(slo.phases, tier.thresholds, strict=True))
        if th.adapted
    ]
    if not adapted:
        return None
    single = len(slo.phases) == 1
    needs = [
        f"{percent(tier.factor * p.budget)} errors at objective {percent(p.objective)}"
        + ("" if single else f" ({span(slo.phases, i)})")
        for i, p, _ in adapted
    ]
    caps = sorted({th.ratio for _, _, th in adapted})
    return (
        f"burn factor {tier.factor} would need {_and(needs)}; the tier fires at "
        f"{_and([percent(cap) for cap in caps])} errors instead, a "
        f"{_and([f'{th.factor}x' for _, _, th in adapted])} burn"
    )


def _and(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def exhausted_alert(slo: SLO) -> Rule:
    """The period's budget is spent."""
    expr = _with_period_events_guard(
        slo, promql.at_most(promql.slo_selector(names.REC_PERIOD_REMAINING, slo), 0)
    )
    labels = {**slo_labels(slo), **slo.alert_labels, names.LABEL_SEVERITY: "ticket"}
    annotations = {
        "summary": f"SLO {slo.name} has spent its {slo.period_name} error budget",
        "description": (
            f"{{{{ $value | humanizePercentage }}}} of the {slo.period_name} error budget of "
            f"{slo.workflow} remains. Policy: {slo.exhausted_action}"
        ),
        "action": slo.exhausted_action,
        **_links(slo),
        **slo.alert_annotations,
    }
    return _alert(names.ALERT_BUDGET_EXHAUSTED, expr, labels, annotations)


def policy_alert(slo: SLO, policy: Policy) -> Rule:
    """A policy threshold crossed, within its band (below the next, more severe one)."""
    if policy.kind == "failure_rate":
        value = ratio_record(slo, slo.period)
        expr = promql.above(value, policy.threshold)
        if policy.until is not None:
            expr = promql.unless(expr, promql.above(value, policy.until))
        condition = f"the failure rate over {slo.period_name} is above {percent(policy.threshold)}"
    else:
        value = promql.slo_selector(names.REC_PERIOD_REMAINING, slo)
        expr = promql.below(value, policy.threshold)
        if policy.until is not None:
            expr = promql.unless(expr, promql.below(value, policy.until))
        condition = f"less than {percent(policy.threshold)} of the {slo.period_name} budget remains"
    expr = _with_period_events_guard(slo, expr)
    labels = {
        **slo_labels(slo),
        **slo.alert_labels,
        names.LABEL_SEVERITY: policy.severity,
        names.LABEL_POLICY: policy.name,
    }
    annotations = {
        "summary": f"SLO {slo.name}: {policy.name.replace('_', ' ')}: {policy.action}",
        "description": (
            f"For {slo.workflow}, {condition} (now {{{{ $value | humanizePercentage }}}})."
        ),
        "action": policy.action,
        **_links(slo),
        **slo.alert_annotations,
    }
    return _alert(names.ALERT_POLICY, expr, labels, annotations)


def absence_alert(slo: SLO) -> Rule:
    """No events over the silence window."""
    assert slo.absence is not None
    after = format_duration(slo.absence.after)
    # Silent: no events over the window, or no target reporting at all. Only once the SLO has
    # counted for the whole window (its period figures existed a window ago): a fresh
    # Prometheus, or an SLO just added, has no history to be silent about.
    expr = promql.silent(
        events_record(slo, slo.absence.after), events_record(slo, slo.period), after
    )
    labels = {**slo_labels(slo), **slo.alert_labels, names.LABEL_SEVERITY: slo.absence.severity}
    annotations = {
        "summary": f"SLO {slo.name} has seen no {slo.workflow} events for {after}",
        "description": (
            f"No events for {slo.workflow} in the last {after}: the agents, the exporter or "
            "the scrape have stopped, and the error budget is no longer measured."
        ),
        **_links(slo),
        **slo.alert_annotations,
    }
    # Two steps, so that a window summed from steps is seen twice before it is trusted.
    return _alert(names.ALERT_EVENTS_ABSENT, expr, labels, annotations, for_=2 * burn.STEP)


def alerts_group(slo: SLO) -> dict[str, Any]:
    """Every alert of one SLO."""
    rules = [burn_alert(slo, tier) for tier in slo.tiers]
    rules.append(exhausted_alert(slo))
    rules.extend(policy_alert(slo, p) for p in slo.policies)
    if slo.absence is not None:
        rules.append(absence_alert(slo))
    return {"name": f"agent-slo-{slo.name}-alerts", "rules": rules}


def zero_tolerance_group(workflow: Workflow) -> dict[str, Any] | None:
    """The workflow's alert on any single zero-tolerance outcome, or ``None``."""
    zt = workflow.zero_tolerance
    if zt is None:
        return None
    labels = {
        names.LABEL_SLO: workflow.zero_tolerance_slo,
        names.LABEL_WORKFLOW: workflow.name,
        **workflow.labels,
        **zt.labels,
        names.LABEL_SEVERITY: zt.severity,
    }
    annotations = {
        "summary": (
            f"Zero-tolerance outcome {{{{ $labels.outcome }}}} in workflow {workflow.name}"
        ),
        "description": (
            f"{{{{ $value }}}} run(s) of {workflow.name} ended in {{{{ $labels.outcome }}}} "
            "within the last few minutes. This outcome has no error budget: every one pages."
        ),
        **zt.annotations,
    }
    rule = _alert(
        names.ALERT_ZERO_TOLERANCE, promql.zero_tolerance_expr(workflow), labels, annotations
    )
    return {"name": f"agent-slo-{workflow.name}-zero-tolerance", "rules": [rule]}
