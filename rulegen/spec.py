"""The SLO spec, ``apiVersion: agent-slo/v1``: its shape, field by field.

This module describes what a spec file may contain and checks types and ranges. Rules that
span fields (unknown outcomes, duplicate names, alert tiers that could never fire) live in
:mod:`rulegen.validate`; defaults and maths live in :mod:`rulegen.model`.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from rulegen.durations import parse_duration, parse_duration_ms
from rulegen.taxonomy import OutcomeClass

__all__ = [
    "API_VERSION",
    "PATTERN_WORDS",
    "AbsenceSpec",
    "AlertTierSpec",
    "AlertingSpec",
    "AutonomySpec",
    "DimensionSpec",
    "LatencySLISpec",
    "LowTrafficSpec",
    "OutcomesSLISpec",
    "PolicySpec",
    "RatioSLISpec",
    "RiskTier",
    "SLISpec",
    "SLOSpec",
    "TighteningStep",
    "WorkflowSpec",
    "ZeroToleranceSpec",
    "json_schema",
]

API_VERSION = "agent-slo/v1"

_LABEL_NAME = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
_SLUG = r"^[a-z0-9]([a-z0-9_.-]*[a-z0-9])?$"
_OUTCOME = r"^[a-z][a-z0-9_]*$"
_WORKFLOW = r"^[a-zA-Z0-9]([a-zA-Z0-9_.-]*[a-zA-Z0-9])?$"
#: What each pattern means, in words, for error messages.
PATTERN_WORDS = {
    _LABEL_NAME: "use letters, digits and '_', not starting with a digit",
    _SLUG: "use lower-case letters, digits, '-', '_' and '.', starting and ending with a "
    "letter or digit",
    _OUTCOME: "use lower-case letters, digits and '_', starting with a letter",
    _WORKFLOW: "use letters, digits, '-', '_' and '.', starting and ending with a letter or digit",
    r"^[a-z][a-z0-9_]*$": "use lower-case letters, digits and '_', starting with a letter",
}
_METRIC_SELECTOR = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})?$", re.DOTALL)


def _check_duration(value: str) -> str:
    parse_duration(value)
    return value


def _check_duration_ms(value: str) -> str:
    parse_duration_ms(value)
    return value


def _check_selector(value: str) -> str:
    if not _METRIC_SELECTOR.match(value.strip()):
        raise ValueError(
            "expected a counter selector such as 'http_requests_total{code=~\"5..\"}' "
            "(a metric name with optional label matchers, no functions or ranges)"
        )
    return value.strip()


Duration = Annotated[
    str,
    StringConstraints(strip_whitespace=True),
    AfterValidator(_check_duration),
    Field(description="A Prometheus duration: 5m, 1h, 28d, 4w."),
]
LabelName = Annotated[str, StringConstraints(pattern=_LABEL_NAME)]
Labels = dict[LabelName, str]
Slug = Annotated[str, StringConstraints(pattern=_SLUG, max_length=120)]
OutcomeName = Annotated[str, StringConstraints(pattern=_OUTCOME, max_length=64)]
Percent = Annotated[
    Decimal,
    Field(gt=0, lt=100, description="A percentage strictly between 0 and 100, e.g. 99.5."),
]
PercentInclusive = Annotated[Decimal, Field(ge=0, le=100, description="A percentage, 0 to 100.")]
Selector = Annotated[str, AfterValidator(_check_selector)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class RiskTier(StrEnum):
    """How much harm a bad run does; supplies default objectives and alerting."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class DimensionSpec(_Strict):
    """A label the exporter accepts on outcomes, with a cap on distinct values."""

    description: str = ""
    max_values: int = Field(default=50, ge=1, le=10_000)
    values: list[Annotated[str, StringConstraints(min_length=1, max_length=128)]] = Field(
        default_factory=list,
        description="Values known in advance; the exporter pre-initialises their series at 0.",
    )


