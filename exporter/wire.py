"""An outcome event as agents send it: its fields, their limits, and every check that needs
no catalog of workflows.

Standard library only, so that the agents' client (:mod:`exporter.client`) checks an event
before queueing it with exactly the rules the exporter applies on arrival: a mistake is
reported at the ``record()`` call that made it, with the field and reason the exporter
would give. What needs the specs (is the workflow known, the outcome one of its outcomes,
the dimension declared) is checked by the exporter alone (:mod:`exporter.events`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "FIELDS",
    "MAX_BATCH",
    "MAX_COUNT",
    "MAX_DURATION",
    "MAX_ID",
    "MAX_VALUE",
    "EventError",
    "Fields",
    "check_fields",
    "check_tallies",
    "json_type",
]

#: The most events one request may carry.
MAX_BATCH: Final = 10_000
#: The largest ``count`` of one event: bigger is a bug in the sender, not a burst.
MAX_COUNT: Final = 1_000_000
#: The longest run, in seconds: longer is a unit mistake (milliseconds sent as seconds).
MAX_DURATION: Final = 30 * 86_400.0
#: The longest idempotency key, in characters.
MAX_ID: Final = 200
#: The longest workflow, outcome or dimension value, in characters.
MAX_VALUE: Final = 128
#: The fields an event may have.
FIELDS: Final = frozenset({"workflow", "outcome", "dimensions", "count", "duration_seconds", "id"})
#: Characters a label value may not hold: quotes, backslashes, control characters.
_UNSAFE: Final = re.compile(r'[\x00-\x1f"\\\x7f]')
#: UTF-16 surrogates, which no UTF-8 text (nor SQLite) can hold alone.
_SURROGATE: Final = re.compile("[\ud800-\udfff]")


class EventError(ValueError):
    """An event (or a request) that cannot be applied: ``field`` names what is wrong,
    ``reason`` says why, ``kind`` is the short stable word the exporter counts it under in
    ``agent_slo_exporter_rejected_events_total``."""

    def __init__(self, field: str, reason: str, kind: str) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason
        self.kind = kind
        self.events = 1  # how many events the refusal covers (a whole batch)


@dataclass(frozen=True, slots=True)
class Fields:
    """An event whose fields have the right types, values and lengths; nothing is known yet
    of whether the exporter's specs declare its workflow, outcome and dimensions."""

    workflow: str
    outcome: str
    dimensions: Mapping[str, str]
    count: int
    duration_seconds: float | None
    id: str | None


def check_fields(item: Any, prefix: str = "") -> Fields:
    """Check one event (a decoded JSON object) without a catalog; raise :class:`EventError`
    naming the first field at fault (``prefix`` comes first, e.g. ``events[3]``)."""
    if not isinstance(item, dict):
        raise EventError(prefix or "event", "expected a JSON object", "bad_type")
    unknown = sorted(set(item) - FIELDS)
    if unknown:
        raise EventError(
            _field(prefix, unknown[0]),
            f"unknown field (expected: {', '.join(sorted(FIELDS))}; dimensions go under "
            "'dimensions')",
            "unknown_field",
        )
    workflow = _string(item, "workflow", prefix, required=True)
    outcome = _string(item, "outcome", prefix, required=True)
    assert workflow is not None
    assert outcome is not None
    dimensions = _dimensions(item.get("dimensions"), _field(prefix, "dimensions"))
    return Fields(workflow, outcome, dimensions, *check_tallies(item, prefix))


def check_tallies(
    item: Mapping[str, Any], prefix: str = ""
) -> tuple[int, float | None, str | None]:
    """Check an event's ``count``, ``duration_seconds`` and ``id`` (in that order, the order
    :func:`check_fields` follows after the other fields), for a caller that knows the
    workflow, outcome and dimensions to be valid already."""
    return (
        _count(item.get("count", 1), _field(prefix, "count")),
        _duration(item.get("duration_seconds"), _field(prefix, "duration_seconds")),
        _string(item, "id", prefix, required=False, limit=MAX_ID),
    )


def _field(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


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
        raise EventError(field, f"expected a string, got {json_type(value)}", "bad_type")
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


def _dimensions(value: Any, field: str) -> Mapping[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise EventError(field, f"expected a JSON object, got {json_type(value)}", "bad_type")
    for name in sorted(value):
        raw = value[name]
        if not isinstance(raw, str):
            raise EventError(
                f"{field}.{name}", f"expected a string, got {json_type(raw)}", "bad_type"
            )
        _check_text(raw, f"{field}.{name}", MAX_VALUE)
    return value


def _count(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EventError(field, f"expected a whole number, got {json_type(value)}", "bad_type")
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
        raise EventError(field, f"expected a number of seconds, got {json_type(value)}", "bad_type")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0 or seconds > MAX_DURATION:
        raise EventError(
            field,
            f"must be between 0 and {MAX_DURATION:.0f} seconds, got {value!r}",
            "bad_duration",
        )
    return seconds


def json_type(value: Any) -> str:
    """How JSON would name ``value``'s type, for error messages."""
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
