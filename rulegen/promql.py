"""PromQL: the only place where the project writes it.

Small builders (selectors, functions, aggregations, binary operators) compose the named
expressions that the recording rules, alerts and dashboards hold and the queries that the
gate and the report send. Builders compose text: they add no parentheses of their own, so a
caller wraps an operand in ``parens`` where precedence needs it.

The recording rules' long expressions are jinja2 templates, rendered with
``StrictUndefined``: a missing variable is an error, never an empty string in a rule. jinja2
is imported on the first ``render``, so the gate and the report use this module without it.
"""

from __future__ import annotations

import functools
import textwrap
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Final, Literal

from rulegen import burn, names, selectors
from rulegen.durations import format_duration, format_duration_ms
from rulegen.model import SLI, SLO, Phase, Workflow
from rulegen.numbers import number
from rulegen.selectors import Matcher, Op, Selector

if TYPE_CHECKING:
    import jinja2

__all__ = [
    "GAP_BRIDGE",
    "ZERO_TOLERANCE_WINDOW",
    "BinaryOp",
    "Expr",
    "Operand",
    "Scalar",
    "above",
    "alerts_firing_by_slo",
    "all_of",
    "and_ignoring_window",
    "at_least",
    "at_most",
    "bad_fast_window_expr",
    "bad_step_expr",
    "baseline_runs",
    "below",
    "binary",
    "budget_remaining",
    "budget_remaining_by_slo",
    "budget_share_guard",
    "burn_rate_by_slo",
    "burn_rate_over_window",
    "canary_runs",
    "complement",
    "count_",
    "count_by",
    "counted_kinds",
    "counter_base_expr",
    "counter_before_expr",
    "counter_expr",
    "every_slo",
    "fast_window_expr",
    "firing_alerts",
    "increase",
    "kind_selector",
    "last_over_time",
    "lowest_remaining",
    "min_all",
    "min_over_time",
    "negate",
    "number",
    "objective_by_slo",
    "offset",
    "open_range",
    "outcomes_matcher",
    "pages_firing",
    "parens",
    "period_events",
    "piecewise",
    "positive",
    "previous_period",
    "product",
    "quantile",
    "range_vector",
    "ratio",
    "recorded",
    "render",
    "rise_expr",
    "rise_of",
    "runs_by",
    "runs_left",
    "runs_left_by_slo",
    "series_seen",
    "share_by",
    "share_of_runs",
    "share_of_whole_runs",
    "silent",
    "sli_over_period_by_slo",
    "slo_selector",
    "step_expr",
    "subquery",
    "sum_all",
    "sum_by",
    "sum_without",
    "timestamp",
    "unless",
    "vector",
    "whole_runs",
    "window_name",
    "with_matcher",
    "workflow_matcher",
    "workflow_outcomes",
    "zero_tolerance_expr",
]

#: How far back a rise looks for a target's previous sum: a target unseen for longer rises
#: from its sum at the step before the gap (``counter5m_before``).
GAP_BRIDGE: Final = burn.HOUR
#: The window of the zero-tolerance alert: it fires for this long after an event.
ZERO_TOLERANCE_WINDOW: Final = 10 * burn.MINUTE

#: An expression, or a selector rendered where it is used.
Expr = str | Selector
#: A literal number, or a scalar expression already written (``piecewise``).
Scalar = str | int | Decimal
#: Either operand of a binary operator.
Operand = str | Selector | int | Decimal
BinaryOp = Literal["+", "-", "*", "/", "==", "!=", ">", ">=", "<", "<=", "and", "or", "unless"]

_TIME: Final = "time()"
_OPPOSITE: Final[dict[Op, Op]] = {"=": "!=", "!=": "=", "=~": "!~", "!~": "=~"}
_ALERTS: Final = "ALERTS"

# -- selectors ---------------------------------------------------------------------------


