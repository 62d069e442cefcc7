"""The unit-test generator's exception. This module imports nothing from the package."""

from __future__ import annotations

__all__ = ["UnitTestError"]


class UnitTestError(Exception):
    """No faithful test scenario can be built for an SLO (the reason says why)."""
