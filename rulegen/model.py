"""The one model of an SLO: specs resolved into workflows and SLOs with every default applied.

Generators and the exporter read this model, never raw YAML. :func:`build` turns loaded
documents into :class:`Workflow` objects, or raises :class:`SpecErrors` listing every problem
(with file, line and field) across all files.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Final, Literal

from rulegen import burn, names
from rulegen.durations import format_duration, parse_duration, parse_duration_ms
from rulegen.errors import SpecError, SpecErrors
from rulegen.loader import Document, Loc, discover, load_files
from rulegen.numbers import percent
from rulegen.selectors import Matcher, Selector, parse_selector
from rulegen.spec import (
    AbsenceSpec,
    AlertingSpec,
    AlertTierSpec,
    OutcomesSLISpec,
    PolicySpec,
    RatioSLISpec,
    RiskTier,
    SLOSpec,
    WorkflowSpec,
)
from rulegen.taxonomy import DEFAULT_OUTCOMES, OutcomeClass, is_bad

__all__ = [
    "SLI",
    "SLO",
    "Absence",
    "BurnTier",
    "Dimension",
    "Phase",
    "Policy",
    "Workflow",
    "ZeroTolerance",
    "build",
    "schedule",
    "share_percent",
    "span",
]


@dataclass(frozen=True)
class RiskDefaults:
    """What a risk tier supplies when a spec does not say."""

    objective: Decimal
    page_severity: str
    min_bad_events: int
    min_events: int


RISK_DEFAULTS: Final[Mapping[RiskTier, RiskDefaults]] = MappingProxyType(
    {
        # Low-risk work (drafting, summaries) does not wake anyone: fast burns open tickets.
        RiskTier.LOW: RiskDefaults(Decimal("0.90"), "ticket", 5, 20),
        RiskTier.MEDIUM: RiskDefaults(Decimal("0.95"), "page", 3, 20),
        RiskTier.HIGH: RiskDefaults(Decimal("0.99"), "page", 2, 10),
    }
)
DEFAULT_ADAPTED_THRESHOLD: Final = Decimal("0.9")
#: Alert severities agent-slo knows the order of, mildest first; others are not compared.
_SEVERITY_RANK: Final[Mapping[str, int]] = MappingProxyType({"ticket": 0, "page": 1})
ZERO_TOLERANCE_SUFFIX: Final = "-zero-tolerance"


@dataclass(frozen=True)
class Phase:
    """The objective in force from ``start`` (Unix seconds, 00:00 UTC) on; ``None``: always."""

    start: int | None
    objective: Decimal

    @property
    def budget(self) -> Decimal:
        """The error budget, 1 − objective."""
        return 1 - self.objective

    @property
    def date(self) -> str | None:
        """The day the phase starts (``2027-02-01``); ``None`` for the first phase."""
        if self.start is None:
            return None
        return dt.datetime.fromtimestamp(self.start, tz=dt.UTC).date().isoformat()


@dataclass(frozen=True)
class SLI:
    """Counters whose increases give bad and total events: ``bad``, or ``total − good``.

    ``detail_labels`` vary between the series of one scrape target (outcome, dimensions):
    summed away, they leave one counter per target (exporter replica), whose rises are
    counted exactly whatever happens to single series (see ``rulegen.promql``).
    """

    kind: Literal["outcomes", "latency", "ratio"]
    total: Selector
    bad: Selector | None = None
    good: Selector | None = None
    test_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    detail_labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class BurnTier:
    """One multiwindow burn-rate alert, resolved."""

    name: str
    severity: str
    budget_percent: Decimal
    long_window: int
    short_window: int
    factor: Decimal  # as specified; an adapted phase fires at its threshold's lower factor
    thresholds: tuple[burn.Threshold, ...]  # one per phase of the SLO
    #: One per phase: the share of the period's budget that burning at the threshold for the
    #: long window spends (``budget_percent`` / 100, less where the threshold is adapted).
    budget_shares: tuple[Decimal, ...]
    for_: int | None
    min_bad_events: int
    labels: Mapping[str, str]
    annotations: Mapping[str, str]


@dataclass(frozen=True)
class Policy:
    """A threshold on the period's figures, with the action it demands."""

    name: str
    kind: Literal["failure_rate", "budget_remaining"]
    threshold: Decimal  # a ratio
    until: Decimal | None  # the next, more severe threshold of the same kind
    action: str
    severity: str