def _text(expr: Expr) -> str:
    return expr.render() if isinstance(expr, Selector) else expr


def _operand(value: Operand) -> str:
    if isinstance(value, Selector):
        return value.render()
    return value if isinstance(value, str) else number(value)


def with_matcher(selector: Selector, matcher: Matcher) -> Selector:
    """``selector`` narrowed by one more matcher."""
    return Selector(selector.metric, (*selector.matchers, matcher))


def negate(matcher: Matcher) -> Matcher:
    """The opposite matcher: ``a="x"`` → ``a!="x"``, ``a=~"x"`` → ``a!~"x"``."""
    return Matcher(matcher.label, _OPPOSITE[matcher.op], matcher.value)


def slo_selector(record: str, slo: SLO) -> str:
    """A recorded series of one SLO."""
    return selectors.slo_selector(record, slo.name)


def every_slo(record: str) -> str:
    """A recorded series of every SLO: ``record{slo!=""}``."""
    return Selector(record, (Matcher(names.LABEL_SLO, "!=", ""),)).render()


def workflow_matcher(workflow: str) -> Matcher:
    """The series of one workflow."""
    return Matcher(names.LABEL_WORKFLOW, "=", workflow)


def workflow_outcomes(workflow: str) -> Selector:
    """The exporter's outcome counters of one workflow."""
    return Selector(names.OUTCOMES_METRIC, (workflow_matcher(workflow),))


def outcomes_matcher(outcomes: Sequence[str]) -> Matcher:
    """Any of ``outcomes``: ``outcome=~"a|b"``."""
    return Matcher(names.LABEL_OUTCOME, "=~", "|".join(outcomes))


def firing_alerts(*matchers: Matcher) -> str:
    """Firing alerts (Prometheus' ``ALERTS`` series) that match ``matchers``."""
    return Selector(_ALERTS, (Matcher("alertstate", "=", "firing"), *matchers)).render()


# -- functions, aggregations and modifiers -----------------------------------------------


def range_vector(expr: Expr, window: str) -> str:
    """``expr[window]``."""
    return f"{_text(expr)}[{window}]"


def subquery(expr: Expr, window: str, resolution: str) -> str:
    """``expr[window:resolution]``."""
    return f"{_text(expr)}[{window}:{resolution}]"


def offset(expr: Expr, duration: str) -> str:
    """``expr offset duration``: a selector or range vector as it was ``duration`` ago."""
    return f"{_text(expr)} offset {duration}"


def increase(range_: str) -> str:
    """``increase(range)``."""
    return f"increase({range_})"


def last_over_time(range_: str) -> str:
    """``last_over_time(range)``."""
    return f"last_over_time({range_})"


def min_over_time(range_: str) -> str:
    """``min_over_time(range)``."""
    return f"min_over_time({range_})"


def sum_over_time(range_: str) -> str:
    """``sum_over_time(range)``."""
    return f"sum_over_time({range_})"


def timestamp(expr: Expr) -> str:
    """``timestamp(expr)``: each sample's time."""
    return f"timestamp({_text(expr)})"


def vector(scalar: Scalar) -> str:
    """``vector(scalar)``: one series without labels."""
    return f"vector({_operand(scalar)})"


def sum_all(expr: Expr) -> str:
    """``sum(expr)``."""
    return f"sum({_text(expr)})"


def min_all(expr: Expr) -> str:
    """``min(expr)``."""
    return f"min({_text(expr)})"


def count_(expr: Expr) -> str:
    """``count(expr)``."""
    return f"count({_text(expr)})"


def sum_by(labels: Sequence[str], expr: Expr) -> str:
    """``sum by (labels) (expr)``."""
    return f"sum by ({', '.join(labels)}) ({_text(expr)})"


def sum_without(labels: Sequence[str], expr: Expr) -> str:
    """``sum without (labels) (expr)``."""
    return f"sum without ({', '.join(labels)}) ({_text(expr)})"


