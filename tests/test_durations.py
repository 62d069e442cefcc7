"""Prometheus durations: parsing and formatting."""

from __future__ import annotations

import pytest

from rulegen.durations import format_duration, format_duration_ms, parse_duration, parse_duration_ms


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5m", 300), ("1h30m", 5400), ("28d", 2_419_200), ("4w", 2_419_200), ("90s", 90)],
)
def test_parse(text: str, seconds: int) -> None:
    """Durations parse to seconds, units combined largest first."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "5x", "m5", "1m1h", "0m", "-5m", "1.5h"])
def test_parse_rejects(text: str) -> None:
    """Anything that is not a positive Prometheus duration is a ValueError."""
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_sub_second_needs_milliseconds() -> None:
    """1500ms is 1.5 s: valid in milliseconds, not as whole seconds."""
    assert parse_duration_ms("1500ms") == 1500
    with pytest.raises(ValueError, match="whole number of seconds"):
        parse_duration("1500ms")


def test_format() -> None:
    """Formatting uses days at most and drops zero units."""
    assert format_duration(30 * 86_400) == "30d"
    assert format_duration(5400) == "1h30m"
    assert format_duration_ms(6 * 3_600_000 - 1) == "5h59m59s999ms"
