"""The PromQL the status page sends beyond :mod:`rulegen.promql`'s: every SLO's recorded
figures in one query each (the page never reads raw counters for the overview), alerts in
every state, and the budget history of every SLO for the autonomy streaks.

Built with :mod:`rulegen.promql`'s builders; only the selection differs.
"""

from __future__ import annotations

from typing import Final

from rulegen import names, promql
from rulegen.model import SLO
from rulegen.selectors import Matcher, Selector

__all__ = [
    "OVERVIEW",
    "alerts_of_every_slo",
    "alerts_of_workflow",
    "error_ratio",
    "lowest_remaining_every_slo",
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


def lowest_remaining_every_slo(seconds: int) -> str:
    """Of every series of every SLO: the least budget left within the ``seconds`` before
    the evaluation. An SLO's several series (a change of the spec's labels starts a new
    one) are combined by the reader, as :func:`decisions.autonomy.autonomy` combines them:
    Prometheus 2 spends more on ``min by`` at every step of a long range than on the range
    itself."""
    recorded = promql.every_slo(names.REC_PERIOD_REMAINING)
    return promql.min_over_time(promql.range_vector(recorded, promql.open_range(seconds)))
