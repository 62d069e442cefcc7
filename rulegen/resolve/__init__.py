"""Specs resolved into the model: every default applied, every problem found.

:func:`build` turns loaded documents into :class:`~rulegen.model.Workflow` objects, or raises
:class:`~rulegen.errors.SpecErrors` listing every problem (with file, line and field) across
all files. Each module resolves one part of a spec and reports into one collector.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from rulegen.loader import Document, Loc, discover, load_files
from rulegen.model import ZERO_TOLERANCE_SUFFIX, Workflow
from rulegen.resolve.problems import DocumentProblems, Problems
from rulegen.resolve.workflow import resolve_workflow

__all__ = ["build", "load"]


def load(paths: Iterable[str | Path]) -> list[Workflow]:
    """Load, validate and resolve every spec under ``paths``; raise ``SpecErrors``."""
    return build(load_files(discover(paths)))


def build(documents: Sequence[Document]) -> list[Workflow]:
    """Resolve loaded documents into workflows, or raise :class:`SpecErrors` with every problem."""
    problems = Problems()
    workflows: list[Workflow] = []
    seen_workflows: dict[str, str] = {}
    seen_slos: dict[str, str] = {}
    for doc in documents:
        here = problems.in_document(doc)
        _check_unique_names(doc, here, seen_workflows, seen_slos)
        workflows.append(resolve_workflow(doc.spec, doc.path, here))
    problems.raise_any()
    return workflows


def _check_unique_names(
    doc: Document,
    problems: DocumentProblems,
    seen_workflows: dict[str, str],
    seen_slos: dict[str, str],
) -> None:
    """One spec per workflow, and SLO names unique across all specs; records where each is."""
    workflow = doc.spec.workflow
    if workflow in seen_workflows:
        problems.add(
            ("workflow",),
            f"workflow '{workflow}' is already defined at {seen_workflows[workflow]}; "
            "keep one workflow in one spec",
        )
    seen_workflows.setdefault(workflow, problems.where(("workflow",)))
    names_here: list[tuple[str, Loc]] = [(f"{workflow}{ZERO_TOLERANCE_SUFFIX}", ("workflow",))]
    names_here += [(slo.name, ("slos", i, "name")) for i, slo in enumerate(doc.spec.slos)]
    for slo_name, loc in names_here:
        if slo_name in seen_slos:
            problems.add(
                loc,
                f"SLO name '{slo_name}' is already used at {seen_slos[slo_name]}; "
                "SLO names must be unique across all specs",
            )
        else:
            seen_slos[slo_name] = problems.where(loc)
