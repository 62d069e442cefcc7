"""Numbers as the rules, alerts, dashboards and messages write them: exact decimals without
exponent or float noise (``0.0144``, ``30``), and percentages of ratios (``1.44%``)."""

from __future__ import annotations

from decimal import Decimal

__all__ = ["number", "percent"]


def number(value: Decimal | int) -> str:
    """A number as PromQL reads it, without exponent or float noise: ``0.0144``, ``30``."""
    return format(Decimal(value).normalize(), "f")


def percent(ratio: Decimal) -> str:
    """A ratio as a percentage, exactly: ``0.0144`` → ``1.44%``."""
    return number(ratio * 100) + "%"
