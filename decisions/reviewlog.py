"""The review log: one CSV row per reviewed AI output, as teams keep it by hand.

``date,task,model,accepted_as_is,minor_fix,major_rewrite,rejected`` with optional ``prompt``
(or ``prompt_version``) and ``workflow`` columns; each count column holds how many outputs of
that row ended that way (usually one 1 and three 0s). Every bad row is reported with its
line number; nothing is silently dropped.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from typing import Final

from rulegen.errors import SpecError, SpecErrors

__all__ = ["COUNT_COLUMNS", "OUTCOME_OF", "Row", "parse_csv"]

#: Count columns, in the order of the common format, and the outcome each one is.
COUNT_COLUMNS: Final = ("accepted_as_is", "minor_fix", "major_rewrite", "rejected")
OUTCOME_OF: Final = {
    "accepted_as_is": "success",
    "minor_fix": "minor_fix",
    "major_rewrite": "major_rewrite",
    "rejected": "rejected",
}
REQUIRED: Final = ("date", "task", "model", *COUNT_COLUMNS)
_PROMPT_COLUMNS: Final = ("prompt", "prompt_version")


@dataclass(frozen=True)
class Row:
    """One row of the log, checked."""

    line: int
    date: dt.date
    task: str
    model: str
    prompt: str
    workflow: str
    counts: tuple[int, int, int, int]  # in COUNT_COLUMNS order

    @property
    def runs(self) -> int:
        """Outputs reviewed on this row."""
        return sum(self.counts)


def parse_csv(text: str, path: str) -> list[Row]:
    """Every row of a review log; raise :class:`SpecErrors` listing every bad row."""
    errors: list[SpecError] = []
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise SpecErrors(
            [SpecError(path, 0, "", "the file is empty: expected a header row")]
        ) from None
    columns = [c.strip().lower() for c in header]
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise SpecErrors(
            [
                SpecError(
                    path,
                    1,
                    "header",
                    f"missing column(s) {', '.join(missing)} (expected: {','.join(REQUIRED)}, "
                    "optionally prompt and workflow)",
                )
            ]
        )
    index = {name: i for i, name in enumerate(columns)}
    prompt_column = next((c for c in _PROMPT_COLUMNS if c in index), None)
    rows: list[Row] = []
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(columns):
            errors.append(
                SpecError(path, line, "", f"expected {len(columns)} columns, found {len(values)}")
            )
            continue
        row = _row(values, index, prompt_column, (path, line), errors)
        if row is not None:
            rows.append(row)
    if errors:
        raise SpecErrors(errors)
    return rows


def _row(
    values: list[str],
    index: dict[str, int],
    prompt_column: str | None,
    where: tuple[str, int],
    errors: list[SpecError],
) -> Row | None:
    path, line = where

    def get(name: str) -> str:
        return values[index[name]].strip()

    ok = True
    try:
        date = dt.date.fromisoformat(get("date"))
    except ValueError:
        errors.append(
            SpecError(path, line, "date", f"invalid date {get('date')!r} (expected YYYY-MM-DD)")
        )
        ok = False
    counts = []
    for name in COUNT_COLUMNS:
        raw = get(name)
        if not raw.isdigit():
            errors.append(
                SpecError(path, line, name, f"invalid count {raw!r} (expected a whole number ≥ 0)")
            )
            ok = False
            continue
        counts.append(int(raw))
    for name in ("task", "model"):
        if not get(name):
            errors.append(SpecError(path, line, name, "empty (every row names its task and model)"))
            ok = False
    if ok and sum(counts) == 0:
        errors.append(SpecError(path, line, "", "every count is 0: the row reviews nothing"))
        ok = False
    if not ok:
        return None
    return Row(
        line=line,
        date=date,
        task=get("task"),
        model=get("model"),
        prompt=get(prompt_column) if prompt_column else "",
        workflow=get("workflow") if "workflow" in index else "",
        counts=(counts[0], counts[1], counts[2], counts[3]),
    )
