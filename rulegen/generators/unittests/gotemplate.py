"""Prometheus's alert templating, as far as the generated alerts use it: what promtool
expects of a firing alert, its labels and annotations expanded as Prometheus would."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["expand", "firing_alert"]


def _go_g4(value: float) -> str:
    """Go's ``%.4g``, as Prometheus's humanizePercentage uses it."""
    text = f"{value:.4g}"
    if "e" in text:
        mantissa, exp = text.split("e")
        sign = exp[0]
        digits = exp[1:].lstrip("0").rjust(2, "0")
        text = f"{mantissa}e{sign}{digits}"
    return text


def _humanize_percentage(value: float) -> str:
    return _go_g4(value * 100) + "%"


def expand(template: str, value: float, labels: Mapping[str, str]) -> str:
    """Expand the few template forms the generated annotations use."""
    out = template.replace("{{ $value | humanizePercentage }}", _humanize_percentage(value))
    out = out.replace("{{ $value }}", _go_g4(value) if value != int(value) else str(int(value)))
    for key, val in labels.items():
        out = out.replace(f"{{{{ $labels.{key} }}}}", val)
    return out


def firing_alert(
    rule: Mapping[str, Any], value: float, series_labels: Mapping[str, str]
) -> dict[str, Any]:
    """promtool's expectation of ``rule`` firing at ``value`` on ``series_labels``."""
    labels = {**series_labels, **rule["labels"]}
    return {
        "exp_labels": labels,
        "exp_annotations": {k: expand(v, value, labels) for k, v in rule["annotations"].items()},
    }
