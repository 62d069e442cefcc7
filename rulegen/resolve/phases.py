"""An SLO's objective schedule: its objective, then each tightening step, checked."""

from __future__ import annotations

import calendar
from decimal import Decimal

from rulegen.loader import Loc
from rulegen.model import Phase
from rulegen.numbers import percent
from rulegen.resolve.problems import DocumentProblems
from rulegen.spec import SLOSpec

__all__ = ["resolve_phases"]


def resolve_phases(
    spec: SLOSpec, loc: Loc, default_objective: Decimal, problems: DocumentProblems
) -> tuple[Phase, ...]:
    """The phases of the SLO written at ``loc``: steps in date order, never lowering it."""
    base = spec.objective / 100 if spec.objective is not None else default_objective
    phases = [Phase(None, base.normalize())]
    previous_date = None
    for i, step in enumerate(spec.tightening):
        step_loc: Loc = (*loc, "tightening", i)
        objective = (step.objective / 100).normalize()
        if previous_date is not None and step.date <= previous_date:
            problems.add((*step_loc, "date"), "dates must be in increasing order")
        if objective < phases[-1].objective:
            problems.add(
                (*step_loc, "objective"),
                f"a tightening step may not lower the objective "
                f"({percent(objective)} < {percent(phases[-1].objective)})",
            )
        previous_date = step.date
        start = calendar.timegm(step.date.timetuple())
        phases.append(Phase(start, objective))
    return tuple(phases)
