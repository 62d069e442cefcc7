"""Charts drawn on the server as SVG: the page needs no script to show them, and the
Content-Security-Policy allows no inline style (every look is a class in the stylesheet).

A chart is lines of ``(unix time, value)`` points and horizontal rules (thresholds), on a
time axis and a value axis, each series with a ``<title>`` read by screen readers and shown
on hover.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Final

from markupsafe import Markup

__all__ = ["Line", "Rule", "line_chart"]

WIDTH: Final = 640
HEIGHT: Final = 200
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 12, 10, 24


@dataclass(frozen=True)
class Line:
    """A series drawn as a line, in the stylesheet's class ``css``."""

    label: str
    points: Sequence[tuple[float, float]]
    css: str


@dataclass(frozen=True)
class Rule:
    """A horizontal rule at ``value`` (a threshold), labelled at its right end."""

    label: str
    value: float
    css: str


def line_chart(
    title: str,
    lines: Sequence[Line],
    rules: Sequence[Rule] = (),
    *,
    start: float,
    end: float,
    floor: float = 0.0,
    ceiling: float | None = None,
) -> Markup | None:
    """An SVG of ``lines`` from Unix time ``start`` to ``end``, values as percentages;
    ``None`` when no line has a point (the page says "no data yet" instead of a flat 0)."""
    if not any(line.points for line in lines) or end <= start:
        return None
    values = [v for line in lines for _, v in line.points] + [r.value for r in rules]
    low = min([floor, *values])
    high = max([*values, low + 1e-9]) if ceiling is None else max([ceiling, *values])
    if high - low < 1e-9:
        high = low + 1.0
    inner_w, inner_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM

    def x(t: float) -> float:
        return _LEFT + inner_w * (t - start) / (end - start)

    def y(v: float) -> float:
        return _TOP + inner_h * (high - v) / (high - low)

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for v in _ticks(low, high):
        parts.append(
            f'<line class="grid" x1="{_LEFT}" x2="{WIDTH - _RIGHT}" '
            f'y1="{y(v):.1f}" y2="{y(v):.1f}"/>'
            f'<text class="tick" x="{_LEFT - 4}" y="{y(v) + 4:.1f}" '
            f'text-anchor="end">{_pct(v)}</text>'
        )
    for t, anchor in ((start, "start"), ((start + end) / 2, "middle"), (end, "end")):
        parts.append(
            f'<text class="tick" x="{x(t):.1f}" y="{HEIGHT - 6}" '
            f'text-anchor="{anchor}">{_when(t, end - start)}</text>'
        )
    for rule in rules:
        parts.append(
            f'<line class="rule {escape(rule.css)}" x1="{_LEFT}" x2="{WIDTH - _RIGHT}" '
            f'y1="{y(rule.value):.1f}" y2="{y(rule.value):.1f}">'
            f"<title>{escape(rule.label)}: {_pct(rule.value)}</title></line>"
            f'<text class="rule-label" x="{WIDTH - _RIGHT - 2}" y="{y(rule.value) - 3:.1f}" '
            f'text-anchor="end">{escape(rule.label)}</text>'
        )
    for line in lines:
        if not line.points:
            continue
        path = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in line.points)
        t_last, last = line.points[-1]
        label = f"<title>{escape(line.label)}: {_pct(last)} now</title>"
        parts.append(
            f'<polyline class="line {escape(line.css)}" points="{path}">{label}</polyline>'
            f'<circle class="dot {escape(line.css)}" cx="{x(t_last):.1f}" cy="{y(last):.1f}" '
            f'r="3">{label}</circle>'
        )
    for i, line in enumerate(lines if len(lines) > 1 else ()):  # a legend where it is needed
        left = _LEFT + 8 + i * 150
        parts.append(
            f'<line class="line {escape(line.css)}" x1="{left}" x2="{left + 16}" '
            f'y1="{_TOP + 6}" y2="{_TOP + 6}"/>'
            f'<text class="tick" x="{left + 20}" y="{_TOP + 10}">{escape(line.label)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above is escaped


def _ticks(low: float, high: float) -> list[float]:
    """Three to five round values between ``low`` and ``high``."""
    span = high - low
    step = 10 ** _floor_log10(span / 4)
    for factor in (1, 2, 2.5, 5, 10):
        if span / (step * factor) <= 5:
            step *= factor
            break
    first = -(-low // step) * step
    out, v = [], first
    while v <= high + step * 1e-9:
        out.append(round(v, 12))
        v += step
    return out


def _floor_log10(value: float) -> int:
    exponent = 0
    while value >= 10:
        value /= 10
        exponent += 1
    while value < 1:
        value *= 10
        exponent -= 1
    return exponent


def _pct(value: float) -> str:
    text = f"{value * 100:.2f}".rstrip("0").rstrip(".")
    return f"{text}%"


def _when(t: float, span: float) -> str:
    """A tick's time: the day for spans over two days, the hour and minute otherwise."""
    moment = dt.datetime.fromtimestamp(t, dt.UTC)
    return moment.strftime("%m-%d" if span > 2 * 86_400 else "%H:%M")