@dataclass(frozen=True)
class Absence:
    """Alert when an SLO has seen no events for ``after`` seconds."""

    after: int
    severity: str


@dataclass(frozen=True)
class SLO:
    """One SLO with every default applied."""

    name: str
    workflow: str
    description: str
    source: str
    risk: RiskTier
    period: int
    phases: tuple[Phase, ...]
    sli: SLI
    labels: Mapping[str, str]
    tiers: tuple[BurnTier, ...]
    policies: tuple[Policy, ...]
    exhausted_action: str
    absence: Absence | None
    budget_share_guard: bool
    min_events: int
    alert_labels: Mapping[str, str]
    alert_annotations: Mapping[str, str]
    runbook_url: str | None
    dashboard_url: str | None
    notes: tuple[str, ...]

    @property
    def objective(self) -> Decimal:
        """The objective in force before any tightening step."""
        return self.phases[0].objective

    def phase_at(self, when: float) -> Phase:
        """The objective in force at Unix time ``when`` (the schedule's last step begun)."""
        current = self.phases[0]
        for phase in self.phases[1:]:
            if phase.start is not None and phase.start <= when:
                current = phase
        return current

    @property
    def period_name(self) -> str:
        """The period as a Prometheus duration, e.g. ``30d``."""
        return format_duration(self.period)

    def windows(self) -> list[int]:
        """Every window the rules record, in seconds, shortest first."""
        wanted = {burn.HOUR, self.period}
        for tier in self.tiers:
            wanted.update((tier.long_window, tier.short_window))
        if self.absence:
            wanted.add(self.absence.after)
        return sorted(wanted)


@dataclass(frozen=True)
class Dimension:
    """A declared label on a workflow's outcomes."""

    name: str
    max_values: int
    values: tuple[str, ...]


@dataclass(frozen=True)
class ZeroTolerance:
    """The workflow's alert on any single zero-tolerance outcome."""

    outcomes: tuple[str, ...]
    severity: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]


@dataclass(frozen=True)
class Workflow:
    """A workflow: its taxonomy, dimensions and SLOs."""

    name: str
    description: str
    source: str
    risk: RiskTier
    labels: Mapping[str, str]
    outcomes: Mapping[str, OutcomeClass]
    dimensions: tuple[Dimension, ...]
    zero_tolerance: ZeroTolerance | None
    slos: tuple[SLO, ...]
    latency_buckets: tuple[float, ...]
    autonomy: tuple[tuple[int, str], ...]

    @property
    def zero_tolerance_slo(self) -> str:
        """The ``slo`` label of the zero-tolerance alert: ``<workflow>-zero-tolerance``."""
        return f"{self.name}{ZERO_TOLERANCE_SUFFIX}"

    @property
    def bad_outcomes(self) -> list[str]:
        """The outcomes that spend error budget, sorted."""
        return sorted(o for o, c in self.outcomes.items() if is_bad(c))


def load(paths: Iterable[str | Path]) -> list[Workflow]:
    """Load, validate and resolve every spec under ``paths``; raise ``SpecErrors``."""
    return build(load_files(discover(paths)))


def build(documents: Sequence[Document]) -> list[Workflow]:
    """Resolve loaded documents into workflows, or raise :class:`SpecErrors` with every problem."""
    errors: list[SpecError] = []
    workflows: list[Workflow] = []
    seen_slos: dict[str, str] = {}
    seen_workflows: dict[str, str] = {}
    for doc in documents:
        resolver = _Resolver(doc)
        workflow = resolver.workflow()
        where = f"{doc.path}:{doc.line(('workflow',))}"
        if workflow.name in seen_workflows:
            errors.append(
                doc.error(
                    ("workflow",),
                    f"workflow '{workflow.name}' is already defined at "
                    f"{seen_workflows[workflow.name]}; keep one workflow in one spec",
                )
            )
        seen_workflows.setdefault(workflow.name, where)
        names_here: list[tuple[str, Loc]] = [(workflow.zero_tolerance_slo, ("workflow",))]
        names_here += [(slo.name, ("slos", i, "name")) for i, slo in enumerate(doc.spec.slos)]
        for slo_name, loc in names_here:
            if slo_name in seen_slos:
                errors.append(
                    doc.error(
                        loc,
                        f"SLO name '{slo_name}' is already used at {seen_slos[slo_name]}; "
                        "SLO names must be unique across all specs",
                    )
                )
            else:
                seen_slos[slo_name] = f"{doc.path}:{doc.line(loc)}"
        errors.extend(resolver.errors)
        workflows.append(workflow)
    if errors:
        raise SpecErrors(errors)
    return workflows


