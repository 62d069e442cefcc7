"""One SLO spec resolved: its period, objectives, SLI, alerting and policies together."""

from __future__ import annotations

from collections.abc import Mapping

from rulegen import burn
from rulegen.durations import format_duration, parse_duration
from rulegen.loader import Loc
from rulegen.model import RISK_DEFAULTS, SLO, BurnTier, Phase, span
from rulegen.numbers import percent, share_percent
from rulegen.resolve.alerting import resolve_absence, resolve_tiers, slo_alerting
from rulegen.resolve.labels import check_labels
from rulegen.resolve.phases import resolve_phases
from rulegen.resolve.policies import check_policies, resolve_policies
from rulegen.resolve.problems import DocumentProblems
from rulegen.resolve.sli import resolve_sli
from rulegen.spec import SLOSpec, WorkflowSpec
from rulegen.taxonomy import OutcomeClass

__all__ = ["resolve_slo"]


def resolve_slo(
    spec: SLOSpec,
    loc: Loc,
    workflow: WorkflowSpec,
    *,
    outcomes: Mapping[str, OutcomeClass],
    source: str,
    problems: DocumentProblems,
) -> SLO:
    """The SLO written at ``loc``, with the workflow's settings wherever it gives none."""
    risk = RISK_DEFAULTS[workflow.tier]
    check_labels(spec.labels, (*loc, "labels"), problems)
    period, period_loc = _period(spec, loc, workflow, problems)
    phases = resolve_phases(spec, loc, risk.objective, problems)
    if spec.policies is not None:
        check_policies(spec.policies, (*loc, "policies"), problems)
    alerting = slo_alerting(workflow.alerting, spec.alerting, loc, problems)
    tiers = resolve_tiers(
        alerting,
        spec.alerting,
        loc,
        period_at=(period, period_loc),
        phases=phases,
        risk=risk,
        problems=problems,
    )
    if spec.alerting is not None:  # the workflow's own are checked with the workflow
        check_labels(spec.alerting.labels, (*loc, "alerting", "labels"), problems)
    low_traffic = alerting.low_traffic
    absence = resolve_absence(alerting, loc, period, problems)
    return SLO(
        name=spec.name,
        workflow=workflow.workflow,
        description=spec.description,
        source=source,
        risk=workflow.tier,
        period=period,
        phases=phases,
        sli=resolve_sli(spec.sli, (*loc, "sli"), workflow, outcomes, problems),
        labels=dict(sorted({**workflow.labels, **spec.labels}.items())),
        tiers=tiers,
        policies=resolve_policies(
            spec.policies if spec.policies is not None else workflow.policies
        ),
        exhausted_action=spec.exhausted_action or workflow.exhausted_action,
        absence=absence,
        budget_share_guard=low_traffic.budget_share if low_traffic else True,
        min_events=(
            low_traffic.min_events
            if low_traffic and low_traffic.min_events is not None
            else risk.min_events
        ),
        alert_labels=dict(sorted(alerting.labels.items())),
        alert_annotations=dict(sorted(alerting.annotations.items())),
        runbook_url=alerting.runbook_url,
        dashboard_url=alerting.dashboard_url,
        notes=_notes(spec.name, period, phases, tiers),
    )


def _period(
    spec: SLOSpec, loc: Loc, workflow: WorkflowSpec, problems: DocumentProblems
) -> tuple[int, Loc]:
    """The SLO's period in seconds, and where it is written (the SLO or its workflow)."""
    period = parse_duration(spec.period or workflow.period)
    period_loc: Loc = (*loc, "period") if spec.period else ("period",)
    if period % burn.DAY:
        problems.add(
            period_loc, "the period must be a whole number of days or weeks (e.g. 7d, 28d, 4w)"
        )
        period = burn.REFERENCE_PERIOD  # go on checking the rest without cascading errors
    return period, period_loc


def _notes(
    name: str, period: int, phases: tuple[Phase, ...], tiers: tuple[BurnTier, ...]
) -> tuple[str, ...]:
    """One note per tier and phase whose threshold was adapted: what it fires at instead."""
    return tuple(
        f"SLO '{name}', tier {t.name}, objective {percent(p.objective)}"
        f"{f' ({span(phases, i)})' if len(phases) > 1 else ''}: burn factor {t.factor} "
        f"needs {percent(t.factor * p.budget)} errors, more than can happen; it fires at "
        f"{percent(th.ratio)} errors instead, a {th.factor}x burn, which spends "
        f"{share_percent(share)} of the {format_duration(period)} budget in "
        f"{format_duration(t.long_window)} rather than {share_percent(t.budget_percent / 100)}"
        for t in tiers
        for i, (p, th, share) in enumerate(zip(phases, t.thresholds, t.budget_shares, strict=True))
        if th.adapted
    )
