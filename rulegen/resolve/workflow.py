"""A workflow spec resolved: its labels, outcomes, dimensions and SLOs, checked."""

from __future__ import annotations

from collections.abc import Mapping

from rulegen.durations import parse_duration_ms
from rulegen.model import Dimension, Workflow
from rulegen.resolve.alerting import zero_tolerance
from rulegen.resolve.labels import check_labels, is_reserved
from rulegen.resolve.policies import check_policies
from rulegen.resolve.problems import DocumentProblems
from rulegen.resolve.slo import resolve_slo
from rulegen.spec import DimensionSpec, WorkflowSpec
from rulegen.taxonomy import DEFAULT_OUTCOMES

__all__ = ["resolve_workflow"]


def resolve_workflow(spec: WorkflowSpec, source: str, problems: DocumentProblems) -> Workflow:
    """The workflow of the spec read from ``source``, with its SLOs."""
    outcomes = {**DEFAULT_OUTCOMES, **spec.outcomes}
    check_labels(spec.labels, ("labels",), problems)
    check_labels(spec.alerting.labels, ("alerting", "labels"), problems)
    dimensions = _dimensions(spec.dimensions, problems)
    check_policies(spec.policies, ("policies",), problems)
    slos = tuple(
        resolve_slo(slo, ("slos", i), spec, outcomes=outcomes, source=source, problems=problems)
        for i, slo in enumerate(spec.slos)
    )
    buckets = sorted(
        {
            parse_duration_ms(s.sli.latency.threshold) / 1000
            for s in spec.slos
            if s.sli.latency is not None
        }
    )
    return Workflow(
        name=spec.workflow,
        description=spec.description,
        source=source,
        risk=spec.tier,
        labels=dict(sorted(spec.labels.items())),
        outcomes=dict(sorted(outcomes.items())),
        dimensions=dimensions,
        zero_tolerance=zero_tolerance(spec.alerting, outcomes),
        slos=slos,
        latency_buckets=tuple(buckets),
        autonomy=tuple(
            (a.days_in_budget, a.grant)
            for a in sorted(spec.autonomy, key=lambda a: a.days_in_budget)
        ),
    )


def _dimensions(
    written: Mapping[str, DimensionSpec], problems: DocumentProblems
) -> tuple[Dimension, ...]:
    """The declared dimensions: names free to use, values listed once and within the cap."""
    dimensions = []
    for name, dim in written.items():
        if is_reserved(name):
            problems.add(("dimensions", name), f"'{name}' is reserved; choose another name")
        if len(set(dim.values)) != len(dim.values):
            problems.add(("dimensions", name, "values"), "values are listed more than once")
        if len(dim.values) > dim.max_values:
            problems.add(
                ("dimensions", name, "values"),
                f"{len(dim.values)} values listed but max_values is {dim.max_values}",
            )
        dimensions.append(Dimension(name, dim.max_values, tuple(dim.values)))
    return tuple(dimensions)
