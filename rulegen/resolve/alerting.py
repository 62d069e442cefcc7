"""Alerting resolved: burn-rate tiers and their windows, the absence alert, zero tolerance.

An SLO's alerting is its workflow's with the SLO's own fields laid over it.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from rulegen import burn
from rulegen.durations import format_duration, parse_duration
from rulegen.loader import Loc
from rulegen.model import (
    DEFAULT_ADAPTED_THRESHOLD,
    Absence,
    BurnTier,
    Phase,
    RiskDefaults,
    ZeroTolerance,
)
from rulegen.numbers import percent
from rulegen.resolve.labels import check_labels
from rulegen.resolve.problems import DocumentProblems
from rulegen.spec import AbsenceSpec, AlertingSpec, AlertTierSpec
from rulegen.taxonomy import OutcomeClass

__all__ = [
    "resolve_absence",
    "resolve_tiers",
    "slo_alerting",
    "zero_tolerance",
]


def slo_alerting(
    workflow: AlertingSpec, own: AlertingSpec | None, loc: Loc, problems: DocumentProblems
) -> AlertingSpec:
    """The alerting of the SLO at ``loc``: the workflow's, with the SLO's ``own`` laid over."""
    if own is not None and own.zero_tolerance is not None:
        problems.add(
            (*loc, "alerting", "zero_tolerance"),
            "the zero-tolerance alert is one for the whole workflow: set it in the "
            "workflow's alerting",
        )
    return _merge(workflow, own)


def _merge(base: AlertingSpec, override: AlertingSpec | None) -> AlertingSpec:
    """``base`` with the fields ``override`` sets laid over it; tiers, labels and annotations
    merge by name."""
    if override is None:
        return base
    merged = base.model_dump(by_alias=True, exclude_unset=True)
    for key, value in override.model_dump(by_alias=True, exclude_unset=True).items():
        if key == "tiers" and key in merged:
            tiers = dict(merged[key])
            for name, tier in value.items():
                tiers[name] = {**tiers.get(name, {}), **tier}
            merged[key] = tiers
        elif key in ("labels", "annotations") and key in merged:
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return AlertingSpec.model_validate(merged)


def zero_tolerance(
    alerting: AlertingSpec, outcomes: Mapping[str, OutcomeClass]
) -> ZeroTolerance | None:
    """The workflow's alert on any zero-tolerance outcome; ``None`` if it has none or is off."""
    zt = alerting.zero_tolerance
    listed = tuple(sorted(o for o, c in outcomes.items() if c is OutcomeClass.ZERO_TOLERANCE))
    if not listed or (zt is not None and not zt.enabled):
        return None
    return ZeroTolerance(
        outcomes=listed,
        severity=zt.severity if zt else "page",
        labels={**alerting.labels, **(zt.labels if zt else {})},
        annotations={**alerting.annotations, **(zt.annotations if zt else {})},
    )


def resolve_absence(
    alerting: AlertingSpec, loc: Loc, period: int, problems: DocumentProblems
) -> Absence | None:
    """The SLO's alert on events that stopped; ``None`` if switched off."""
    spec = alerting.absence or AbsenceSpec()
    if not spec.enabled:
        return None
    after = parse_duration(spec.after)
    _check_window(after, (*loc, "alerting", "absence", "after"), period, problems)
    return Absence(after, spec.severity)


def _check_window(seconds: int, loc: Loc, period: int, problems: DocumentProblems) -> None:
    """Report a window the recording rules cannot give: longer than the period, not whole
    minutes, or, past the raw windows, not a whole number of steps."""
    if seconds > period:
        problems.add(loc, f"window {format_duration(seconds)} is longer than the period")
    if seconds % burn.MINUTE:
        problems.add(loc, "windows must be whole minutes")
    elif seconds > burn.RAW_WINDOW_MAX and seconds % burn.STEP:
        problems.add(
            loc,
            f"windows over {format_duration(burn.RAW_WINDOW_MAX)} are sums of "
            f"{format_duration(burn.STEP)} steps: use a multiple of "
            f"{format_duration(burn.STEP)}",
        )


