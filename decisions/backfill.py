"""Review-log history as OpenMetrics samples of ``agent_outcomes_total``, for backfilling.

One sample per series per day (the counter's value at the end of that day, stamped at 23:59:59
UTC), every series starting at 0 on the first day, so that ``increase()`` and the generated
rules count the first day too. Load it with::

    promtool tsdb create-blocks-from openmetrics history.om ./data
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence

from decisions.reviewlog import COUNT_COLUMNS, OUTCOME_OF, Row
from rulegen import names
from rulegen.selectors import escape

__all__ = ["openmetrics"]


def openmetrics(rows: Sequence[Row], workflow: str | None) -> tuple[str, int, int]:
    """The OpenMetrics text, the number of series and of samples."""
    days = sorted({r.date for r in rows})
    start = days[0] - dt.timedelta(days=1)
    per_day: dict[tuple[tuple[str, str], ...], dict[dt.date, int]] = {}
    for row in rows:
        for column, count in zip(COUNT_COLUMNS, row.counts, strict=True):
            labels: tuple[tuple[str, str], ...] = (
                (names.LABEL_WORKFLOW, workflow or row.workflow),
                (names.LABEL_OUTCOME, OUTCOME_OF[column]),
                ("task", row.task),
                ("model", row.model),
                ("prompt_version", row.prompt or "unknown"),
            )
            by_day = per_day.setdefault(tuple(sorted(labels)), {})
            by_day[row.date] = by_day.get(row.date, 0) + count
    lines = [f"# TYPE {names.OUTCOMES_METRIC.removesuffix('_total')} counter"]
    samples = 0
    for labels, by_day in sorted(per_day.items()):
        text = ",".join(f'{k}="{escape(v)}"' for k, v in labels)
        total = 0
        lines.append(f"{names.OUTCOMES_METRIC}{{{text}}} 0 {_stamp(start)}")
        samples += 1
        for day in days:
            total += by_day.get(day, 0)
            lines.append(f"{names.OUTCOMES_METRIC}{{{text}}} {total} {_stamp(day)}")
            samples += 1
    lines.append("# EOF")
    return "\n".join(lines) + "\n", len(per_day), samples


def _stamp(day: dt.date) -> int:
    """End of ``day`` (23:59:59 UTC) in Unix seconds."""
    return calendar.timegm(day.timetuple()) + 86_399
