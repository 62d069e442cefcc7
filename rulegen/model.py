"""The one model of an SLO: workflows and SLOs with every default applied.

Generators, the exporter and the decisions read this model, never a spec format; it knows
none. :mod:`rulegen.resolve` builds it from specs, applying the defaults below and
validating as it goes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Final, Literal

from rulegen import burn
from rulegen.durations import format_duration
from rulegen.selectors import Selector
from rulegen.taxonomy import OutcomeClass, is_bad

__all__ = [
    "DEFAULT_ADAPTED_THRESHOLD",
    "RISK_DEFAULTS",
    "SLI",
    "SLO",
    "ZERO_TOLERANCE_SUFFIX",
    "Absence",
    "BurnTier",
    "Dimension",
    "Phase",
    "Policy",
    "RiskDefaults",
    "RiskTier",
    "Workflow",
    "ZeroTolerance",
    "schedule",
    "span",
]


class RiskTier(StrEnum):
    """How much harm a bad run does; supplies default objectives and alerting."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


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
#: The error rate an adapted burn tier fires at, where a spec does not say.
DEFAULT_ADAPTED_THRESHOLD: Final = Decimal("0.9")
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