class OutcomesSLISpec(_Strict):
    """Runs counted by outcome: which outcomes spend budget, which are not counted at all."""

    bad: list[OutcomeName] | None = Field(
        default=None, description="Outcomes that spend budget. Default: every bad outcome."
    )
    exclude: list[OutcomeName] = Field(
        default_factory=list, description="Outcomes counted neither as good nor as bad."
    )


class LatencySLISpec(_Strict):
    """Runs that finished within a threshold, from ``agent_run_duration_seconds``."""

    threshold: Annotated[str, AfterValidator(_check_duration_ms)] = Field(
        description="Runs slower than this are bad (e.g. 30s, 1500ms); a histogram bucket bound."
    )


class RatioSLISpec(_Strict):
    """A generic ratio over any Prometheus counters, for services that are not agents."""

    errors: Selector | None = Field(default=None, description="Counter selector of bad events.")
    good: Selector | None = Field(default=None, description="Counter selector of good events.")
    total: Selector = Field(description="Counter selector of all events.")
    test_labels: dict[Literal["errors", "good"], Labels] = Field(
        default_factory=dict,
        description="Label values that make a sample series match errors (or good) in the "
        "generated promtool tests, where the selectors use regular expressions.",
    )

    @model_validator(mode="after")
    def _one_numerator(self) -> RatioSLISpec:
        if (self.errors is None) == (self.good is None):
            raise ValueError("give exactly one of 'errors' or 'good' beside 'total'")
        return self


class SLISpec(_Strict):
    """Exactly one way of telling good events from bad ones."""

    outcomes: OutcomesSLISpec | None = None
    latency: LatencySLISpec | None = None
    ratio: RatioSLISpec | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SLISpec:
        given = [k for k in ("outcomes", "latency", "ratio") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "expected exactly one of 'outcomes', 'latency' or 'ratio'"
                + (f", got {', '.join(given)}" if given else "")
            )
        return self


class TighteningStep(_Strict):
    """From ``date`` (00:00 UTC) on, the objective is ``objective``."""

    date: dt.date
    objective: Percent


class AlertTierSpec(_Strict):
    """One multiwindow burn-rate alert: fire when both windows burn faster than the factor."""

    enabled: bool = True
    severity: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    budget_percent: Annotated[Decimal, Field(gt=0, le=100)] | None = Field(
        default=None,
        description="Share of the period's budget that, burned within the long window, fires.",
    )
    long_window: Duration | None = None
    short_window: Duration | None = None
    for_: Duration | None = Field(default=None, alias="for")
    min_bad_events: int | None = Field(default=None, ge=0)
    labels: Labels = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class LowTrafficSpec(_Strict):
    """Guards against pages from a handful of runs."""

    min_bad_events: int | None = Field(
        default=None, ge=0, description="Bad events in the long window needed before a burn alert."
    )
    budget_share: bool = Field(
        default=True,
        description="Also require the bad events in the long window to be at least the tier's "
        "share of the period's allowed bad events.",
    )
    min_events: int | None = Field(
        default=None, ge=0, description="Events in the period before policy alerts may fire."
    )


class ZeroToleranceSpec(_Strict):
    """The alert on any single zero-tolerance outcome."""

    enabled: bool = True
    severity: str = "page"
    labels: Labels = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class AbsenceSpec(_Strict):
    """The alert on an SLO whose events have stopped."""

    enabled: bool = True
    after: Duration = "1d"
    severity: str = "ticket"


class AlertingSpec(_Strict):
    """Alerting for a workflow (defaults for its SLOs) or for one SLO (overrides)."""

    tiers: dict[Slug, AlertTierSpec] = Field(
        default_factory=dict,
        description="Burn-rate tiers by name. The defaults are page_fast, page_slow, "
        "ticket_fast and ticket_slow; `false` switches one off; new names add tiers.",
    )
    labels: Labels = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    runbook_url: str | None = None
    dashboard_url: str | None = None
    unreachable: Literal["adapt", "error"] | None = Field(
        default=None,
        description="A tier whose threshold exceeds 100% errors: lower it (adapt) or fail.",
    )
    adapted_threshold_percent: Percent | None = Field(
        default=None, description="The error rate an adapted tier fires at. Default 90."
    )
    low_traffic: LowTrafficSpec | None = None
    zero_tolerance: ZeroToleranceSpec | None = None
    absence: AbsenceSpec | None = Field(
        default=None, description="`false` switches the alert off, `true` keeps the default."
    )

    @field_validator("tiers", mode="before")
    @classmethod
    def _tier_switches(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: _switch(v) for k, v in value.items()}
        return value

    @field_validator("absence", mode="before")
    @classmethod
    def _absence_switch(cls, value: Any) -> Any:
        return _switch(value)