def count_by(labels: Sequence[str], expr: Expr) -> str:
    """``count by (labels) (expr)``."""
    return f"count by ({', '.join(labels)}) ({_text(expr)})"


def parens(expr: Expr, *, block: bool = False) -> str:
    """``(expr)``; as a block, the expression indented on lines of its own."""
    if block:
        return "(\n" + textwrap.indent(_text(expr), "  ") + "\n)"
    return f"({_text(expr)})"


# -- binary operators ---------------------------------------------------------------------


def binary(
    left: Operand,
    op: BinaryOp,
    right: Operand,
    *,
    on: Sequence[str] | None = None,
    ignoring: Sequence[str] | None = None,
    multiline: bool = False,
) -> str:
    """``left op right``, matching ``on`` or ``ignoring`` labels; ``multiline`` puts the
    operator on a line of its own."""
    if on is not None and ignoring is not None:
        raise ValueError("a binary operator matches on labels or ignoring them, not both")
    operator: str = op
    if on is not None:
        operator += f" on({', '.join(on)})"
    elif ignoring is not None:
        operator += f" ignoring({', '.join(ignoring)})"
    separator = "\n" if multiline else " "
    return f"{_operand(left)}{separator}{operator}{separator}{_operand(right)}"


def above(expr: Expr, threshold: Scalar) -> str:
    """``expr > threshold``."""
    return binary(expr, ">", threshold)


def below(expr: Expr, threshold: Scalar) -> str:
    """``expr < threshold``."""
    return binary(expr, "<", threshold)


def at_least(expr: Expr, threshold: Scalar) -> str:
    """``expr >= threshold``."""
    return binary(expr, ">=", threshold)


def at_most(expr: Expr, threshold: Scalar) -> str:
    """``expr <= threshold``."""
    return binary(expr, "<=", threshold)


def positive(expr: Expr) -> str:
    """``(expr > 0)``: the series of ``expr`` above 0, e.g. a denominator."""
    return parens(above(expr, 0))


def complement(expr: Expr) -> str:
    """``1 - expr``."""
    return binary("1", "-", expr)


def ratio(numerator: Expr, denominator: Expr, *, on: Sequence[str] | None = None) -> str:
    """``numerator / denominator``, one operand a line."""
    return binary(numerator, "/", denominator, on=on, multiline=True)


def product(left: Expr, right: Expr) -> str:
    """``left * right``, one operand a line."""
    return binary(left, "*", right, multiline=True)


def all_of(conditions: Sequence[str]) -> str:
    """Every condition: joined by ``and``, one a line."""
    return "\nand\n".join(conditions)


def unless(expr: Expr, exception: Expr) -> str:
    """``expr``, except where ``exception`` holds (one a line)."""
    return binary(expr, "unless", exception, multiline=True)


def and_ignoring_window(expr: Expr, condition: Expr) -> str:
    """``expr`` where ``condition`` holds, matched ignoring the period figures' window label."""
    return binary(expr, "and", condition, ignoring=(names.LABEL_WINDOW,), multiline=True)


# -- alerts ------------------------------------------------------------------------------


def budget_share_guard(bad: Expr, share: Scalar, allowed: Expr) -> str:
    """A window's bad events are at least ``share`` of the period's allowed bad events, or
    any while the allowed figure is not recorded yet."""
    window = (names.LABEL_WINDOW,)
    return parens(
        binary(
            binary(bad, ">=", binary(share, "*", allowed), ignoring=window),
            "or",
            binary(bad, "unless", allowed, ignoring=window),
            multiline=True,
        ),
        block=True,
    )


def silent(events: Expr, period_events: Expr, after: str) -> str:
    """No events over a window, or no target reporting at all; only where the period's
    events were recorded ``after`` ago already."""
    nothing = binary(
        binary(events, "==", 0),
        "or",
        binary(binary(sum_without((names.LABEL_WINDOW,), period_events), "*", 0), "unless", events),
        multiline=True,
    )
    return binary(
        parens(nothing, block=True), "and", offset(period_events, after), on=(), multiline=True
    )


