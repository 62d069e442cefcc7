"""Generators: each turns the model into one kind of output, as plain data structures."""

from __future__ import annotations

from typing import Any

from rulegen.generators.alerts import alerts_group, zero_tolerance_group
from rulegen.generators.recording import sli_group, steps_group
from rulegen.model import SLO, Workflow

__all__ = ["slo_rules", "zero_tolerance_rules"]


def slo_rules(slo: SLO) -> dict[str, Any]:
    """The Prometheus rule file of one SLO.

    Two groups: the steps, on their own 5m interval, and at the global interval the short
    windows followed by the alerts, so that an alert reads the ratios recorded in the same
    evaluation (rules of one group run in order). Groups run independently in Prometheus,
    so windows summed from steps reach the alerts up to one step late; promtool evaluates
    groups in file order, steps first, and sees no such lag.
    """
    sli = sli_group(slo)
    sli["rules"] = [*sli["rules"], *alerts_group(slo)["rules"]]
    return {"groups": [steps_group(slo), sli]}


def zero_tolerance_rules(workflow: Workflow) -> dict[str, Any] | None:
    """The rule file of a workflow's zero-tolerance alert, or ``None`` if it has none."""
    group = zero_tolerance_group(workflow)
    return None if group is None else {"groups": [group]}