def resolve_tiers(
    alerting: AlertingSpec,
    own: AlertingSpec | None,
    loc: Loc,
    *,
    period_at: tuple[int, Loc],
    phases: tuple[Phase, ...],
    risk: RiskDefaults,
    problems: DocumentProblems,
) -> tuple[BurnTier, ...]:
    """The burn-rate tiers of the SLO at ``loc``: the default tiers, then new ones by name.

    ``alerting`` is the SLO's merged alerting, ``own`` what the SLO itself writes (it decides
    where tier problems are located); ``period_at`` is the period and where it is written.
    """
    period = period_at[0]
    defaults = {t.name: t for t in burn.DEFAULT_TIERS}
    written: dict[str, AlertTierSpec] = dict(alerting.tiers)
    tiers_loc: Loc = (*loc, "alerting", "tiers") if own and own.tiers else ("alerting", "tiers")
    cap = (
        alerting.adapted_threshold_percent / 100
        if alerting.adapted_threshold_percent is not None
        else DEFAULT_ADAPTED_THRESHOLD
    )
    low_traffic = alerting.low_traffic
    min_bad = (
        low_traffic.min_bad_events
        if low_traffic and low_traffic.min_bad_events is not None
        else risk.min_bad_events
    )
    out: list[BurnTier] = []
    for name in [*defaults, *sorted(n for n in written if n not in defaults)]:
        given = written.get(name, AlertTierSpec())
        if not given.enabled:
            continue
        tier_loc: Loc = (*tiers_loc, name)
        default = defaults.get(name)
        if default is None and (given.budget_percent is None or given.long_window is None):
            problems.add(tier_loc, "a new tier needs budget_percent and long_window")
            continue
        windows = _tier_windows(
            name, given, default, period_at=period_at, tier_loc=tier_loc, problems=problems
        )
        if windows is None:
            continue
        long_s, short_s = windows
        budget_percent = given.budget_percent or (default.budget_percent if default else 0)
        factor = burn.burn_factor(Decimal(budget_percent), period, long_s)
        thresholds = tuple(burn.threshold(factor, p.objective, cap) for p in phases)
        if alerting.unreachable == "error":
            for p, th in zip(phases, thresholds, strict=True):
                if th.adapted:
                    problems.add(
                        tier_loc,
                        f"this tier can never fire: burn factor {factor} × budget "
                        f"{percent(p.budget)} needs {percent(factor * p.budget)} errors "
                        "(set unreachable: adapt, lower budget_percent, lengthen the "
                        "long window, or switch the tier off)",
                    )
        if factor <= 0:
            problems.add((*tier_loc, "budget_percent"), "the burn factor must be positive")
        severity = given.severity or (
            risk.page_severity
            if default and default.severity == "page"
            else (default.severity if default else "ticket")
        )
        check_labels(given.labels, (*tier_loc, "labels"), problems)
        out.append(
            BurnTier(
                name=name,
                severity=severity,
                budget_percent=Decimal(budget_percent).normalize(),
                long_window=long_s,
                short_window=short_s,
                factor=factor,
                thresholds=thresholds,
                budget_shares=tuple(
                    burn.budget_share(th, p.objective, Decimal(budget_percent), period, long_s)
                    for p, th in zip(phases, thresholds, strict=True)
                ),
                for_=parse_duration(given.for_) if given.for_ else None,
                min_bad_events=(
                    given.min_bad_events if given.min_bad_events is not None else min_bad
                ),
                labels=dict(sorted(given.labels.items())),
                annotations=dict(sorted(given.annotations.items())),
            )
        )
    return tuple(out)


def _tier_windows(
    name: str,
    given: AlertTierSpec,
    default: burn.DefaultTier | None,
    *,
    period_at: tuple[int, Loc],
    tier_loc: Loc,
    problems: DocumentProblems,
) -> tuple[int, int] | None:
    """The long and short windows of a tier, checked; ``None`` if it cannot have any."""
    period, period_loc = period_at
    if given.long_window is not None:
        long_s = parse_duration(given.long_window)
        short_s = (
            parse_duration(given.short_window)
            if given.short_window is not None
            else burn.default_short_window(long_s)
        )
    else:
        assert default is not None
        long_s, short_s = burn.scale_windows(default.long_window, default.short_window, period)
        if given.short_window is not None:
            short_s = parse_duration(given.short_window)
        elif short_s >= long_s:
            problems.add(
                period_loc,
                f"a period of {format_duration(period)} is too short for the default "
                f"tier {name}: scaled to it, its windows would be "
                f"{format_duration(long_s)} and {format_duration(short_s)}; give the "
                "tier long_window and short_window, or switch it off",
            )
            return None
    _check_window(long_s, (*tier_loc, "long_window"), period, problems)
    if long_s == period:
        problems.add(
            (*tier_loc, "long_window"),
            "the long window must be shorter than the period "
            "(the period's own figures are the ErrorBudgetExhausted alert)",
        )
    _check_window(short_s, (*tier_loc, "short_window"), period, problems)
    if short_s >= long_s:
        problems.add(
            (*tier_loc, "short_window"),
            f"the short window ({format_duration(short_s)}) must be shorter than the "
            f"long window ({format_duration(long_s)})",
        )
    return long_s, short_s