# -- dashboards --------------------------------------------------------------------------


#: The labels a figure of one SLO keeps when two recorded series are matched.
_SLO_LABELS: Final = (names.LABEL_SLO, names.LABEL_WORKFLOW)


def _slos(matchers: Sequence[Matcher]) -> tuple[Matcher, ...]:
    """The matchers of a query over many SLOs: ``slo!=""`` and ``matchers``."""
    return (Matcher(names.LABEL_SLO, "!=", ""), *matchers)


def recorded(record: str, *matchers: Matcher) -> str:
    """A recorded series of every SLO that ``matchers`` select: ``record{slo!="",...}``."""
    return Selector(record, _slos(matchers)).render()


def objective_by_slo(*matchers: Matcher) -> str:
    """Every SLO's objective."""
    return recorded(names.REC_OBJECTIVE, *matchers)


def sli_over_period_by_slo(*matchers: Matcher) -> str:
    """Every SLO's SLI over its period: 1 − burn rate × error budget."""
    return complement(
        binary(
            recorded(names.REC_BURN_PERIOD, *matchers),
            "*",
            recorded(names.REC_ERROR_BUDGET, *matchers),
            on=_SLO_LABELS,
        )
    )


def budget_remaining_by_slo(*matchers: Matcher) -> str:
    """Every SLO's share of its period's error budget left."""
    return recorded(names.REC_PERIOD_REMAINING, *matchers)


def runs_left_by_slo(*matchers: Matcher) -> str:
    """Every SLO's bad runs still allowed in its period, in whole runs (see ``runs_left``)."""
    return runs_left(
        recorded(names.REC_PERIOD_ALLOWED, *matchers), recorded(names.REC_PERIOD_BAD, *matchers)
    )


def runs_left(allowed: Expr, bad: Expr) -> str:
    """How many more bad runs the period's budget allows, as a whole number: the allowed bad
    events less the bad ones, rounded down (1.85 allowed, 1 bad: 0 more; negative: overspent
    by that many runs, or by a fraction of one)."""
    return f"floor({binary(allowed, '-', bad, on=_SLO_LABELS)})"


def burn_rate_by_slo(*matchers: Matcher) -> str:
    """Every SLO's burn rate over the last hour."""
    return recorded(names.REC_BURN_CURRENT, *matchers)


def alerts_firing_by_slo(*matchers: Matcher) -> str:
    """Firing alerts per SLO (and its workflow), 0 for an SLO without any."""
    return binary(
        count_by(_SLO_LABELS, firing_alerts(*_slos(matchers))),
        "or",
        binary(0, "*", objective_by_slo(*matchers)),
        on=(names.LABEL_SLO,),
    )


def burn_rate_over_window(slo: SLO, window: str) -> str:
    """The SLO's burn rate over one of its recorded windows (``1h``, ``6h``, ...)."""
    return ratio(
        slo_selector(names.rec_error_ratio(window), slo),
        slo_selector(names.REC_ERROR_BUDGET, slo),
        on=(names.LABEL_SLO,),
    )


def runs_by(labels: Sequence[str], counters: Selector, window: str) -> str:
    """The counters' increase over ``window``, summed by ``labels``."""
    return sum_by(labels, increase(range_vector(counters, window)))


def share_by(labels: Sequence[str], part: Selector, whole: Selector, window: str) -> str:
    """By ``labels``: the increase of ``part`` over ``window`` as a share of ``whole``'s."""
    return ratio(runs_by(labels, part, window), positive(runs_by(labels, whole, window)))


def share_of_runs(part: Selector, whole: Selector, window: str) -> str:
    """The increase of ``part`` over ``window`` as a share of ``whole``'s."""
    return binary(
        sum_all(increase(range_vector(part, window))),
        "/",
        positive(sum_all(increase(range_vector(whole, window)))),
    )


