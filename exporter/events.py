"""Outcome events: parsing and checking what agents send, before anything is counted.

Pure functions, no I/O. A request body is either one event (a JSON object) or a batch (a
JSON array); a batch is accepted whole or refused whole, with the first problem found named
by its field (``events[3].outcome``) and a reason a client can act on.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from exporter.catalog import OTHER, UNKNOWN, Catalog

__all__ = [
    "MAX_BATCH",
    "MAX_COUNT",
    "Event",
    "EventError",
    "parse_body",
]

#: The most events one request may carry.
MAX_BATCH: Final = 10_000
#: The largest ``count`` of one event: bigger is a bug in the sender, not a burst.
MAX_COUNT: Final = 1_000_000
MAX_DURATION: Final = 30 * 86_400.0
MAX_ID: Final = 200
MAX_VALUE: Final = 128
#: Characters a label value may not hold: quotes, backslashes, control characters.
_UNSAFE: Final = re.compile(r'[\x00-\x1f"\\\x7f]')
#: UTF-16 surrogates, which no UTF-8 text (nor SQLite) can hold alone.
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_FIELDS: Final = frozenset({"workflow", "outcome", "dimensions", "count", "duration_seconds", "id"})


class EventError(ValueError):
    """A request that cannot be applied: ``field`` names what is wrong, ``reason`` why."""

    def __init__(self, field: str, reason: str, kind: str) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason
        self.kind = kind  # a short, stable word for the rejected-events metric
        self.events = 1  # how many events the refusal covers (a whole batch)


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


def parse_body(body: bytes, catalog: Catalog) -> list[Event]:
    """Parse and check a request body: one event object or an array of them."""
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
    if isinstance(data, dict):
        return [_event(data, "", catalog)]
    if isinstance(data, list):
        if not data:
            raise EventError("", "the batch is empty", "empty_batch")
        if len(data) > MAX_BATCH:
            raise EventError("", f"a batch holds at most {MAX_BATCH} events", "batch_too_large")
        try:
            return [_event(item, f"events[{i}]", catalog) for i, item in enumerate(data)]
        except EventError as exc:
            exc.events = len(data)  # a batch is refused whole
            raise
    raise EventError("", "expected an event (JSON object) or a batch (JSON array)", "bad_type")


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
    where = prefix or "event"
    if not isinstance(item, dict):
        raise EventError(where, "expected a JSON object", "bad_type")
    unknown = sorted(set(item) - _FIELDS)
    if unknown:
        raise EventError(
            _field(prefix, unknown[0]),
            f"unknown field (expected: {', '.join(sorted(_FIELDS))}; dimensions go under "
            "'dimensions')",
            "unknown_field",
        )
    workflow = _string(item, "workflow", prefix, required=True)
    assert workflow is not None
    spec = catalog.workflows.get(workflow)
    if spec is None:
        raise EventError(
            _field(prefix, "workflow"),
            f"unknown workflow {workflow!r} (known: {', '.join(sorted(catalog.workflows))})",
            "unknown_workflow",
        )
    outcome = _string(item, "outcome", prefix, required=True)
    assert outcome is not None
    if outcome not in spec.outcomes:
        raise EventError(
            _field(prefix, "outcome"),
            f"unknown outcome {outcome!r} for workflow {workflow!r} "
            f"(known: {', '.join(sorted(spec.outcomes))})",
            "unknown_outcome",
        )
    dimensions = _dimensions(item.get("dimensions"), prefix, spec.dimensions, workflow)
    count = _count(item.get("count", 1), _field(prefix, "count"))
    duration = _duration(item.get("duration_seconds"), _field(prefix, "duration_seconds"))
    event_id = _string(item, "id", prefix, required=False, limit=MAX_ID)
    return Event(workflow, outcome, dimensions, count, duration, event_id)


def _string(
    item: Mapping[str, Any], name: str, prefix: str, *, required: bool, limit: int = MAX_VALUE
) -> str | None:
    value = item.get(name)
    field = _field(prefix, name)
    if value is None:
        if required:
            raise EventError(field, "required field is missing", "missing_field")
        return None
    if not isinstance(value, str):
        raise EventError(field, f"expected a string, got {_json_type(value)}", "bad_type")
    _check_text(value, field, limit)
    return value


def _check_text(value: str, field: str, limit: int) -> None:
    if not value:
        raise EventError(field, "must not be empty", "bad_value")
    if len(value) > limit:
        raise EventError(field, f"longer than {limit} characters", "bad_value")
    surrogate = _SURROGATE.search(value)
    if surrogate is not None:
        raise EventError(
            field,
            f"must be valid Unicode: holds the lone surrogate \\u{ord(surrogate[0]):04x} (a "
            "lone JSON escape, or text decoded from bytes that are not UTF-8)",
            "bad_value",
        )
    if _UNSAFE.search(value) is not None:
        raise EventError(
            field, "must not contain quotes, backslashes or control characters", "bad_value"
        )


def _dimensions(
    value: Any, prefix: str, declared: tuple[str, ...], workflow: str
) -> tuple[tuple[str, str], ...]:
    field = _field(prefix, "dimensions")
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise EventError(field, f"expected a JSON object, got {_json_type(value)}", "bad_type")
    for name in sorted(value):
        if name not in declared:
            known = ", ".join(declared) or "none"
            raise EventError(
                f"{field}.{name}",
                f"dimension {name!r} is not declared for workflow {workflow!r} (declared: {known})",
                "undeclared_dimension",
            )
        raw = value[name]
        if not isinstance(raw, str):
            raise EventError(
                f"{field}.{name}", f"expected a string, got {_json_type(raw)}", "bad_type"
            )
        _check_text(raw, f"{field}.{name}", MAX_VALUE)
        if raw in (OTHER,):
            raise EventError(f"{field}.{name}", f"{raw!r} is reserved by the exporter", "bad_value")
    return tuple((name, value.get(name, UNKNOWN)) for name in declared)


def _count(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EventError(field, f"expected a whole number, got {_json_type(value)}", "bad_type")
    if isinstance(value, float) and (not math.isfinite(value) or value != int(value)):
        raise EventError(field, f"expected a whole number, got {value!r}", "bad_count")
    count = int(value)
    if count < 1 or count > MAX_COUNT:
        raise EventError(field, f"must be between 1 and {MAX_COUNT}, got {value}", "bad_count")
    return count


def _duration(value: Any, field: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EventError(
            field, f"expected a number of seconds, got {_json_type(value)}", "bad_type"
        )
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0 or seconds > MAX_DURATION:
        raise EventError(
            field,
            f"must be between 0 and {MAX_DURATION:.0f} seconds, got {value!r}",
            "bad_duration",
        )
    return seconds


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
