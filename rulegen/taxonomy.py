"""The outcome taxonomy: which outcomes of an agent run exist and how they count.

Specs may add their own outcomes; everything else reads the taxonomy from here.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

__all__ = ["DEFAULT_OUTCOMES", "OutcomeClass", "is_bad"]


class OutcomeClass(enum.StrEnum):
    """How an outcome counts against an error budget."""

    GOOD = "good"
    BAD = "bad"
    ZERO_TOLERANCE = "zero_tolerance"


DEFAULT_OUTCOMES: Final[Mapping[str, OutcomeClass]] = MappingProxyType(
    {
        # good
        "success": OutcomeClass.GOOD,  # accepted as is
        "minor_fix": OutcomeClass.GOOD,
        "escalated": OutcomeClass.GOOD,  # a correct hand-off
        # bad
        "major_rewrite": OutcomeClass.BAD,
        "rejected": OutcomeClass.BAD,
        "wrong_action": OutcomeClass.BAD,
        "wrong_tool_args": OutcomeClass.BAD,
        "escalation_miss": OutcomeClass.BAD,
        "duplicate_work": OutcomeClass.BAD,
        "timeout": OutcomeClass.BAD,
        "late": OutcomeClass.BAD,
        "qa_failure": OutcomeClass.BAD,
        "recovery_failure": OutcomeClass.BAD,
        # zero tolerance by default
        "policy_violation": OutcomeClass.ZERO_TOLERANCE,
        "permission_violation": OutcomeClass.ZERO_TOLERANCE,
    }
)


def is_bad(outcome_class: OutcomeClass) -> bool:
    """Whether outcomes of this class spend error budget."""
    return outcome_class is not OutcomeClass.GOOD
