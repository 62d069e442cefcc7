"""An SLO's indicator, by kind: outcomes, latency or a ratio of any two counters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rulegen import names
from rulegen.durations import parse_duration_ms
from rulegen.loader import Loc
from rulegen.model import SLI
from rulegen.resolve.problems import DocumentProblems
from rulegen.selectors import Matcher, Selector, parse_selector
from rulegen.spec import OutcomesSLISpec, RatioSLISpec, SLISpec, WorkflowSpec
from rulegen.taxonomy import OutcomeClass, is_bad

__all__ = ["resolve_sli"]


def resolve_sli(
    spec: SLISpec,
    loc: Loc,
    workflow: WorkflowSpec,
    outcomes: Mapping[str, OutcomeClass],
    problems: DocumentProblems,
) -> SLI:
    """The SLI written at ``loc``, over the workflow's series (or the ratio's own)."""
    if spec.outcomes is not None:
        return _outcomes(spec.outcomes, (*loc, "outcomes"), workflow, outcomes, problems)
    if spec.latency is not None:
        milliseconds = parse_duration_ms(spec.latency.threshold)
        wf_matcher = _workflow_matcher(workflow)
        return SLI(
            kind="latency",
            total=Selector(f"{names.DURATION_METRIC}_count", (wf_matcher,)),
            good=Selector(
                f"{names.DURATION_METRIC}_bucket",
                (wf_matcher, Matcher("le", "=", names.bucket_le(milliseconds / 1000))),
            ),
            detail_labels=tuple(sorted(workflow.dimensions)),
        )
    assert spec.ratio is not None
    return _ratio(spec.ratio, (*loc, "ratio"), problems)


def _outcomes(
    spec: OutcomesSLISpec,
    loc: Loc,
    workflow: WorkflowSpec,
    outcomes: Mapping[str, OutcomeClass],
    problems: DocumentProblems,
) -> SLI:
    """Bad outcomes over all outcomes not excluded; known outcomes, each listed once."""
    known = sorted(outcomes)
    for key, listed in (("bad", spec.bad or []), ("exclude", spec.exclude)):
        for i, outcome in enumerate(listed):
            if outcome not in outcomes:
                problems.add(
                    (*loc, key, i),
                    f"unknown outcome '{outcome}' (known: {', '.join(known)}; "
                    "add custom outcomes under 'outcomes:')",
                )
        if len(set(listed)) != len(listed):
            problems.add((*loc, key), "an outcome is listed more than once")
    exclude = sorted(set(spec.exclude))
    if spec.bad is None:
        bad = sorted(o for o, c in outcomes.items() if is_bad(c) and o not in exclude)
    else:
        bad = sorted(set(spec.bad))
    for outcome in sorted(set(bad) & set(exclude)):
        problems.add((*loc, "exclude"), f"'{outcome}' is both bad and excluded")
    if not bad:
        problems.add(loc, "no outcome is bad: the SLO could never spend budget")
    wf_matcher = _workflow_matcher(workflow)
    total_matchers = [wf_matcher]
    if exclude:
        total_matchers.append(Matcher(names.LABEL_OUTCOME, "!~", "|".join(exclude)))
    return SLI(
        kind="outcomes",
        total=Selector(names.OUTCOMES_METRIC, tuple(total_matchers)),
        bad=Selector(
            names.OUTCOMES_METRIC,
            (wf_matcher, _one_of(names.LABEL_OUTCOME, bad)),
        ),
        detail_labels=(names.LABEL_OUTCOME, *sorted(workflow.dimensions)),
    )


def _ratio(spec: RatioSLISpec, loc: Loc, problems: DocumentProblems) -> SLI:
    """The ratio's selectors as written; one that does not parse is reported."""
    selectors: dict[str, Selector] = {}
    for key in ("errors", "good", "total"):
        text = getattr(spec, key)
        if text is None:
            continue
        try:
            selectors[key] = parse_selector(text)
        except ValueError as exc:
            problems.add((*loc, key), str(exc))
            selectors[key] = Selector("invalid", ())
    return SLI(
        kind="ratio",
        total=selectors["total"],
        bad=selectors.get("errors"),
        good=selectors.get("good"),
        test_labels={k: dict(v) for k, v in spec.test_labels.items()},
    )


def _one_of(label: str, values: Sequence[str]) -> Matcher:
    """``label`` equal to the one value, or matching any of several."""
    if len(values) == 1:
        return Matcher(label, "=", values[0])
    return Matcher(label, "=~", "|".join(values))


def _workflow_matcher(workflow: WorkflowSpec) -> Matcher:
    """Selects the workflow's own series of the exporter's metrics."""
    return Matcher(names.LABEL_WORKFLOW, "=", workflow.workflow)