class _Resolver:
    """Applies defaults to one document, collecting located errors."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.spec: WorkflowSpec = doc.spec
        self.errors: list[SpecError] = []
        self.risk = RISK_DEFAULTS[self.spec.tier]
        self.outcomes = {**DEFAULT_OUTCOMES, **self.spec.outcomes}

    def error(self, loc: Loc, message: str) -> None:
        self.errors.append(self.doc.error(loc, message))

    def workflow(self) -> Workflow:
        spec = self.spec
        self._check_labels(spec.labels, ("labels",))
        self._check_labels(spec.alerting.labels, ("alerting", "labels"))
        dimensions = []
        for name, dim in spec.dimensions.items():
            if name in names.RESERVED_LABELS or name.startswith("__"):
                self.error(("dimensions", name), f"'{name}' is reserved; choose another name")
            if len(set(dim.values)) != len(dim.values):
                self.error(("dimensions", name, "values"), "values are listed more than once")
            if len(dim.values) > dim.max_values:
                self.error(
                    ("dimensions", name, "values"),
                    f"{len(dim.values)} values listed but max_values is {dim.max_values}",
                )
            dimensions.append(Dimension(name, dim.max_values, tuple(dim.values)))
        self._check_policies(spec.policies, ("policies",))
        slos = tuple(self._slo(i, s) for i, s in enumerate(spec.slos))
        buckets = sorted(
            {
                parse_duration_ms(s.sli.latency.threshold) / 1000
                for s in spec.slos
                if s.sli.latency is not None
            }
        )
        return Workflow(
            name=spec.workflow,
            description=spec.description,
            source=self.doc.path,
            risk=spec.tier,
            labels=dict(sorted(spec.labels.items())),
            outcomes=dict(sorted(self.outcomes.items())),
            dimensions=tuple(dimensions),
            zero_tolerance=self._zero_tolerance(),
            slos=slos,
            latency_buckets=tuple(buckets),
            autonomy=tuple(
                (a.days_in_budget, a.grant)
                for a in sorted(spec.autonomy, key=lambda a: a.days_in_budget)
            ),
        )

    def _zero_tolerance(self) -> ZeroTolerance | None:
        zt = self.spec.alerting.zero_tolerance
        outcomes = tuple(
            sorted(o for o, c in self.outcomes.items() if c is OutcomeClass.ZERO_TOLERANCE)
        )
        if not outcomes or (zt is not None and not zt.enabled):
            return None
        base = self.spec.alerting
        return ZeroTolerance(
            outcomes=outcomes,
            severity=zt.severity if zt else "page",
            labels={**base.labels, **(zt.labels if zt else {})},
            annotations={**base.annotations, **(zt.annotations if zt else {})},
        )

    def _check_labels(self, labels: Mapping[str, str], loc: Loc) -> None:
        for name in labels:
            if name in names.RESERVED_LABELS or name.startswith("__"):
                self.error((*loc, name), f"label '{name}' is set by agent-slo; choose another name")

    def _slo(self, index: int, spec: SLOSpec) -> SLO:
        loc: Loc = ("slos", index)
        wf = self.spec
        self._check_labels(spec.labels, (*loc, "labels"))
        period = parse_duration(spec.period or wf.period)
        period_loc: Loc = (*loc, "period") if spec.period else ("period",)
        if period % burn.DAY:
            self.error(
                period_loc, "the period must be a whole number of days or weeks (e.g. 7d, 28d, 4w)"
            )
            period = burn.REFERENCE_PERIOD  # go on checking the rest without cascading errors
        phases = self._phases(loc, spec)
        if spec.policies is not None:
            self._check_policies(spec.policies, (*loc, "policies"))
        if spec.alerting is not None and spec.alerting.zero_tolerance is not None:
            self.error(
                (*loc, "alerting", "zero_tolerance"),
                "the zero-tolerance alert is one for the whole workflow: set it in the "
                "workflow's alerting",
            )
        alerting = _merge_alerting(wf.alerting, spec.alerting)
        tiers = self._tiers(loc, spec, alerting, (period, period_loc), phases)
        low_traffic = alerting.low_traffic
        absence = self._absence(loc, alerting, period)
        notes = [
            f"SLO '{spec.name}', tier {t.name}, objective {percent(p.objective)}"
            f"{f' ({span(phases, i)})' if len(phases) > 1 else ''}: burn factor {t.factor} "
            f"needs {percent(t.factor * p.budget)} errors, more than can happen; it fires at "
            f"{percent(th.ratio)} errors instead, a {th.factor}x burn, which spends "
            f"{share_percent(share)} of the {format_duration(period)} budget in "
            f"{format_duration(t.long_window)} rather than {share_percent(t.budget_percent / 100)}"
            for t in tiers
            for i, (p, th, share) in enumerate(
                zip(phases, t.thresholds, t.budget_shares, strict=True)
            )
            if th.adapted
        ]
        return SLO(
            name=spec.name,
            workflow=wf.workflow,
            description=spec.description,
            source=self.doc.path,
            risk=wf.tier,
            period=period,
            phases=phases,
            sli=self._sli(loc, spec),
            labels=dict(sorted({**wf.labels, **spec.labels}.items())),
            tiers=tiers,
            policies=self._policies(loc, spec),
            exhausted_action=spec.exhausted_action or wf.exhausted_action,
            absence=absence,
            budget_share_guard=low_traffic.budget_share if low_traffic else True,
            min_events=(
                low_traffic.min_events
                if low_traffic and low_traffic.min_events is not None
                else self.risk.min_events
            ),
            alert_labels=dict(sorted(alerting.labels.items())),
            alert_annotations=dict(sorted(alerting.annotations.items())),
            runbook_url=alerting.runbook_url,
            dashboard_url=alerting.dashboard_url,
            notes=tuple(notes),
        )

    def _absence(self, loc: Loc, alerting: AlertingSpec, period: int) -> Absence | None:
        spec = alerting.absence or AbsenceSpec()
        if not spec.enabled:
            return None
        after = parse_duration(spec.after)
        self._check_window(after, (*loc, "alerting", "absence", "after"), period)
        return Absence(after, spec.severity)

    def _phases(self, loc: Loc, spec: SLOSpec) -> tuple[Phase, ...]:
        base = spec.objective / 100 if spec.objective is not None else self.risk.objective
        phases = [Phase(None, base.normalize())]
        previous_date = None
        for i, step in enumerate(spec.tightening):
            step_loc: Loc = (*loc, "tightening", i)
            objective = (step.objective / 100).normalize()
            if previous_date is not None and step.date <= previous_date:
                self.error((*step_loc, "date"), "dates must be in increasing order")
            if objective < phases[-1].objective:
                self.error(
                    (*step_loc, "objective"),
                    f"a tightening step may not lower the objective "
                    f"({percent(objective)} < {percent(phases[-1].objective)})",
                )
            previous_date = step.date
            start = calendar.timegm(step.date.timetuple())
            phases.append(Phase(start, objective))
        return tuple(phases)

    def _sli(self, loc: Loc, spec: SLOSpec) -> SLI:
        sli = spec.sli
        wf_matcher = Matcher(names.LABEL_WORKFLOW, "=", self.spec.workflow)
        if sli.outcomes is not None:
            return self._outcomes_sli((*loc, "sli", "outcomes"), sli.outcomes, wf_matcher)
        if sli.latency is not None:
            milliseconds = parse_duration_ms(sli.latency.threshold)
            return SLI(
                kind="latency",
                total=Selector(f"{names.DURATION_METRIC}_count", (wf_matcher,)),
                good=Selector(
                    f"{names.DURATION_METRIC}_bucket",
                    (wf_matcher, Matcher("le", "=", names.bucket_le(milliseconds / 1000))),
                ),
                detail_labels=tuple(sorted(self.spec.dimensions)),
            )
        assert sli.ratio is not None
        return self._ratio_sli((*loc, "sli", "ratio"), sli.ratio)

    def _outcomes_sli(self, sli_loc: Loc, spec: OutcomesSLISpec, wf_matcher: Matcher) -> SLI:
        known = sorted(self.outcomes)
        for key, listed in (("bad", spec.bad or []), ("exclude", spec.exclude)):
            for i, outcome in enumerate(listed):
                if outcome not in self.outcomes:
                    self.error(
                        (*sli_loc, key, i),
                        f"unknown outcome '{outcome}' (known: {', '.join(known)}; "
                        "add custom outcomes under 'outcomes:')",
                    )
            if len(set(listed)) != len(listed):
                self.error((*sli_loc, key), "an outcome is listed more than once")
        exclude = sorted(set(spec.exclude))
        if spec.bad is None:
            bad = sorted(o for o, c in self.outcomes.items() if is_bad(c) and o not in exclude)
        else:
            bad = sorted(set(spec.bad))
        for outcome in sorted(set(bad) & set(exclude)):
            self.error((*sli_loc, "exclude"), f"'{outcome}' is both bad and excluded")
        if not bad:
            self.error(sli_loc, "no outcome is bad: the SLO could never spend budget")
        total_matchers = [wf_matcher]
        if exclude:
            total_matchers.append(Matcher(names.LABEL_OUTCOME, "!~", "|".join(exclude)))
        return SLI(
            kind="outcomes",
            total=Selector(names.OUTCOMES_METRIC, tuple(total_matchers)),
            bad=Selector(
                names.OUTCOMES_METRIC,
                (wf_matcher, _one_of(names.LABEL_OUTCOME, bad)),
            ),
            detail_labels=(names.LABEL_OUTCOME, *sorted(self.spec.dimensions)),
        )

    def _ratio_sli(self, ratio_loc: Loc, ratio: RatioSLISpec) -> SLI:
        selectors: dict[str, Selector] = {}
        for key in ("errors", "good", "total"):
            text = getattr(ratio, key)
            if text is None:
                continue
            try:
                selectors[key] = parse_selector(text)
            except ValueError as exc:
                self.error((*ratio_loc, key), str(exc))
                selectors[key] = Selector("invalid", ())
        return SLI(
            kind="ratio",
            total=selectors["total"],
            bad=selectors.get("errors"),
            good=selectors.get("good"),
            test_labels={k: dict(v) for k, v in ratio.test_labels.items()},
        )

    def _check_window(self, seconds: int, loc: Loc, period: int) -> None:
        if seconds > period:
            self.error(loc, f"window {format_duration(seconds)} is longer than the period")
        if seconds % burn.MINUTE:
            self.error(loc, "windows must be whole minutes")
        elif seconds > burn.RAW_WINDOW_MAX and seconds % burn.STEP:
            self.error(
                loc,
                f"windows over {format_duration(burn.RAW_WINDOW_MAX)} are sums of "
                f"{format_duration(burn.STEP)} steps: use a multiple of "
                f"{format_duration(burn.STEP)}",
            )

    def _tiers(
        self,
        loc: Loc,
        spec: SLOSpec,
        alerting: AlertingSpec,
        period_at: tuple[int, Loc],
        phases: tuple[Phase, ...],
    ) -> tuple[BurnTier, ...]:
        period = period_at[0]
        defaults = {t.name: t for t in burn.DEFAULT_TIERS}
        written: dict[str, AlertTierSpec] = dict(alerting.tiers)
        tiers_loc: Loc = (
            (*loc, "alerting", "tiers")
            if spec.alerting and spec.alerting.tiers
            else ("alerting", "tiers")
        )
        cap = (
            alerting.adapted_threshold_percent / 100
            if alerting.adapted_threshold_percent is not None
            else DEFAULT_ADAPTED_THRESHOLD
        )
        low_traffic = alerting.low_traffic
        min_bad = (
            low_traffic.min_bad_events
            if low_traffic and low_traffic.min_bad_events is not None
            else self.risk.min_bad_events
        )
        out: list[BurnTier] = []
        for name in [*defaults, *sorted(n for n in written if n not in defaults)]:
            given = written.get(name, AlertTierSpec())
            if not given.enabled:
                continue
            tier_loc: Loc = (*tiers_loc, name)
            default = defaults.get(name)
            if default is None and (given.budget_percent is None or given.long_window is None):
                self.error(tier_loc, "a new tier needs budget_percent and long_window")
                continue
            windows = self._tier_windows(name, given, default, period_at, tier_loc)
            if windows is None:
                continue
            long_s, short_s = windows
            budget_percent = given.budget_percent or (default.budget_percent if default else 0)
            factor = burn.burn_factor(Decimal(budget_percent), period, long_s)
            thresholds = tuple(burn.threshold(factor, p.objective, cap) for p in phases)
            if alerting.unreachable == "error":
                for p, th in zip(phases, thresholds, strict=True):
                    if th.adapted:
                        self.error(
                            tier_loc,
                            f"this tier can never fire: burn factor {factor} × budget "
                            f"{percent(p.budget)} needs {percent(factor * p.budget)} errors "
                            "(set unreachable: adapt, lower budget_percent, lengthen the "
                            "long window, or switch the tier off)",
                        )
            if factor <= 0:
                self.error((*tier_loc, "budget_percent"), "the burn factor must be positive")
            severity = given.severity or (
                self.risk.page_severity
                if default and default.severity == "page"
                else (default.severity if default else "ticket")
            )
            self._check_labels(given.labels, (*tier_loc, "labels"))
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
        if spec.alerting is not None:  # the workflow's own are checked with the workflow
            self._check_labels(spec.alerting.labels, (*loc, "alerting", "labels"))
        return tuple(out)

    def _tier_windows(
        self,
        name: str,
        given: AlertTierSpec,
        default: burn.DefaultTier | None,
        period_at: tuple[int, Loc],
        tier_loc: Loc,
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
                self.error(
                    period_loc,
                    f"a period of {format_duration(period)} is too short for the default "
                    f"tier {name}: scaled to it, its windows would be "
                    f"{format_duration(long_s)} and {format_duration(short_s)}; give the "
                    "tier long_window and short_window, or switch it off",
                )
                return None
        self._check_window(long_s, (*tier_loc, "long_window"), period)
        if long_s == period:
            self.error(
                (*tier_loc, "long_window"),
                "the long window must be shorter than the period "
                "(the period's own figures are the ErrorBudgetExhausted alert)",
            )
        self._check_window(short_s, (*tier_loc, "short_window"), period)
        if short_s >= long_s:
            self.error(
                (*tier_loc, "short_window"),
                f"the short window ({format_duration(short_s)}) must be shorter than the "
                f"long window ({format_duration(long_s)})",
            )
        return long_s, short_s

    def _policies(self, loc: Loc, spec: SLOSpec) -> tuple[Policy, ...]:
        written = spec.policies if spec.policies is not None else self.spec.policies
        rates = sorted(
            (p for p in written if p.failure_rate_above is not None),
            key=lambda p: _ratio(p.failure_rate_above),
        )
        remaining = sorted(
            (p for p in written if p.budget_remaining_below is not None),
            key=lambda p: -_ratio(p.budget_remaining_below),
        )
        out: list[Policy] = []
        for kind, ordered, attr in (
            ("failure_rate", rates, "failure_rate_above"),
            ("budget_remaining", remaining, "budget_remaining_below"),
        ):
            for i, p in enumerate(ordered):
                nxt: PolicySpec | None = ordered[i + 1] if i + 1 < len(ordered) else None
                out.append(
                    Policy(
                        name=p.name,
                        kind=kind,  # type: ignore[arg-type]
                        threshold=_ratio(getattr(p, attr)),
                        until=_ratio(getattr(nxt, attr)) if nxt else None,
                        action=p.action,
                        severity=p.severity,
                    )
                )
        return tuple(out)

    def _check_policies(self, written: Sequence[PolicySpec], policies_loc: Loc) -> None:
        """Names are unique, and each kind of policy escalates in the order it is listed.

        Policies are listed from the mildest to the most severe. Within one kind, a policy
        must fire at a strictly worse figure than every one listed before it (a higher
        failure rate, less budget remaining), and may not have a milder alert severity than
        one before it (``ticket`` after ``page``): each policy fires only until the next,
        more severe one does, so any other order would calm the alert as things got worse.
        The two kinds are separate ladders: they measure different things, fire
        independently of each other, and compare differently at each objective.
        """
        seen: set[str] = set()
        for i, p in enumerate(written):
            if p.name in seen:
                self.error((*policies_loc, i, "name"), f"policy '{p.name}' is defined twice")
            seen.add(p.name)
        for kind in _LADDERS:
            ladder = [(i, p) for i, p in enumerate(written) if kind.value(p) is not None]
            for j, (i, p) in enumerate(ladder):
                before = [q for _, q in ladder[:j]]
                if before:
                    top = max(before, key=kind.level)
                    if kind.level(p) <= kind.level(top):
                        self.error(
                            (*policies_loc, i, kind.field),
                            f"policy '{p.name}' must fire at {kind.severer} than "
                            f"'{top.name}', listed before it ({kind.figure(p)} is not "
                            f"{kind.worse} {kind.figure(top)}): list policies from the "
                            "mildest to the most severe",
                        )
                        continue
                rank = _SEVERITY_RANK.get(p.severity)
                louder = [
                    q
                    for q in before
                    if rank is not None and _SEVERITY_RANK.get(q.severity, rank) > rank
                ]
                if louder:
                    q = louder[-1]
                    self.error(
                        (*policies_loc, i, "severity"),
                        f"policy '{p.name}' (severity {p.severity}) is listed after "
                        f"'{q.name}' (severity {q.severity}) and takes over from it "
                        f"{kind.from_.format(kind.figure(p))}, turning a {q.severity} "
                        f"into a {p.severity} as things get worse: a more severe policy may "
                        f"not have a milder severity ({' < '.join(_SEVERITY_RANK)})",
                    )


@dataclass(frozen=True)
class _Ladder:
    """One kind of policy threshold, as the order checks word it."""

    field: str
    worse: str  # a worse figure is ``above``/``below`` a milder one
    severer: str  # what a more severe policy fires at
    from_: str  # when a policy fires, for a figure
    sign: int  # makes a worse figure a larger number

    def value(self, policy: PolicySpec) -> Decimal | None:
        """The policy's threshold of this kind (a percentage), if it has one."""
        value: Decimal | None = getattr(policy, self.field)
        return value

    def level(self, policy: PolicySpec) -> Decimal:
        """How bad things are when the policy fires: larger is more severe."""
        value = self.value(policy)
        assert value is not None
        return self.sign * value

    def figure(self, policy: PolicySpec) -> str:
        """The threshold as written: ``30%``."""
        value = self.value(policy)
        assert value is not None
        return format(value.normalize(), "f") + "%"


