"""The client checks events with the exporter's own rules: whatever an agent passes, the
check at ``record()`` and the exporter's answer agree, and a batch taken event by event
(``?partial=1``) keeps exactly the events a whole-batch parse would accept."""

from __future__ import annotations

import json
from typing import Any

from exporters import TRIAGE, catalog_of
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.events import EventError, parse_body, parse_each
from exporter.wire import check_fields

CATALOG = catalog_of(TRIAGE)
#: Checks that need the specs: the only refusals the client cannot make itself (with the
#: value "other", which the specs' cardinality caps reserve).
CATALOG_KINDS = {"unknown_workflow", "unknown_outcome", "undeclared_dimension"}

text = st.one_of(
    st.sampled_from(["triage", "success", "ghost", "m1", "other", "", 'a"b', "x\udc80"]),
    st.text(max_size=6),
    st.text(min_size=127, max_size=130, alphabet="ab"),
)
value = st.one_of(st.none(), st.booleans(), st.integers(-2, 3), st.floats(allow_nan=True), text)
events = st.fixed_dictionaries(
    {"workflow": st.one_of(text, value), "outcome": st.one_of(text, value)},
    optional={
        "dimensions": st.one_of(
            value, st.dictionaries(st.sampled_from(["model", "region"]), value, max_size=2)
        ),
        "count": value,
        "duration_seconds": value,
        "id": value,
        "colour": text,
    },
)


def _refusal(item: Any) -> tuple[str, str] | None:
    try:
        parse_body(
            json.dumps([item, {"workflow": "triage", "outcome": "success"}]).encode(), CATALOG
        )
    except EventError as exc:
        return exc.field, exc.kind
    return None


@settings(max_examples=300, deadline=None)
@given(events)
def test_the_clients_check_and_the_exporter_agree(item: dict[str, Any]) -> None:
    """An event the client refuses, the exporter refuses at the same field for the same
    reason; an event the client passes, the exporter refuses only for what its specs say."""
    try:
        json.dumps(item, allow_nan=False)
    except ValueError:  # NaN cannot be sent as JSON: the client refuses it as a duration
        return
    try:
        check_fields(item)
    except EventError as exc:
        assert _refusal(item) == (f"events[0].{exc.field}", exc.kind)
        return
    refused = _refusal(item)
    if refused is not None and refused[1] not in CATALOG_KINDS:
        name = refused[0].removeprefix("events[0].dimensions.")
        assert refused[1] == "bad_value"
        assert item["dimensions"][name] == "other"


@settings(max_examples=200, deadline=None)
@given(st.lists(events, min_size=1, max_size=5))
def test_a_partial_batch_keeps_what_a_whole_batch_would_accept(batch: list[Any]) -> None:
    """parse_each refuses an event exactly when parse_body would refuse it on its own,
    naming the same field, and keeps the others in order."""
    try:
        body = json.dumps(batch, allow_nan=False).encode()
    except ValueError:
        return
    parsed = parse_each(body, CATALOG)
    kept, refused = [], []
    for i, item in enumerate(batch):
        try:
            kept.extend(parse_body(json.dumps(item).encode(), CATALOG))
        except EventError as exc:
            refused.append((i, f"events[{i}].{exc.field}", exc.kind))
    assert [(i, e.field, e.kind) for i, e in parsed.refused] == refused
    assert parsed.events == kept
    assert sorted([*parsed.positions, *(i for i, _ in parsed.refused)]) == list(range(len(batch)))
