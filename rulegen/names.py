"""Public metric, label, rule and alert names: their one home. Rules, alerts, dashboards, the
exporter and the decisions all read them here; renaming one is a breaking change for users'
queries, dashboards and routes.

Users' dashboards, alerts and routing depend on these strings. Change one only through an issue.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ALERT_BUDGET_EXHAUSTED",
    "ALERT_BURN",
    "ALERT_EVENTS_ABSENT",
    "ALERT_POLICY",
    "ALERT_ZERO_TOLERANCE",
    "DURATION_METRIC",
    "LABEL_LONG_WINDOW",
    "LABEL_OUTCOME",
    "LABEL_POLICY",
    "LABEL_SEVERITY",
    "LABEL_SHORT_WINDOW",
    "LABEL_SLO",
    "LABEL_WINDOW",
    "LABEL_WORKFLOW",
    "OUTCOMES_METRIC",
    "REC_BAD_STEP",
    "REC_BURN_CURRENT",
    "REC_BURN_PERIOD",
    "REC_ERROR_BUDGET",
    "REC_EVENTS_STEP",
    "REC_GOOD_STEP",
    "REC_OBJECTIVE",
    "REC_PERIOD_ALLOWED",
    "REC_PERIOD_BAD",
    "REC_PERIOD_DAYS",
    "REC_PERIOD_EVENTS",
    "REC_PERIOD_REMAINING",
    "RESERVED_LABELS",
    "bucket_le",
    "rec_bad_events",
    "rec_counter",
    "rec_counter_at_step",
    "rec_counter_base",
    "rec_counter_before",
    "rec_error_ratio",
    "rec_events",
    "rec_rise",
    "rec_step",
    "rec_tally",
]

# Exporter metrics.
OUTCOMES_METRIC: Final = "agent_outcomes_total"
DURATION_METRIC: Final = "agent_run_duration_seconds"

# Labels.
LABEL_SLO: Final = "slo"
LABEL_WORKFLOW: Final = "workflow"
LABEL_OUTCOME: Final = "outcome"
LABEL_SEVERITY: Final = "severity"
LABEL_LONG_WINDOW: Final = "long_window"
LABEL_SHORT_WINDOW: Final = "short_window"
LABEL_WINDOW: Final = "window"
LABEL_POLICY: Final = "policy"

# Labels a spec may not set itself: the generator owns them, or Prometheus does.
RESERVED_LABELS: Final = frozenset(
    {
        LABEL_SLO,
        LABEL_WORKFLOW,
        LABEL_OUTCOME,
        LABEL_SEVERITY,
        LABEL_LONG_WINDOW,
        LABEL_SHORT_WINDOW,
        LABEL_WINDOW,
        LABEL_POLICY,
        "le",
        "job",
        "instance",
        "alertname",
        "__name__",
    }
)

# Recording rules: public, queried by dashboards, the report and the gate.
REC_OBJECTIVE: Final = "slo:objective:ratio"
REC_ERROR_BUDGET: Final = "slo:error_budget:ratio"
REC_BURN_CURRENT: Final = "slo:current_burn_rate:ratio"
REC_BURN_PERIOD: Final = "slo:period_burn_rate:ratio"
REC_PERIOD_REMAINING: Final = "slo:period_error_budget_remaining:ratio"
REC_PERIOD_BAD: Final = "slo:period_bad_events:increase"
REC_PERIOD_EVENTS: Final = "slo:period_events:increase"
REC_PERIOD_ALLOWED: Final = "slo:period_allowed_bad_events:count"
REC_PERIOD_DAYS: Final = "slo:period:days"

# Recording rules: building blocks, documented in README ("Recorded series").
REC_BAD_STEP: Final = "slo:bad_events:step5m"
REC_EVENTS_STEP: Final = "slo:events:step5m"
REC_GOOD_STEP: Final = "slo:good_events:step5m"


def rec_step(kind: str) -> str:
    """Events of ``kind`` on the latest step, counted exactly."""
    return f"slo:{kind}:step5m"


def rec_counter(kind: str) -> str:
    """Per scrape target: the SLI's counters of ``kind`` summed, at every evaluation."""
    return f"slo:{kind}:counter"


def rec_rise(kind: str) -> str:
    """Events of ``kind`` since the previous evaluation, summed over targets."""
    return f"slo:{kind}:rise"


def rec_tally(kind: str) -> str:
    """Per scrape target, on vmalert: a running count of the events of ``kind`` (and the
    sums and the time it counts from), in place of :func:`rec_rise`."""
    return f"slo:{kind}:tally"


def rec_counter_at_step(kind: str) -> str:
    """Per scrape target: the same sum, at every step."""
    return f"slo:{kind}:counter5m"


def rec_counter_before(kind: str) -> str:
    """Per scrape target: the sum at the last step it was seen before the latest one."""
    return f"slo:{kind}:counter5m_before"


def rec_counter_base(kind: str) -> str:
    """Per scrape target, only at the step it (re)appears after an hour or more unseen: the
    value its counting starts from (its value before the gap, 0 when new, or its value at
    the first evaluation on a fresh Prometheus)."""
    return f"slo:{kind}:counter_base"


# Alerts.
ALERT_BURN: Final = "ErrorBudgetBurn"
ALERT_ZERO_TOLERANCE: Final = "ZeroToleranceOutcome"
ALERT_BUDGET_EXHAUSTED: Final = "ErrorBudgetExhausted"
ALERT_POLICY: Final = "ErrorBudgetPolicy"
ALERT_EVENTS_ABSENT: Final = "SLOEventsAbsent"


def rec_error_ratio(window: str) -> str:
    """Name of the error-ratio recording rule over ``window`` (e.g. ``5m`` → ``ratio_rate5m``)."""
    return f"slo:sli_error:ratio_rate{window}"


def rec_bad_events(window: str) -> str:
    """Name of the rule recording bad events over ``window``."""
    return f"slo:bad_events:increase{window}"


def rec_events(window: str) -> str:
    """Name of the rule recording all (non-excluded) events over ``window``."""
    return f"slo:events:increase{window}"


def bucket_le(seconds: float) -> str:
    """The ``le`` label value of a histogram bucket bound, as client libraries write it:
    ``30.0``, ``0.5``, ``+Inf``."""
    return "+Inf" if seconds == float("inf") else repr(float(seconds))
