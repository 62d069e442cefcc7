"""Problems found while resolving specs: each located in its file, all raised together."""

from __future__ import annotations

from dataclasses import dataclass

from rulegen.errors import SpecError, SpecErrors
from rulegen.loader import Document, Loc

__all__ = ["DocumentProblems", "Problems"]


class Problems:
    """Every problem found in one run over spec documents, in the order found.

    Resolution reports a problem and goes on, so that one run finds them all;
    :meth:`raise_any` then ends the run with every one.
    """

    def __init__(self) -> None:
        self._found: list[SpecError] = []

    def in_document(self, doc: Document) -> DocumentProblems:
        """A collector for ``doc``: it locates problems there and adds them to this run's."""
        return DocumentProblems(doc, self._found)

    def raise_any(self) -> None:
        """Raise :class:`SpecErrors` with every problem found, if any was."""
        if self._found:
            raise SpecErrors(self._found)


@dataclass(frozen=True)
class DocumentProblems:
    """The problems of one document, located by field path, e.g. ``("slos", 0, "period")``."""

    doc: Document
    found: list[SpecError]

    def add(self, loc: Loc, message: str) -> None:
        """Report a problem at ``loc``."""
        self.found.append(self.doc.error(loc, message))

    def where(self, loc: Loc) -> str:
        """``path:line`` of ``loc``, for messages that point at another place."""
        return f"{self.doc.path}:{self.doc.line(loc)}"
