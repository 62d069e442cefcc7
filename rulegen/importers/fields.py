"""Fields of agent-slo specs made from other tools' values, as a spec accepts them.

Each builder reports, at its place in the source, what it cannot make into the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from rulegen.importers.queries import QueryError, ratio_selectors, read_counter_query
from rulegen.importers.source import Source
from rulegen.importers.testlabels import find_test_labels
from rulegen.loader import Loc
from rulegen.resolve.labels import is_reserved

__all__ = ["objective_percent", "ratio_sli", "spec_labels"]

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def spec_labels(source: Source, loc: Loc, labels: Mapping[str, str]) -> dict[str, str]:
    """The labels written at ``loc`` that a spec accepts; each other one is reported."""
    out = {}
    for name, value in labels.items():
        if not _LABEL_NAME.match(name):
            source.lost(
                (*loc, name),
                f"'{name}' is not a Prometheus label name (letters, digits and '_', not "
                "starting with a digit): the label is left out",
            )
        elif is_reserved(name):
            source.lost(
                (*loc, name),
                f"agent-slo sets the label '{name}' itself: this label is left out",
            )
        else:
            out[name] = value
    return out


def objective_percent(
    source: Source, loc: Loc, value: Any, scale: int, left_out: str
) -> Decimal | None:
    """The objective written at ``loc`` (a ratio when ``scale`` is 100, else a percentage)
    as a percentage strictly between 0 and 100, or ``None`` after reporting why not."""
    try:
        if isinstance(value, bool) or value is None:
            raise InvalidOperation
        percent = (Decimal(str(value)) * scale).normalize()
    except InvalidOperation:
        source.lost(loc, f"expected a number, found {value!r}{left_out}")
        return None
    if percent >= 100:
        source.lost(loc, f"an objective of {percent}% leaves no error budget to alert on{left_out}")
        return None
    if percent <= 0:
        source.lost(loc, f"an objective of {percent}% is not above 0{left_out}")
        return None
    return percent


def ratio_sli(
    source: Source, numerator: tuple[str, Loc, str], total: tuple[Loc, str], left_out: str
) -> dict[str, Any] | None:
    """``sli.ratio`` from a numerator query (``(kind, loc, query)``, kind ``errors`` or
    ``good``) and a total query (``(loc, query)``), with ``test_labels`` where the
    selectors need them; ``None`` after reporting a query that does not carry over."""
    kind, num_loc, num_query = numerator
    total_loc, total_query = total
    read = {}
    for loc, query in ((num_loc, num_query), (total_loc, total_query)):
        try:
            read[loc] = read_counter_query(query)
        except QueryError as exc:
            source.lost(
                loc,
                f"not the summed rate of one counter ({exc}): agent-slo counts the increases "
                f"of counter selectors{left_out}",
            )
    if len(read) != 2:
        return None
    try:
        ratio_kind, selector, total_selector = ratio_selectors(kind, read[num_loc], read[total_loc])
    except QueryError as exc:
        source.lost(num_loc, f"{exc}{left_out}")
        return None
    if ratio_kind != kind:
        source.note(
            num_loc,
            f"{kind} = total − {ratio_kind}: carried over as sli.ratio.{ratio_kind} "
            f"{selector.render()}",
        )
    sli: dict[str, Any] = {ratio_kind: selector.render(), "total": total_selector.render()}
    examples = find_test_labels(ratio_kind, selector, total_selector)
    if examples is None:
        source.note(
            num_loc,
            "no label values found that match the selectors: give sli.ratio.test_labels, or "
            "`agent-slo generate` writes no promtool test for this SLO",
        )
    elif examples:
        sli["test_labels"] = examples
    return sli
