"""PromQL expressions of the generated rules: the only place where PromQL is templated.

Templates are rendered with ``StrictUndefined``: a missing variable is an error, never an
empty string in a rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Final

import jinja2

from rulegen import burn, names, selectors
from rulegen.durations import format_duration, format_duration_ms
from rulegen.model import SLI, SLO, Phase, Workflow
from rulegen.numbers import number
from rulegen.selectors import Selector, escape

__all__ = [
    "GAP_BRIDGE",
    "number",
    "piecewise",
    "render",
    "slo_selector",
]

#: How far back a rise looks for a target's previous sum: a target unseen for longer rises
#: from its sum at the step before the gap (``counter5m_before``).
GAP_BRIDGE: Final = burn.HOUR
#: The window of the zero-tolerance alert: it fires for this long after an event.
ZERO_TOLERANCE_WINDOW: Final = 10 * burn.MINUTE

_ENV = jinja2.Environment(
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=False,
    autoescape=False,  # noqa: S701 - PromQL, not HTML
)

_TEMPLATES: Final = {
    # Per scrape target: the SLI's counters summed over outcomes and dimensions. A new
    # series (a new label value, or one that appears already above 0) rises this sum by
    # its whole value, so counting the target's rises counts every run.
    "counter": "sum without ({{ detail }}) ({{ r }})",
    # Per target seen within the period: its sum at the latest step before this one.
    "counter_before": "last_over_time({{ c5 }}[{{ period }}] offset 1ms)",
    # Per target that (re)appears after at least an hour unseen: where its counting starts.
    # Back from a gap: its value before the gap (the gap's runs count now). New in an SLO
    # that was counting already: 0 (all of its runs count). On a fresh Prometheus (no
    # target of the SLO seen within the period), the counters of the SLO's first
    # evaluation are history: a target there counts from that value, and one that
    # appeared later (fewer evaluations) from 0.
    "counter_base": """\
(
  {{ before }}
  or
  {{ c5 }} * 0 and on() count({{ events_before }})
  or
  min_over_time({{ c }}[{{ step }}])
    and
  (
    count_over_time({{ c }}[{{ step }}])
      >= on() group_left
    max(count_over_time({{ events }}[{{ step }}]))
  )
  or
  {{ c }} * 0
  or
  {{ c5 }}
)
and
({{ c5 }} unless last_over_time({{ c5 }}[{{ gap }}] offset 1ms))""",
    # Events since the previous step, exactly: each target's rise since it was last seen
    # (whatever the gap or the number of missed evaluations in between); after a counter
    # reset (the sum fell), its rise up to the reset (its peak at the evaluations of the
    # step) plus all of its value since; or its rise from its base. 0 while no target
    # reports, once the SLO has counted.
    "step": """\
sum(
  {{ c5 }} - ({{ before }} <= {{ c5 }})
  or
  {{ c5 }} + clamp_min(max_over_time({{ c }}[{{ step }}]) - {{ before }}, 0)
  or
  {{ c5 }} and {{ before }}
  or
  {{ c5 }} - {{ base }}
)
or
vector(0) and on() count({{ events_before }})""",
    # Events since the previous evaluation, summed over targets: a target seen within the
    # hour rises by its rise since then, or after a reset (its sum fell) by all of its value
    # since. A target back after an hour or more unseen rises from its sum at the step
    # before the gap (the gap's runs count now; after a reset in the gap, all of its value).
    # A target new in an SLO that is counting already counts whole; on a fresh Prometheus
    # (no target seen before), the first sums are history and count nothing.
    "rise": """\
sum(
  {{ c }} - ({{ prev }} <= {{ c }})
  or
  {{ c }} and {{ prev }}
  or
  {{ c }} - ({{ before }} <= {{ c }})
  or
  {{ c }} and {{ before }}
  or
  {{ c }} and on() ({{ events_prev }} or {{ events_before }})
  or
  {{ c }} * 0
)""",
    # Events over a short window: the rises of the evaluations within it.
    "fast_window": "sum_over_time({{ rise }}[{{ window }}])",
    "difference": """\
