"""What an import produced: the specs written, and every finding, located in its source."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from rulegen.errors import SpecError

__all__ = ["Finding", "ImportResult", "ImportedSpec", "Kind"]


class Kind(StrEnum):
    """How much of what a source says an import keeps."""

    #: Something the source says that the specs written do not do (exit 1).
    LOST = "not carried over"
    #: Carried over in agent-slo's own terms, which differ from the source's (exit 0).
    NOTE = "note"


@dataclass(frozen=True, order=True)
class Finding:
    """One thing an import reports, at a file, line and field of its source."""

    path: str
    line: int
    field: str
    kind: Kind
    message: str

    def __str__(self) -> str:
        return str(SpecError(self.path, self.line, self.field, f"{self.kind}: {self.message}"))


@dataclass(frozen=True)
class ImportedSpec:
    """One agent-slo spec: its workflow, file name and YAML text."""

    workflow: str
    file_name: str
    text: str


@dataclass(frozen=True)
class ImportResult:
    """The specs an import wrote and what it found, in a stable order."""

    specs: tuple[ImportedSpec, ...]
    findings: tuple[Finding, ...]

    @property
    def lost(self) -> tuple[Finding, ...]:
        """What the specs do not carry over."""
        return tuple(f for f in self.findings if f.kind is Kind.LOST)

    @property
    def complete(self) -> bool:
        """Everything was carried over, and there is at least one spec."""
        return bool(self.specs) and not self.lost
