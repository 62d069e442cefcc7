"""The SLO spec, ``apiVersion: agent-slo/v1``: its shape, field by field.

This module describes what a spec file may contain and checks types and ranges. Rules that
span fields (unknown outcomes, duplicate names, alert tiers that could never fire) are
checked, and the defaults applied, by :mod:`rulegen.resolve`, which builds :mod:`rulegen.model`.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
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
from rulegen.model import RiskTier
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


class DimensionSpec(_Strict):
    """A label the exporter accepts on outcomes, with a cap on distinct values."""

    description: str = Field(default="", description="What the dimension tells, for readers.")
    max_values: int = Field(
        default=50,
        ge=1,
        le=10_000,
        description="Most distinct values the exporter keeps, `values` included; later values "
        "are folded into `other`.",
    )
    values: list[Annotated[str, StringConstraints(min_length=1, max_length=128)]] = Field(
        default_factory=list,
        description="Values known in advance: the exporter exports their series (with every "
        "outcome, and `unknown` for a run that gives none) at 0 from the start, so even their "
        "first run is counted. Other values are accepted too, up to max_values; their series "
        "appear with their first run.",
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

    outcomes: OutcomesSLISpec | None = Field(
        default=None,
        description="Runs by outcome, from agent_outcomes_total (`outcomes: {}`: every outcome "
        "not classed good spends budget).",
    )
    latency: LatencySLISpec | None = Field(
        default=None, description="Runs by duration, from agent_run_duration_seconds."
    )
    ratio: RatioSLISpec | None = Field(
        default=None, description="Any Prometheus counters: bad (or good) events over all events."
    )

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

    date: dt.date = Field(
        description="The day (YYYY-MM-DD, from 00:00 UTC) the objective takes effect; steps are "
        "listed in increasing date order."
    )
    objective: Percent = Field(
        description="The objective from that day on, in percent; never lower than the one before."
    )


class AlertTierSpec(_Strict):
    """One multiwindow burn-rate alert: fire when both windows burn faster than the factor."""

    enabled: bool = Field(
        default=True,
        description="`false` switches the tier off (so does `false` in place of the tier).",
    )
    severity: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        default=None,
        description="The alert's `severity` label. Default: `page` for page_fast and page_slow "
        "(`ticket` on a low-risk workflow), `ticket` for the others and for new tiers.",
    )
    budget_percent: Annotated[Decimal, Field(gt=0, le=100)] | None = Field(
        default=None,
        description="Share of the period's budget that, burned within the long window, fires. "
        "Defaults: page_fast 2, page_slow 5, ticket_fast 10, ticket_slow 10; a new tier must "
        "give it.",
    )
    long_window: Duration | None = Field(
        default=None,
        description="The long window. Default: the tier's 30-day window (1h, 6h, 1d, 3d) scaled "
        "to the period; a new tier must give it. Whole minutes; over 1h, a multiple of 5m.",
    )
    short_window: Duration | None = Field(
        default=None,
        description="The short window, which must burn too, so the alert stops soon after the "
        "burn does. Default: the tier's, scaled to the period (a twelfth of long_window when "
        "long_window is given).",
    )
    for_: Duration | None = Field(
        default=None,
        alias="for",
        description="How long the condition must hold before the alert fires (Prometheus "
        "`for`). Default: at once.",
    )
    min_bad_events: int | None = Field(
        default=None,
        ge=0,
        description="Bad events needed in the long window before this tier fires. Default: "
        "alerting.low_traffic.min_bad_events, else by risk tier (low 5, medium 3, high 2).",
    )
    labels: Labels = Field(default_factory=dict, description="Labels added to this tier's alert.")
    annotations: dict[str, str] = Field(
        default_factory=dict,
        description="Annotations added to this tier's alert (they override the generated ones).",
    )


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

    enabled: bool = Field(
        default=True, description="`false`: no ZeroToleranceOutcome alert for this workflow."
    )
    severity: str = Field(default="page", description="The alert's `severity` label.")
    labels: Labels = Field(
        default_factory=dict, description="Labels added to the alert, over alerting.labels."
    )
    annotations: dict[str, str] = Field(
        default_factory=dict,
        description="Annotations added to the alert, over alerting.annotations (they override "
        "the generated ones).",
    )


class AbsenceSpec(_Strict):
    """The alert on an SLO whose events have stopped."""

    enabled: bool = Field(default=True, description="`false` switches the alert off.")
    after: Duration = Field(
        default="1d",
        description="Fire after this long without any event (SLOEventsAbsent); at most the period.",
    )
    severity: str = Field(default="ticket", description="The alert's `severity` label.")


class AlertingSpec(_Strict):
    """Alerting for a workflow (defaults for its SLOs) or for one SLO (overrides)."""

    tiers: dict[Slug, AlertTierSpec] = Field(
        default_factory=dict,
        description="Burn-rate tiers by name. The defaults are page_fast, page_slow, "
        "ticket_fast and ticket_slow; `false` switches one off; new names add tiers.",
    )
    labels: Labels = Field(
        default_factory=dict,
        description="Labels added to the alerts (burn, exhausted budget, policies, silence; "
        "in the workflow's alerting, zero tolerance too), not to recorded series.",
    )
    annotations: dict[str, str] = Field(
        default_factory=dict,
        description="Annotations added to the same alerts (they override the generated ones).",
    )
    runbook_url: str | None = Field(
        default=None,
        description="The `runbook_url` annotation of the burn, exhausted-budget, policy and "
        "silence alerts.",
    )
    dashboard_url: str | None = Field(
        default=None,
        description="The `dashboard_url` annotation of the burn, exhausted-budget, policy and "
        "silence alerts.",
    )
    unreachable: Literal["adapt", "error"] | None = Field(
        default=None,
        description="A tier whose threshold exceeds 100% errors: lower it to "
        "adapted_threshold_percent (adapt, the default) or fail validation (error).",
    )
    adapted_threshold_percent: Percent | None = Field(
        default=None, description="The error rate an adapted tier fires at. Default 90."
    )
    low_traffic: LowTrafficSpec | None = Field(
        default=None, description="Guards that keep a handful of runs from firing alerts."
    )
    zero_tolerance: ZeroToleranceSpec | None = Field(
        default=None,
        description="The alert on any single zero-tolerance outcome (in the workflow's alerting "
        "only: it is one alert for the whole workflow).",
    )
    absence: AbsenceSpec | None = Field(
        default=None,
        description="SLOEventsAbsent, the alert on an SLO whose events have stopped; `false` "
        "switches it off, `true` keeps the default.",
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

    name: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)] = Field(
        description="The policy's name (its alert's `policy` label), unique in the list."
    )
    failure_rate_above: PercentInclusive | None = Field(
        default=None,
        description="Fires while more than this percentage of the period's runs are bad.",
    )
    budget_remaining_below: Annotated[Decimal, Field(le=100)] | None = Field(
        default=None,
        description="Fires while less than this percentage of the period's budget remains "
        "(0: spent; negative: overspent by that much).",
    )
    action: Annotated[str, StringConstraints(min_length=1)] = Field(
        description="What the threshold demands; in the alert's summary and `action` annotation."
    )
    severity: str = Field(
        default="ticket",
        description="The alert's `severity` label (ticket < page; others are not compared).",
    )

    @model_validator(mode="after")
    def _one_condition(self) -> PolicySpec:
        if (self.failure_rate_above is None) == (self.budget_remaining_below is None):
            raise ValueError(
                "give exactly one condition: 'failure_rate_above' or 'budget_remaining_below'"
            )
        return self


class AutonomySpec(_Strict):
    """Autonomy a workflow earns by staying inside its budget."""

    days_in_budget: int = Field(
        ge=1, le=3650, description="Days the budget must not have run out before the grant."
    )
    grant: Annotated[str, StringConstraints(min_length=1)] = Field(
        description="The autonomy granted, in words (e.g. one reviewer instead of two)."
    )


class SLOSpec(_Strict):
    """One objective of a workflow."""

    name: Slug = Field(
        description="Unique across all specs: the `slo` label of its series and alerts, and the "
        "name of its generated files."
    )
    description: str = Field(default="", description="What the SLO promises; on the dashboard.")
    labels: Labels = Field(
        default_factory=dict,
        description="Labels added to the SLO's series and alerts, over the workflow's.",
    )
    objective: Percent | None = Field(
        default=None,
        description="Percent of runs that must be good. Default: by risk tier (low 90, medium "
        "95, high 99).",
    )
    period: Duration | None = Field(
        default=None,
        description="The budget period, a whole number of days or weeks. Default: the workflow's.",
    )
    sli: SLISpec = Field(description="How good and bad runs are told apart: exactly one kind.")
    tightening: list[TighteningStep] = Field(
        default_factory=list,
        description="Objectives that take effect on later dates, without regenerating.",
    )
    alerting: AlertingSpec | None = Field(
        default=None,
        description="Overrides of the workflow's alerting for this SLO: its fields are laid "
        "over the workflow's; tiers, labels and annotations merge by name.",
    )
    policies: list[PolicySpec] | None = Field(
        default=None,
        description="This SLO's policies, instead of the workflow's (`[]`: none).",
    )
    exhausted_action: str | None = Field(
        default=None, description="What a spent budget demands. Default: the workflow's."
    )


class WorkflowSpec(_Strict):
    """A spec file: one workflow and its SLOs."""

    api_version: Literal["agent-slo/v1"] = Field(
        alias="apiVersion", description="The format version: agent-slo/v1."
    )
    workflow: Annotated[str, StringConstraints(pattern=_WORKFLOW, max_length=120)] = Field(
        description="The workflow's name: the `workflow` label agents record outcomes under. "
        "One spec per workflow."
    )
    description: str = Field(default="", description="What the workflow does; on its dashboard.")
    tier: RiskTier = Field(
        default=RiskTier.MEDIUM,
        description="How much harm a bad run does: the default objective (low 90%, medium 95%, "
        "high 99%), whether fast burns page (medium, high) or open tickets (low), and bad runs "
        "needed before a burn alert (5, 3, 2).",
    )
    period: Duration = Field(
        default="30d",
        description="The budget period of its SLOs, a whole number of days or weeks (7d, 28d, "
        "30d, 4w).",
    )
    labels: Labels = Field(
        default_factory=dict,
        description="Labels added to every series and alert of its SLOs (team, owner, ...).",
    )
    outcomes: dict[OutcomeName, OutcomeClass] = Field(
        default_factory=dict,
        description="Outcome name to class (good, bad or zero_tolerance), e.g. "
        "`{wrong_result: bad}`: outcomes added to the default taxonomy, or default ones "
        "reclassified. Which outcomes an SLO counts as bad is its sli.outcomes.bad.",
    )
    dimensions: dict[LabelName, DimensionSpec] = Field(
        default_factory=dict,
        description="Labels agents may add to outcomes (model, task, prompt_version, ...); "
        "the exporter refuses others.",
    )
    alerting: AlertingSpec = Field(
        default_factory=AlertingSpec, description="Alerting for every SLO of the workflow."
    )
    policies: list[PolicySpec] = Field(
        default_factory=list,
        description="Thresholds and the actions they demand, mildest first, for every SLO "
        "that does not list its own.",
    )
    exhausted_action: str = Field(
        default="Freeze changes to prompts, models and tools until the budget recovers.",
        description="What a spent budget demands: the `action` of ErrorBudgetExhausted.",
    )
    autonomy: list[AutonomySpec] = Field(
        default_factory=list,
        description="Autonomy the workflow earns by days inside its budget, for readers and "
        "release processes (`agent-slo gate --grant N` checks that grant N is earned).",
    )
    slos: list[SLOSpec] = Field(min_length=1, description="The workflow's SLOs, at least one.")


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
