"""Property-based fuzzing of the outcomes endpoint's parser: errors, never tracebacks."""

from __future__ import annotations

import json
from typing import Any

import pytest
from exporters import TRIAGE, catalog_of, serving
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.events import Event, EventError, EventParser, parse_body

CATALOG = catalog_of(TRIAGE)

values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        st.text(max_size=20),
        st.sampled_from(["triage", "success", "rejected", "model", "unknown", "other"]),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(
                st.text(max_size=10),
                st.sampled_from(["workflow", "outcome", "dimensions", "count", "id", "model"]),
            ),
            children,
            max_size=6,
        ),
    ),
    max_leaves=20,
)


def _check(body: bytes) -> None:
    try:
        events = parse_body(body, CATALOG)
    except EventError as exc:
        assert exc.reason
        assert exc.kind
        return
    for event in events:
        assert event.workflow in CATALOG.workflows
        assert event.outcome in CATALOG.workflows[event.workflow].outcomes
        assert 1 <= event.count <= 1_000_000
        assert [name for name, _ in event.dimensions] == ["model"]
        for _, value in event.dimensions:
            assert value and '"' not in value and "\n" not in value


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes(body: bytes) -> None:
    """Arbitrary bytes are refused with a reason or parsed into checked events."""
    _check(body)


@settings(max_examples=500, deadline=None)
@given(values)
def test_any_json(value: Any) -> None:
    """Arbitrary JSON is refused with a reason or parsed into checked events."""
    _check(json.dumps(value).encode())


@settings(max_examples=500, deadline=None)
@given(
    st.fixed_dictionaries(
        {"workflow": st.just("triage"), "outcome": st.sampled_from(["success", "rejected"])},
        optional={
            "dimensions": values,
            "count": values,
            "duration_seconds": values,
            "id": values,
        },
    )
)
def test_near_valid_events(event: dict[str, Any]) -> None:
    """Events that are nearly right never slip a bad value through."""
    _check(json.dumps(event).encode())


def _outcome(parse: Any, body: bytes) -> list[Event] | tuple[str, str, str, int]:
    try:
        result: list[Event] = parse(body)
    except EventError as exc:
        return exc.field, exc.kind, exc.reason, exc.events
    return result


near: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(["m1", "1", "other", "unknown", "", 'a"b', "x" * 129]),
    st.sampled_from([1, 1.0, True, None, [], {}]),
)


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from(["success", "rejected", "ghost", 1]),
    st.one_of(st.none(), st.dictionaries(st.sampled_from(["model", "region"]), near, max_size=2)),
    st.dictionaries(
        st.sampled_from(["count", "duration_seconds", "id", "colour", "dimensions"]),
        values,
        max_size=3,
    ),
    st.booleans(),
)
def test_a_remembered_event_is_checked_as_a_new_one(
    outcome: Any, dimensions: dict[str, Any] | None, extra: dict[str, Any], batch: bool
) -> None:
    """A parser that has already seen an event's workflow, outcome and dimensions (valid
    or not) answers exactly as a fresh parse does: the same events, or the same field,
    reason and size of refusal, whatever the count, duration, id or stray fields."""
    base: dict[str, Any] = {"workflow": "triage", "outcome": outcome}
    if dimensions is not None:
        base["dimensions"] = dimensions
    parser = EventParser(CATALOG)
    _outcome(parser.body, json.dumps(base).encode())  # remembered if valid
    item = {**base, **extra}
    body = json.dumps([item, base] if batch else item).encode()
    expected = _outcome(lambda b: parse_body(b, CATALOG), body)
    assert _outcome(parser.body, body) == expected
    assert _outcome(parser.body, body) == expected  # and once more, itself remembered


def test_a_remembered_event_keeps_its_own_count_duration_and_id() -> None:
    """The second of two events with the same workflow, outcome and dimensions (taken from
    memory) carries its own count, duration and id, and the first one's dimensions."""
    parser = EventParser(CATALOG)
    first, second = parser.body(
        b'[{"workflow":"triage","outcome":"success","dimensions":{"model":"m1"}},'
        b'{"workflow":"triage","outcome":"success","dimensions":{"model":"m1"},'
        b'"count":3,"duration_seconds":2.5,"id":"a"}]'
    )
    assert first == Event("triage", "success", (("model", "m1"),), 1, None, None)
    assert second == Event("triage", "success", (("model", "m1"),), 3, 2.5, "a")
    with pytest.raises(EventError, match="between 1 and") as refused:
        parser.body(
            b'{"workflow":"triage","outcome":"success","dimensions":{"model":"m1"},"count":0}'
        )
    assert (refused.value.field, refused.value.kind) == ("count", "bad_count")


def test_endpoint_over_http(tmp_path_factory: Any) -> None:
    """Random bodies posted to a live exporter get 200 or a 4xx with a JSON reason, never a
    5xx, and a refused request moves no counter."""
    import urllib.error  # noqa: PLC0415 - only this test serves
    import urllib.request  # noqa: PLC0415

    from exporter.store import Store  # noqa: PLC0415

    store = Store(tmp_path_factory.mktemp("fuzz") / "state.db", CATALOG)

    def total() -> int:
        return sum(store.snapshot().counters.values())

    @settings(max_examples=200, deadline=None)
    @given(st.one_of(st.binary(max_size=200), values.map(lambda v: json.dumps(v).encode())))
    def post(body: bytes) -> None:
        before = total()
        request = urllib.request.Request(f"{url}/v1/outcomes", data=body, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                assert json.loads(response.read())["accepted"] >= 1
        except urllib.error.HTTPError as exc:
            with exc:
                assert 400 <= exc.code < 500, exc.code
                assert json.loads(exc.read())["error"]
            assert total() == before, "a refused request moved a counter"

    try:
        with serving(store) as url:
            post()
    finally:
        store.close()
