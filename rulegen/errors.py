"""Exceptions of the rule generator. This module imports nothing from the package."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["GenerateError", "SpecError", "SpecErrors"]


@dataclass(frozen=True, order=True)
class SpecError:
    """One problem in one spec file, located as precisely as the YAML allows."""

    path: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


@dataclass
class SpecErrors(Exception):  # noqa: N818 - a collection of SpecError, named for what it holds
    """Every problem found while loading or validating a set of specs."""

    errors: list[SpecError] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(str(e) for e in sorted(self.errors))


class GenerateError(Exception):
    """The specs are valid but output could not be generated or written."""
