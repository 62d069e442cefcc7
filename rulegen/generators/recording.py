"""Recording rules of one SLO: exact steps, window increases, error ratios and budget figures.

The SLI's counters are first summed per scrape target (over outcomes and dimensions): a
new series rises that sum by its whole value, however it appears, and a target's sum only
falls on a counter reset. Counting each target's rises therefore counts every run.

Two groups per SLO:

- ``<slo>`` (the global evaluation interval): the per-target sums at every evaluation, the
  events since the previous evaluation (each target's rise), and windows up to an hour as
  sums of those rises, so fast-burn alerts react within a scrape or two; objective and
  budget. The SLO's alerts are appended to this group (see
  ``rulegen.generators``).
- ``<slo>-steps`` (interval: one step, 5m): the per-target sums at every step, each
  target's rise since it was last seen (up to a period ago), the events of each step;
  every longer window and the period are sums of these steps.
"""

from __future__ import annotations

from typing import Any

from rulegen import burn, names, promql
from rulegen.durations import format_duration
from rulegen.model import SLO

__all__ = [
    "Rule",
    "main_group_name",
    "sli_group",
    "slo_labels",
    "steps_group",
    "steps_group_name",
]

Rule = dict[str, Any]


def slo_labels(slo: SLO) -> dict[str, str]:
    """Labels on every recorded series of an SLO: its name, workflow and the spec's labels."""
    return {names.LABEL_SLO: slo.name, names.LABEL_WORKFLOW: slo.workflow, **slo.labels}


def main_group_name(slo: SLO) -> str:
    """The group of short windows, fixed figures and alerts."""
    return f"agent-slo-{slo.name}"


def steps_group_name(slo: SLO) -> str:
    """The group of steps and the windows summed from them."""
    return f"agent-slo-{slo.name}-steps"


def _record(name: str, expr: str, labels: dict[str, str]) -> Rule:
    return {"record": name, "expr": expr, "labels": labels}


def bad_record(slo: SLO, window: int) -> str:
    """Selector of the recorded bad events of ``slo`` over ``window``."""
    if window == slo.period:
        return promql.slo_selector(names.REC_PERIOD_BAD, slo)
    return promql.slo_selector(names.rec_bad_events(promql.window_name(window)), slo)


def events_record(slo: SLO, window: int) -> str:
    """Selector of the recorded events of ``slo`` over ``window``."""
    if window == slo.period:
        return promql.slo_selector(names.REC_PERIOD_EVENTS, slo)
    return promql.slo_selector(names.rec_events(promql.window_name(window)), slo)


def ratio_record(slo: SLO, window: int) -> str:
    """Selector of the recorded error ratio of ``slo`` over ``window``."""
    return promql.slo_selector(names.rec_error_ratio(promql.window_name(window)), slo)


def budget_expr(slo: SLO) -> str:
    """The error budget (1 − objective) as a scalar expression, following the schedule."""
    return promql.piecewise(slo.phases, [p.budget for p in slo.phases])


