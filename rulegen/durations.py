"""Prometheus-style durations (``5m``, ``1h30m``, ``28d``, ``4w``) in seconds or milliseconds."""

from __future__ import annotations

import re

__all__ = ["format_duration", "format_duration_ms", "parse_duration", "parse_duration_ms"]

_UNITS_MS = {"w": 604_800_000, "d": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1_000, "ms": 1}
_ORDER = ("w", "d", "h", "m", "s", "ms")
_DURATION = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")


def parse_duration(text: str) -> int:
    """Parse a Prometheus duration into whole seconds; raise ``ValueError`` on anything else."""
    ms = parse_duration_ms(text)
    if ms % 1000:
        raise ValueError(f"duration {text!r} is not a whole number of seconds")
    return ms // 1000


def parse_duration_ms(text: str) -> int:
    """Parse a Prometheus duration into milliseconds; raise ``ValueError`` on anything else."""
    match = _DURATION.match(text)
    if not text or match is None or not any(match.groups()):
        raise ValueError(
            f"invalid duration {text!r}: expected a number and unit such as 5m, 1h, 28d or 4w"
        )
    total = sum(int(v) * _UNITS_MS[u] for u, v in zip(_ORDER, match.groups(), strict=True) if v)
    if total <= 0:
        raise ValueError(f"invalid duration {text!r}: must be greater than zero")
    return total


def format_duration(seconds: int) -> str:
    """Format whole seconds the way Prometheus prints durations (``90`` → ``1m30s``)."""
    return format_duration_ms(seconds * 1000)


def format_duration_ms(milliseconds: int) -> str:
    """Format milliseconds as a Prometheus duration, largest units first; weeks are not used."""
    if milliseconds <= 0:
        raise ValueError(f"duration must be positive, got {milliseconds} ms")
    parts: list[str] = []
    rest = milliseconds
    for unit in ("d", "h", "m", "s", "ms"):
        size = _UNITS_MS[unit]
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
