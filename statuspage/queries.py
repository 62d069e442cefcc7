"""The PromQL the status page sends beyond :mod:`rulegen.promql`'s: every SLO's recorded
figures in one query each (the page never reads raw counters for the overview), alerts in
every state, and the budget history of every SLO for the autonomy streaks.

Built with :mod:`rulegen.promql`'s builders; only the selection differs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from rulegen import burn, names, promql
from rulegen.durations import format_duration
from rulegen.model import SLO
from rulegen.selectors import Matcher, Selector

__all__ = [
    "OVERVIEW",
    "alerts_of_every_slo",
    "alerts_of_workflow",
    "error_ratio",
    "good_checks_a_day",
    "lowest_remaining",
]

_ALERTS: Final = "ALERTS"

#: The overview's recorded series, each of every SLO in one instant query.
OVERVIEW: Final = {
    "objective": promql.every_slo(names.REC_OBJECTIVE),
    "events": promql.every_slo(names.REC_PERIOD_EVENTS),
    "bad": promql.every_slo(names.REC_PERIOD_BAD),
    "allowed": promql.every_slo(names.REC_PERIOD_ALLOWED),
    "remaining": promql.every_slo(names.REC_PERIOD_REMAINING),
    "burn": promql.every_slo(names.REC_BURN_CURRENT),
}


def alerts_of_every_slo() -> str:
    """Every alert of every SLO, pending or firing (``ALERTS{slo!=""}``)."""
    return Selector(_ALERTS, (Matcher(names.LABEL_SLO, "!=", ""),)).render()


def alerts_of_workflow(workflow: str) -> str:
    """Every alert of one workflow's SLOs and its zero-tolerance alert, pending or firing."""
    return Selector(_ALERTS, (promql.workflow_matcher(workflow),)).render()


def error_ratio(slo: SLO, window: int) -> str:
    """The SLO's recorded error ratio over one of its windows, in seconds."""
    return promql.slo_selector(names.rec_error_ratio(promql.window_name(window)), slo)


def lowest_remaining(seconds: int, slos: Sequence[str] = ()) -> str:
    """Of every series of the SLOs ``slos`` (none: every SLO): the least budget left within
    the ``seconds`` before the evaluation, as :func:`rulegen.promql.lowest_remaining` reads
    one SLO's. An SLO's several series (a change of the spec's labels starts a new one) are
    combined by the reader, as :func:`decisions.autonomy.autonomy` combines them: Prometheus
    2 spends more on ``min by`` at every step of a long range than on the range itself."""
    chosen = (
        Matcher(names.LABEL_SLO, "=~", "|".join(re.escape(s) for s in sorted(slos)))
        if slos
        else Matcher(names.LABEL_SLO, "!=", "")
    )
    recorded = Selector(names.REC_PERIOD_REMAINING, (chosen,)).render()
    return promql.min_over_time(promql.range_vector(recorded, promql.open_range(seconds)))


def good_checks_a_day(seconds: int, step: int, shift: int) -> str:
    """For every series of every SLO, evaluated at a whole multiple of ``step`` since the
    epoch: how many of the day's checks (every ``step``, the latest ``shift`` seconds
    before the evaluation, each reading the ``seconds`` before it as
    :func:`lowest_remaining` does) saw a budget left above 0.

    A subquery: Prometheus evaluates every check as a range query of the checks would, and
    answers one number a day instead of 24 values, which are most of the cost of reading
    them. Its points fall on multiples of ``step``, hence ``shift``, the offset from them
    to the checks."""
    recorded = promql.every_slo(names.REC_PERIOD_REMAINING)
    window = promql.range_vector(recorded, promql.open_range(seconds))
    check = promql.min_over_time(promql.offset(window, f"{shift}s") if shift else window)
    day = format_duration(burn.DAY - step)  # 24 points: both ends are included
    return f"count_over_time(({check} > 0)[{day}:{format_duration(step)}])"