def sli_group(slo: SLO) -> dict[str, Any]:
    """Per-target sums, short windows from them, their ratios, and the SLO's fixed figures."""
    labels = slo_labels(slo)
    kinds = promql.counted_kinds(slo.sli)
    rules: list[Rule] = []
    for kind in kinds:
        rules.append(_record(names.rec_counter(kind), promql.counter_expr(slo.sli, kind), labels))
        rules.append(_record(names.rec_rise(kind), promql.rise_expr(slo, kind), labels))
    for window in slo.windows():
        if window > burn.RAW_WINDOW_MAX:
            continue
        name = promql.window_name(window)
        rules.append(
            _record(names.rec_bad_events(name), promql.bad_fast_window_expr(slo, window), labels)
        )
        rules.append(
            _record(names.rec_events(name), promql.fast_window_expr(slo, "events", window), labels)
        )
        rules.append(_ratio_rule(slo, window, labels))
    budget = budget_expr(slo)
    rules.extend(
        [
            _record(
                names.REC_OBJECTIVE,
                promql.vector(promql.piecewise(slo.phases, [p.objective for p in slo.phases])),
                labels,
            ),
            _record(names.REC_ERROR_BUDGET, promql.vector(budget), labels),
            _record(names.REC_PERIOD_DAYS, promql.vector(slo.period // burn.DAY), labels),
            _record(
                names.REC_BURN_CURRENT, promql.ratio(ratio_record(slo, burn.HOUR), budget), labels
            ),
        ]
    )
    return {"name": main_group_name(slo), "rules": rules}


def _ratio_rule(slo: SLO, window: int, labels: dict[str, str]) -> Rule:
    return _record(
        names.rec_error_ratio(promql.window_name(window)),
        promql.render("ratio", bad=bad_record(slo, window), total=events_record(slo, window)),
        labels,
    )


def steps_group(slo: SLO) -> dict[str, Any]:
    """Exact step increases, the long windows and the period summed from them."""
    labels = slo_labels(slo)
    rules: list[Rule] = []
    for kind in promql.counted_kinds(slo.sli):
        rules.extend(
            [
                _record(
                    names.rec_counter_at_step(kind), promql.counter_expr(slo.sli, kind), labels
                ),
                _record(
                    names.rec_counter_before(kind), promql.counter_before_expr(slo, kind), labels
                ),
                _record(names.rec_counter_base(kind), promql.counter_base_expr(slo, kind), labels),
                _record(names.rec_step(kind), promql.step_expr(slo, kind), labels),
            ]
        )
    if slo.sli.bad is None:
        rules.append(_record(names.REC_BAD_STEP, promql.bad_step_expr(slo), labels))
    bad_steps = promql.slo_selector(names.REC_BAD_STEP, slo)
    event_steps = promql.slo_selector(names.REC_EVENTS_STEP, slo)
    for window in slo.windows():
        if window <= burn.RAW_WINDOW_MAX:
            continue
        rng = promql.open_range(window)
        if window == slo.period:
            period_labels = {**labels, names.LABEL_WINDOW: slo.period_name}
            rules.append(
                _record(
                    names.REC_PERIOD_BAD,
                    promql.render("sum_steps", step_record=bad_steps, window=rng),
                    period_labels,
                )
            )
            rules.append(
                _record(
                    names.REC_PERIOD_EVENTS,
                    promql.render("sum_steps", step_record=event_steps, window=rng),
                    period_labels,
                )
            )
            continue
        name = promql.window_name(window)
        rules.append(
            _record(
                names.rec_bad_events(name),
                promql.render("sum_steps", step_record=bad_steps, window=rng),
                labels,
            )
        )
        rules.append(
            _record(
                names.rec_events(name),
                promql.render("sum_steps", step_record=event_steps, window=rng),
                labels,
            )
        )
        rules.append(_ratio_rule(slo, window, labels))
    budget = budget_expr(slo)
    period_labels = {**labels, names.LABEL_WINDOW: slo.period_name}
    period_ratio = ratio_record(slo, slo.period)
    rules.extend(
        [
            _record(
                names.rec_error_ratio(slo.period_name),
                promql.render(
                    "period_ratio",
                    window_label=names.LABEL_WINDOW,
                    bad=bad_record(slo, slo.period),
                    total=events_record(slo, slo.period),
                ),
                labels,
            ),
            _record(
                names.REC_PERIOD_ALLOWED,
                promql.product(events_record(slo, slo.period), budget),
                period_labels,
            ),
            _record(names.REC_BURN_PERIOD, promql.ratio(period_ratio, budget), labels),
            _record(
                names.REC_PERIOD_REMAINING,
                promql.complement(promql.slo_selector(names.REC_BURN_PERIOD, slo)),
                labels,
            ),
        ]
    )
    return {
        "name": steps_group_name(slo),
        "interval": format_duration(burn.STEP),
        "rules": rules,
    }