clamp_min(
{{ total | indent(2, true) }}
  -
{{ good | indent(2, true) }},
  0
)""",
    "sum_steps": "sum_over_time({{ step_record }}[{{ window }}])",
    "ratio": """\
{{ bad }}
/
({{ total }} > 0)
or
{{ total }} * 0""",
    "period_ratio": """\
sum without ({{ window_label }}) ({{ bad }})
/
(sum without ({{ window_label }}) ({{ total }}) > 0)
or
sum without ({{ window_label }}) ({{ total }}) * 0""",
    # Zero-tolerance events in the last window: a series that did not exist a window ago
    # counts whole (it may appear already at 1), provided the workflow did exist then (so a
    # restarted Prometheus does not page on old counts); any other series counts its rise
    # within the window (after a reset, the rise since the reset).
    "zero_tolerance": """\
sum by ({{ by }}) (
  ({{ r }} unless last_over_time({{ r }}[{{ gap }}] offset {{ window }}))
    and on() count({{ workflow_series }} offset {{ window }})
  or
  {{ r }} - min_over_time({{ r }}[{{ window }}])
) > 0""",
}


_COMPILED: Final = {name: _ENV.from_string(text) for name, text in _TEMPLATES.items()}


def render(name: str, **variables: object) -> str:
    """Render the expression template ``name``."""
    return _COMPILED[name].render(**variables)


def piecewise(phases: Sequence[Phase], values: Sequence[Decimal]) -> str:
    """A scalar expression worth ``values[i]`` while phase ``i`` is in force.

    With one phase this is the bare number; with a tightening schedule each term is a
    0/1 comparison on ``time()``, so the rules follow the schedule without regenerating.
    """
    if len(phases) == 1:
        return number(values[0])
    terms = []
    for i, (phase, value) in enumerate(zip(phases, values, strict=True)):
        conditions = []
        if phase.start is not None:
            conditions.append(f"(time() >= bool {phase.start})")
        if i + 1 < len(phases):
            conditions.append(f"(time() < bool {phases[i + 1].start})")
        terms.append(" * ".join([*conditions, number(value)]))
    return "(" + " + ".join(terms) + ")"


def slo_selector(record: str, slo: SLO) -> str:
    """A recorded series of one SLO."""
    return selectors.slo_selector(record, slo.name)


def window_name(seconds: int) -> str:
    """A window as written in rule names: ``5m``, ``1h``, ``30d``."""
    return format_duration(seconds)


def open_range(seconds: int) -> str:
    """A range that holds exactly ``seconds / STEP`` recorded steps.

    Prometheus 2 range selectors include both ends; steps lie exactly one step apart, so a
    full-length range would hold one step too many whenever it starts on a step.
    """
    return format_duration_ms(seconds * 1000 - 1)


def counter_expr(sli: SLI, kind: str) -> str:
    """Per scrape target: the counters of ``kind`` (``events``, ``bad_events`` or
    ``good_events``) summed over the SLI's detail labels."""
    selector = kind_selector(sli, kind)
    return render("counter", detail=", ".join(sli.detail_labels), r=selector.render())


def kind_selector(sli: SLI, kind: str) -> Selector:
    """The raw counters of ``kind``."""
    selector = {"events": sli.total, "bad_events": sli.bad, "good_events": sli.good}[kind]
    if selector is None:
        raise ValueError(f"the SLI has no {kind} counters")
    return selector


def counted_kinds(sli: SLI) -> tuple[str, ...]:
    """The kinds of events whose counters the rules read: all, and bad or good ones."""
    return ("events", "bad_events" if sli.bad is not None else "good_events")


def counter_before_expr(slo: SLO, kind: str) -> str:
    """Per target seen within the period: its sum at the step before this one."""
    return render(
        "counter_before",
        c5=slo_selector(names.rec_counter_at_step(kind), slo),
        period=format_duration(slo.period),
    )