_LADDERS: Final = (
    _Ladder(
        "failure_rate_above", "above", "a higher failure rate", "at a failure rate above {}", 1
    ),
    _Ladder(
        "budget_remaining_below",
        "below",
        "less budget remaining",
        "once less than {} of the budget remains",
        -1,
    ),
)


def _merge_alerting(base: AlertingSpec, override: AlertingSpec | None) -> AlertingSpec:
    """An SLO's alerting: the workflow's, with the SLO's fields laid over it."""
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


def _ratio(percent: Decimal | None) -> Decimal:
    assert percent is not None
    return (percent / 100).normalize()


def share_percent(share: Decimal) -> str:
    """A budget share as a percentage to three significant digits: 0.008333… → '0.833%'."""
    if share == 0:
        return "0%"
    percent = share * 100
    exponent = percent.adjusted() - 2
    rounded = percent.quantize(Decimal(1).scaleb(exponent), rounding=ROUND_HALF_EVEN)
    return format(rounded.normalize(), "f") + "%"


def span(phases: Sequence[Phase], index: int) -> str:
    """When phase ``index`` is in force: ``until 2027-02-01``, ``from … until …``, ``from …``."""
    start = phases[index].date
    end = phases[index + 1].date if index + 1 < len(phases) else None
    if start is None:
        return f"until {end}" if end else "always"
    return f"from {start} until {end}" if end else f"from {start}"


def schedule(phases: Sequence[Phase], texts: Sequence[str]) -> str:
    """Per-phase wording as one schedule: ``4.5x until 2027-02-01, then 6x``.

    ``texts`` holds one text per phase; neighbouring phases that read the same merge, so a
    figure that the tightening schedule does not change reads as that one figure.
    """
    merged: list[tuple[str, str | None]] = []  # text, the day it starts to be in force
    for phase, text in zip(phases, texts, strict=True):
        if not merged or merged[-1][0] != text:
            merged.append((text, phase.date))
    parts = []
    for i, (text, _) in enumerate(merged):
        part = text if i == 0 else f"then {text}"
        if i + 1 < len(merged):
            part += f" until {merged[i + 1][1]}"
        parts.append(part)
    return ", ".join(parts)


def _one_of(label: str, values: Sequence[str]) -> Matcher:
    if len(values) == 1:
        return Matcher(label, "=", values[0])
    return Matcher(label, "=~", "|".join(values))
