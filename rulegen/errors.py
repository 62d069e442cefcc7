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
    """Every problem found while loading or validating a set of specs, each once.

    A problem found twice (a workflow-level field checked for each SLO that inherits it) is
    one problem: it is kept once, where it was first found.
    """

    errors: list[SpecError] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.errors = list(dict.fromkeys(self.errors))

    def __str__(self) -> str:
        return "\n".join(str(e) for e in sorted(self.errors))


class GenerateError(Exception):
    """The specs are valid but output could not be generated or written."""