def counter_base_expr(slo: SLO, kind: str) -> str:
    """Per target (re)appearing after an hour or more: the value its counting starts from."""
    return render(
        "counter_base",
        before=slo_selector(names.rec_counter_before(kind), slo),
        events_before=slo_selector(names.rec_counter_before("events"), slo),
        c5=slo_selector(names.rec_counter_at_step(kind), slo),
        c=slo_selector(names.rec_counter(kind), slo),
        events=slo_selector(names.rec_counter("events"), slo),
        step=format_duration(burn.STEP),
        gap=format_duration(GAP_BRIDGE),
    )


def step_expr(slo: SLO, kind: str) -> str:
    """Events of ``kind`` since the previous step."""
    return render(
        "step",
        before=slo_selector(names.rec_counter_before(kind), slo),
        events_before=slo_selector(names.rec_counter_before("events"), slo),
        c5=slo_selector(names.rec_counter_at_step(kind), slo),
        c=slo_selector(names.rec_counter(kind), slo),
        step=format_duration(burn.STEP),
        base=slo_selector(names.rec_counter_base(kind), slo),
    )


def bad_step_expr(slo: SLO) -> str:
    """Bad events since the previous step: recorded directly, or all minus good ones."""
    if slo.sli.bad is not None:
        return step_expr(slo, "bad_events")
    return render(
        "difference",
        total=slo_selector(names.rec_step("events"), slo),
        good=slo_selector(names.rec_step("good_events"), slo),
    )


def rise_expr(slo: SLO, kind: str) -> str:
    """Events of ``kind`` since the previous evaluation of the SLO's main group."""
    c = slo_selector(names.rec_counter(kind), slo)
    events = slo_selector(names.rec_counter("events"), slo)
    gap = format_duration(GAP_BRIDGE)
    latest = format_duration(2 * burn.STEP)
    return render(
        "rise",
        c=c,
        prev=f"last_over_time({c}[{gap}] offset 1ms)",
        before=f"last_over_time({slo_selector(names.rec_counter_before(kind), slo)}[{latest}])",
        events_prev=f"count(last_over_time({events}[{gap}] offset 1ms))",
        events_before=(
            f"count(last_over_time({slo_selector(names.rec_counter_before('events'), slo)}"
            f"[{latest}]))"
        ),
    )


def fast_window_expr(slo: SLO, kind: str, window: int) -> str:
    """Events of ``kind`` over a window of up to an hour, at every evaluation."""
    return render(
        "fast_window",
        rise=slo_selector(names.rec_rise(kind), slo),
        window=open_range(window),
    )


def bad_fast_window_expr(slo: SLO, window: int) -> str:
    """Bad events over a window of up to an hour."""
    if slo.sli.bad is not None:
        return fast_window_expr(slo, "bad_events", window)
    return render(
        "difference",
        total=fast_window_expr(slo, "events", window),
        good=fast_window_expr(slo, "good_events", window),
    )


def zero_tolerance_expr(workflow: Workflow) -> str:
    """Zero-tolerance events over the last few minutes, including a series new at 1."""
    assert workflow.zero_tolerance is not None
    outcomes = workflow.zero_tolerance.outcomes
    op = "=" if len(outcomes) == 1 else "=~"
    wf = f'{names.LABEL_WORKFLOW}="{escape(workflow.name)}"'
    r = f'{names.OUTCOMES_METRIC}{{{wf},{names.LABEL_OUTCOME}{op}"{"|".join(outcomes)}"}}'
    by = ", ".join([names.LABEL_OUTCOME, *(d.name for d in workflow.dimensions)])
    return render(
        "zero_tolerance",
        by=by,
        r=r,
        gap=format_duration(GAP_BRIDGE),
        window=format_duration(ZERO_TOLERANCE_WINDOW),
        workflow_series=f"{names.OUTCOMES_METRIC}{{{wf}}}",
    )
