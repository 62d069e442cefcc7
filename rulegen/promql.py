"""PromQL expressions of the generated rules: the only place where PromQL is templated.

Templates are rendered with ``StrictUndefined``: a missing variable is an error, never an
empty string in a rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Final

import jinja2

from rulegen import burn, names
from rulegen.durations import format_duration, format_duration_ms
from rulegen.model import SLI, SLO, Phase, Workflow
from rulegen.selectors import Selector, escape

__all__ = [
    "GAP_BRIDGE",
    "number",
    "piecewise",
    "render",
    "slo_selector",
]

#: How far back a step looks for a counter's previous value: scrape gaps up to this long
#: are bridged exactly; the events of longer gaps are not counted (never double-counted).
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
    # Events on one non-overlapping step, per counter series: the exact difference from the
    # value one step ago (no extrapolation, so steps add up to the true total); across a
    # counter reset, Prometheus's reset-aware increase over the step; a new series counts
    # from zero, provided the SLO had data one step ago (so that after a Prometheus outage
    # a counter's whole history is not counted again as new).
    "step": """\
sum(
  {{ r }} - (last_over_time({{ r }}[{{ gap }}] offset {{ step }}) <= {{ r }})
  or
  increase({{ r }}[{{ step }}]) and last_over_time({{ r }}[{{ gap }}] offset {{ step }})
  or
  {{ r }} and on() {{ gate }} offset {{ step }}
)""",
    "difference": """\
clamp_min(
{{ total | indent(2, true) }}
  -
{{ good | indent(2, true) }},
  0
)""",
    "raw_window": "sum(increase({{ r }}[{{ window }}]))",
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


def number(value: Decimal | int) -> str:
    """A number as PromQL reads it, without exponent or float noise: ``0.0144``, ``30``."""
    return format(Decimal(value).normalize(), "f")


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
    return f'{record}{{{names.LABEL_SLO}="{escape(slo.name)}"}}'


def window_name(seconds: int) -> str:
    """A window as written in rule names: ``5m``, ``1h``, ``30d``."""
    return format_duration(seconds)


def open_range(seconds: int) -> str:
    """A range that holds exactly ``seconds / STEP`` recorded steps.

    Prometheus 2 range selectors include both ends; steps lie exactly one step apart, so a
    full-length range would hold one step too many whenever it starts on a step.
    """
    return format_duration_ms(seconds * 1000 - 1)


def step_expr(selector: Selector, gate: str) -> str:
    """Events of ``selector`` on the latest step."""
    return render(
        "step",
        r=selector.render(),
        gap=format_duration(GAP_BRIDGE),
        step=format_duration(burn.STEP),
        gate=gate,
    )


def bad_step_expr(sli: SLI, gate: str) -> str:
    """Bad events on the latest step."""
    if sli.bad is not None:
        return step_expr(sli.bad, gate)
    assert sli.good is not None
    return render("difference", total=step_expr(sli.total, gate), good=step_expr(sli.good, gate))


def raw_window_expr(selector: Selector, window: int) -> str:
    """Events of ``selector`` over ``window``, from the raw counters."""
    return render("raw_window", r=selector.render(), window=format_duration(window))


def bad_raw_window_expr(sli: SLI, window: int) -> str:
    """Bad events over ``window``, from the raw counters."""
    if sli.bad is not None:
        return raw_window_expr(sli.bad, window)
    assert sli.good is not None
    return render(
        "difference",
        total=raw_window_expr(sli.total, window),
        good=raw_window_expr(sli.good, window),
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