def whole_runs(labels: Sequence[str], counters: Selector, every: Selector, window: str) -> str:
    """By ``labels``: the runs ``counters`` counted over ``window``, as whole numbers, new
    series included (the principle of the recorded rises, per series).

    A series seen at both ends of the window counts its rise, or where it fell (a counter
    reset) its value at the end: the runs since the reset (runs between the window's start
    and the reset are not seen; the exporter's counters survive restarts, so resets are
    rare, and short windows lose little); a series new in the window counts whole, from 0,
    provided the workflow (any series of ``every``) was reported at the window's start
    already: on a Prometheus younger than the window, values are history and count
    nothing. Instant selectors only, so a long window costs no more than a short one.
    Consecutive windows that tile a range add up to the runs of the range exactly.
    """
    now = counters.render()
    then = offset(counters, window)
    return sum_by(
        labels,
        parens(
            "\n".join(
                [
                    binary(now, "-", parens(binary(then, "<=", now))),
                    "or",
                    binary(now, "and", then),
                    "or",
                    binary(now, "and", count_(offset(every, window)), on=()),
                ]
            ),
            block=True,
        ),
    )


def share_of_whole_runs(
    labels: Sequence[str], part: Selector, whole: Selector, every: Selector, window: str
) -> str:
    """By ``labels``: ``part``'s whole runs over ``window`` as a share of ``whole``'s; 0
    where ``whole`` has runs and ``part`` has no series; nothing where there were no runs."""
    runs = positive(whole_runs(labels, whole, every, window))
    return binary(
        ratio(whole_runs(labels, part, every, window), runs),
        "or",
        binary(0, "*", runs),
        multiline=True,
    )


def quantile(q: Decimal, buckets: Expr) -> str:
    """``histogram_quantile(q, buckets)``: buckets by ``le``, cumulative."""
    return f"histogram_quantile({number(q)}, {_text(buckets)})"


# -- the gate and the report -------------------------------------------------------------


def budget_remaining(slo: SLO) -> str:
    """The share of the SLO's period budget left."""
    return slo_selector(names.REC_PERIOD_REMAINING, slo)


def pages_firing(slo: SLO) -> str:
    """The SLO's firing alerts of severity ``page``."""
    return firing_alerts(
        Matcher(names.LABEL_SEVERITY, "=", "page"), Matcher(names.LABEL_SLO, "=", slo.name)
    )


def period_events(slo: SLO) -> str:
    """The SLO's events over its period, as its rules record them."""
    return slo_selector(names.REC_PERIOD_EVENTS, slo)


def lowest_remaining(slo: SLO, seconds: int) -> str:
    """The least budget the SLO had left within the ``seconds`` before the evaluation, over
    every series of the SLO (a change of the spec's labels starts a new one); no value where
    none was recorded in that time."""
    return min_all(min_over_time(range_vector(budget_remaining(slo), open_range(seconds))))


def canary_runs(counters: Selector, canary: Matcher, window: str) -> str:
    """The canary's increase of ``counters`` over ``window``."""
    return sum_all(increase(range_vector(with_matcher(counters, canary), window)))


def baseline_runs(counters: Selector, canary: Matcher, window: str) -> str:
    """Everything but the canary: its increase of ``counters`` over ``window``."""
    return canary_runs(counters, negate(canary), window)


def previous_period(record: str, slo: SLO) -> str:
    """A recorded series of the SLO, one period ago."""
    return offset(slo_selector(record, slo), slo.period_name)


def recorded_runs(slo: SLO, kind: Literal["events", "bad_events"], seconds: int) -> str:
    """The SLO's runs of ``kind`` within the ``seconds`` before the evaluation, exactly: the
    sum of its recorded steps (as many as the window holds)."""
    steps = slo_selector(names.rec_step(kind), slo)
    return sum_over_time(range_vector(steps, open_range(seconds)))


