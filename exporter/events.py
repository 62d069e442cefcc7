"""Outcome events: parsing what agents send and checking it against the catalog, before
anything is counted.

No I/O. A request body is either one event (a JSON object) or a batch (a JSON array).
:func:`parse_body` takes a batch whole or refuses it whole, naming the first problem by its
field (``events[3].outcome``); :func:`parse_each` (a request with ``?partial=1``) keeps the
valid events of a batch and names each refused one. The checks that need no catalog live in
:mod:`exporter.wire`, shared with the agents' client.

An :class:`EventParser` does the same and remembers, up to a bound, each (workflow,
outcome, dimensions) it has found valid: agents send the same few again and again, and an
event that repeats one has only its count, duration and id left to check. Its answers are
those of the functions, event for event and error for error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from exporter.catalog import OTHER, UNKNOWN, Catalog
from exporter.wire import FIELDS, MAX_BATCH, MAX_COUNT, EventError, check_fields, check_tallies

__all__ = [
    "MAX_BATCH",
    "MAX_COUNT",
    "Event",
    "EventError",
    "EventParser",
    "Parsed",
    "parse_body",
    "parse_each",
]


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


@dataclass(frozen=True)
class Event:
    """One checked event: ``count`` runs of ``workflow`` ended in ``outcome``."""

    workflow: str
    outcome: str
    dimensions: tuple[tuple[str, str], ...]  # every declared dimension, in declared order
    count: int
    duration_seconds: float | None
    id: str | None


@dataclass(frozen=True)
class Parsed:
    """A batch taken event by event: the valid events, and each refused one by its index."""

    events: list[Event]
    refused: list[tuple[int, EventError]]
    positions: list[int]  # where each of ``events`` stands in the batch


def parse_body(body: bytes, catalog: Catalog) -> list[Event]:
    """Parse and check a request body: one event object or an array of them, all valid."""
    return EventParser(catalog).body(body)


def parse_each(body: bytes, catalog: Catalog) -> Parsed:
    """Parse a request body event by event: a batch's invalid events are refused alone.
    A body that is no batch of events at all (malformed JSON, an empty or oversized array)
    is still refused whole, and a single event object is taken as :func:`parse_body` does."""
    return EventParser(catalog).each(body)


_Known = tuple[Any, Any, tuple[tuple[Any, Any], ...]]  # workflow, outcome, dimensions as sent


class EventParser:
    """:func:`parse_body` and :func:`parse_each` for one catalog, remembering at most
    ``size`` (workflow, outcome, dimensions) found valid (then it starts afresh).

    Safe to share between threads: a lookup sees an entry or not, and an entry, once in,
    is never wrong (the catalog does not change). A hit needs every part equal to a
    remembered string, and JSON gives nothing but a string that equals one."""

    def __init__(self, catalog: Catalog, size: int = 4096) -> None:
        self.catalog = catalog
        self.size = size
        self._known: dict[_Known, tuple[tuple[str, str], ...]] = {}

    def body(self, body: bytes) -> list[Event]:
        """See :func:`parse_body`."""
        data = _decode(body)
        if isinstance(data, dict):
            return [self._event(data, "")]
        _check_batch(data)
        try:
            return [self._event(item, f"events[{i}]") for i, item in enumerate(data)]
        except EventError as exc:
            exc.events = len(data)  # a batch is refused whole
            raise

    def each(self, body: bytes) -> Parsed:
        """See :func:`parse_each`."""
        data = _decode(body)
        if isinstance(data, dict):
            return Parsed([self._event(data, "")], [], [0])
        _check_batch(data)
        parsed = Parsed([], [], [])
        for i, item in enumerate(data):
            try:
                parsed.events.append(self._event(item, f"events[{i}]"))
                parsed.positions.append(i)
            except EventError as exc:
                parsed.refused.append((i, exc))
        return parsed

    def _event(self, item: Any, prefix: str) -> Event:
        key = _known_key(item)
        if key is not None:
            dimensions = self._known.get(key)
            # Every field is one of FIELDS, and workflow, outcome and dimensions are those
            # of an event found valid: only count, duration and id are left to check, in
            # the order check_fields checks them, so the first error is the same.
            if dimensions is not None and item.keys() <= FIELDS:
                return Event(key[0], key[1], dimensions, *check_tallies(item, prefix))
        event = _event(item, prefix, self.catalog)
        if key is not None:
            if len(self._known) >= self.size:
                self._known.clear()
            self._known[key] = event.dimensions
        return event


def _known_key(item: Any) -> _Known | None:
    """What an event is remembered by, or None if it cannot be (not an object, unhashable
    parts: such an event takes the whole check)."""
    if type(item) is not dict:
        return None
    given = item.get("dimensions")
    if given is None:
        dimensions: tuple[tuple[Any, Any], ...] = ()
    elif type(given) is dict:
        dimensions = tuple(given.items())
    else:
        return None
    key = (item.get("workflow"), item.get("outcome"), dimensions)
    try:
        hash(key)
    except TypeError:  # a list or an object where a string belongs
        return None
    return key


def _decode(body: bytes) -> Any:
    try:
        data = _DECODER.decode(body.decode("utf-8"))
    except _DuplicateKeyError as exc:
        raise EventError(
            exc.key, "appears twice in one object (which one counts is ambiguous)", "duplicate_key"
        ) from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EventError("", f"body is not valid JSON: {exc}", "malformed_json") from exc
    except ValueError as exc:  # NaN or Infinity
        raise EventError("", str(exc), "malformed_json") from exc
    except RecursionError as exc:
        raise EventError("", "body is nested too deeply", "malformed_json") from exc
    if not isinstance(data, dict | list):
        raise EventError("", "expected an event (JSON object) or a batch (JSON array)", "bad_type")
    return data


def _check_batch(data: list[Any]) -> None:
    if not data:
        raise EventError("", "the batch is empty", "empty_batch")
    if len(data) > MAX_BATCH:
        error = EventError("", f"a batch holds at most {MAX_BATCH} events", "batch_too_large")
        error.events = len(data)
        raise error


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKeyError(key)
            seen.add(key)
    return obj


def _reject_constant(name: str) -> Any:
    raise ValueError(f"body holds {name}, which is not a number")


_DECODER: Final = json.JSONDecoder(parse_constant=_reject_constant, object_pairs_hook=_unique_keys)


def _field(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _event(item: Any, prefix: str, catalog: Catalog) -> Event:
    fields = check_fields(item, prefix)
    spec = catalog.workflows.get(fields.workflow)
    if spec is None:
        raise EventError(
            _field(prefix, "workflow"),
            f"unknown workflow {fields.workflow!r} (known: {', '.join(sorted(catalog.workflows))})",
            "unknown_workflow",
        )
    if fields.outcome not in spec.outcomes:
        raise EventError(
            _field(prefix, "outcome"),
            f"unknown outcome {fields.outcome!r} for workflow {fields.workflow!r} "
            f"(known: {', '.join(sorted(spec.outcomes))})",
            "unknown_outcome",
        )
    given = fields.dimensions
    for name in sorted(given):
        where = f"{_field(prefix, 'dimensions')}.{name}"
        if name not in spec.dimensions:
            known = ", ".join(spec.dimensions) or "none"
            raise EventError(
                where,
                f"dimension {name!r} is not declared for workflow {fields.workflow!r} "
                f"(declared: {known})",
                "undeclared_dimension",
            )
        if given[name] == OTHER:
            raise EventError(where, f"{OTHER!r} is reserved by the exporter", "bad_value")
    dimensions = tuple((name, given.get(name, UNKNOWN)) for name in spec.dimensions)
    duration = fields.duration_seconds
    return Event(fields.workflow, fields.outcome, dimensions, fields.count, duration, fields.id)