def _switch(value: Any) -> Any:
    """``false``/``true`` as shorthand for ``{enabled: false}``/``{enabled: true}``."""
    return {"enabled": value} if isinstance(value, bool) else value


class PolicySpec(_Strict):
    """A threshold on the period's figures and the action it demands.

    Policies are listed from the mildest to the most severe: within each kind, every
    policy fires at a worse figure than those before it (a higher failure_rate_above, a
    lower budget_remaining_below) and has no milder severity (ticket < page).
    """

    name: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
    failure_rate_above: PercentInclusive | None = None
    budget_remaining_below: Annotated[Decimal, Field(le=100)] | None = None
    action: Annotated[str, StringConstraints(min_length=1)]
    severity: str = "ticket"

    @model_validator(mode="after")
    def _one_condition(self) -> PolicySpec:
        if (self.failure_rate_above is None) == (self.budget_remaining_below is None):
            raise ValueError(
                "give exactly one condition: 'failure_rate_above' or 'budget_remaining_below'"
            )
        return self


class AutonomySpec(_Strict):
    """Autonomy a workflow earns by staying inside its budget."""

    days_in_budget: int = Field(ge=1, le=3650)
    grant: Annotated[str, StringConstraints(min_length=1)]


class SLOSpec(_Strict):
    """One objective of a workflow."""

    name: Slug
    description: str = ""
    labels: Labels = Field(default_factory=dict)
    objective: Percent | None = Field(default=None, description="Default: from the risk tier.")
    period: Duration | None = None
    sli: SLISpec
    tightening: list[TighteningStep] = Field(default_factory=list)
    alerting: AlertingSpec | None = None
    policies: list[PolicySpec] | None = None
    exhausted_action: str | None = None


class WorkflowSpec(_Strict):
    """A spec file: one workflow and its SLOs."""

    api_version: Literal["agent-slo/v1"] = Field(alias="apiVersion")
    workflow: Annotated[str, StringConstraints(pattern=_WORKFLOW, max_length=120)]
    description: str = ""
    tier: RiskTier = RiskTier.MEDIUM
    period: Duration = "30d"
    labels: Labels = Field(default_factory=dict)
    outcomes: dict[OutcomeName, OutcomeClass] = Field(
        default_factory=dict,
        description="Outcomes added to the default taxonomy, or default ones reclassified.",
    )
    dimensions: dict[LabelName, DimensionSpec] = Field(default_factory=dict)
    alerting: AlertingSpec = Field(default_factory=AlertingSpec)
    policies: list[PolicySpec] = Field(default_factory=list)
    exhausted_action: str = "Freeze changes to prompts, models and tools until the budget recovers."
    autonomy: list[AutonomySpec] = Field(default_factory=list)
    slos: list[SLOSpec] = Field(min_length=1)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a spec file, for editors and CI."""
    schema = WorkflowSpec.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "agent-slo spec (apiVersion: agent-slo/v1)"
    # `false` / `true` switch a tier or the absence alert off or on (see `_switch`).
    defs = schema["$defs"]
    tiers = defs["AlertingSpec"]["properties"]["tiers"]
    for pattern, ref in tiers["patternProperties"].items():
        tiers["patternProperties"][pattern] = {"anyOf": [ref, {"type": "boolean"}]}
    tiers["additionalProperties"] = False
    absence = defs["AlertingSpec"]["properties"]["absence"]
    absence["anyOf"].append({"type": "boolean"})
    return schema
