"""Generators: each turns the model into one kind of output, as plain data structures."""

from __future__ import annotations

from typing import Any

from rulegen.generators.alerts import alerts_group, zero_tolerance_group
from rulegen.generators.recording import sli_group, steps_group
from rulegen.model import SLO, Workflow

__all__ = ["slo_rules", "zero_tolerance_rules"]


def slo_rules(slo: SLO) -> dict[str, Any]:
    """The Prometheus rule file of one SLO: its recording and alerting groups."""
    return {"groups": [sli_group(slo), steps_group(slo), alerts_group(slo)]}


def zero_tolerance_rules(workflow: Workflow) -> dict[str, Any] | None:
    """The rule file of a workflow's zero-tolerance alert, or ``None`` if it has none."""
    group = zero_tolerance_group(workflow)
    return None if group is None else {"groups": [group]}
