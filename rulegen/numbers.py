"""Numbers as the rules, alerts, dashboards and messages write them: exact decimals without
exponent or float noise (``0.0144``, ``30``), and percentages of ratios (``1.44%``)."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

__all__ = ["number", "percent", "share_percent"]


def number(value: Decimal | int) -> str:
    """A number as PromQL reads it, without exponent or float noise: ``0.0144``, ``30``."""
    return format(Decimal(value).normalize(), "f")


def percent(ratio: Decimal) -> str:
    """A ratio as a percentage, exactly: ``0.0144`` → ``1.44%``."""
    return number(ratio * 100) + "%"


def share_percent(share: Decimal) -> str:
    """A budget share as a percentage to three significant digits: 0.008333… → '0.833%'."""
    if share == 0:
        return "0%"
    in_percent = share * 100
    exponent = in_percent.adjusted() - 2
    rounded = in_percent.quantize(Decimal(1).scaleb(exponent), rounding=ROUND_HALF_EVEN)
    return format(rounded.normalize(), "f") + "%"