def runs_within(labels: Sequence[str], counters: Selector, seconds: int) -> str:
    """By ``labels``: the runs each series of ``counters`` counted within the ``seconds``
    before the evaluation, as whole numbers: its last value in the window less its value in
    the hour before the window, or less 0 for a series new in the window. Exact for
    counters that never reset (the exporter keeps its counters across restarts)."""
    window = format_duration(seconds)
    last = last_over_time(range_vector(counters, window))
    before = last_over_time(offset(range_vector(counters, format_duration(GAP_BRIDGE)), window))
    return sum_by(labels, binary(last, "-", parens(binary(before, "or", binary(last, "*", 0)))))


def series_seen(counters: Selector, window: str) -> str:
    """Every series of ``counters`` seen within ``window``, for its labels."""
    return last_over_time(range_vector(counters, window))


# -- recording rules ---------------------------------------------------------------------

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
    # (no target seen before), the first sums are history and count nothing. Unsummed, each
    # target's rise (vmalert's rules add it to a running count per target).
    "rise": """\
{{ 'sum' if summed }}(
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


@functools.cache
def _compiled() -> dict[str, jinja2.Template]:
    import jinja2  # noqa: PLC0415 - only rendering rules needs a template engine

    env = jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        autoescape=False,  # noqa: S701 - PromQL, not HTML
    )
    return {name: env.from_string(text) for name, text in _TEMPLATES.items()}


def render(name: str, **variables: object) -> str:
    """Render the expression template ``name``."""
    return _compiled()[name].render(**variables)


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
            conditions.append(f"({_TIME} >= bool {phase.start})")
        if i + 1 < len(phases):
            conditions.append(f"({_TIME} < bool {phases[i + 1].start})")
        terms.append(" * ".join([*conditions, number(value)]))
    return "(" + " + ".join(terms) + ")"


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
    return rise_of(slo.name, kind)


def rise_of(
    slo_name: str,
    kind: str,
    now: str | None = None,
    previous: str | None = None,
    *,
    summed: bool = True,
) -> str:
    """Events of ``kind`` since the previous evaluation of the SLO ``slo_name``'s main
    group. ``now`` is this evaluation's per-target sums and ``previous`` the previous
    evaluation's (by default both read from ``slo:<kind>:counter``, recorded just before in
    the group); ``summed=False``: each target's rise."""
    c = selectors.slo_selector(names.rec_counter(kind), slo_name)
    events = selectors.slo_selector(names.rec_counter("events"), slo_name)
    gap = format_duration(GAP_BRIDGE)
    latest = format_duration(2 * burn.STEP)
    return render(
        "rise",
        summed=summed,
        c=c if now is None else now,
        prev=previous or last_over_time(offset(range_vector(c, gap), "1ms")),
        before=last_over_time(
            range_vector(selectors.slo_selector(names.rec_counter_before(kind), slo_name), latest)
        ),
        events_prev=count_(last_over_time(offset(range_vector(events, gap), "1ms"))),
        events_before=count_(
            last_over_time(
                range_vector(
                    selectors.slo_selector(names.rec_counter_before("events"), slo_name), latest
                )
            )
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
    every = workflow_outcomes(workflow.name)
    matcher = (
        Matcher(names.LABEL_OUTCOME, "=", outcomes[0])
        if len(outcomes) == 1
        else outcomes_matcher(outcomes)
    )
    by = ", ".join([names.LABEL_OUTCOME, *(d.name for d in workflow.dimensions)])
    return render(
        "zero_tolerance",
        by=by,
        r=with_matcher(every, matcher).render(),
        gap=format_duration(GAP_BRIDGE),
        window=format_duration(ZERO_TOLERANCE_WINDOW),
        workflow_series=every.render(),
    )
