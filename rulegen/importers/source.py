"""Source documents read field by field, so that every field is either used or reported.

A :class:`Source` wraps one YAML document of another tool's format. The importers ask it
for fields by path; whatever they report (not carried over, or a note) counts as read too.
:meth:`Source.report_unread` then reports every field nobody asked for, so nothing a source
says is dropped in silence.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rulegen.importers.findings import Finding, Kind
from rulegen.loader import Loc, RawDocument, discover, format_loc, kind_of, read_yaml

__all__ = ["Source", "read_sources"]

_MISSING = object()


def read_sources(paths: Iterable[str | Path]) -> tuple[list[Source], list[Finding]]:
    """Every YAML document of the files under ``paths`` (folders searched for *.yaml, *.yml),
    and the files or documents that could not be read."""
    sources: list[Source] = []
    problems: list[Finding] = []
    files = discover(paths)
    if not files:
        problems.append(Finding("(no files)", 0, "", Kind.LOST, "no files found (*.yaml, *.yml)"))
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Finding(str(path), 0, "", Kind.LOST, f"cannot read file: {exc}"))
            continue
        documents, errors = read_yaml(text, str(path))
        problems += [Finding(e.path, e.line, e.field, Kind.LOST, e.message) for e in errors]
        sources += [Source(doc) for doc in documents if doc.data is not None]
    return sources, problems


@dataclass
class Source:
    """One document of a source file, with what has been read of it and what was found."""

    doc: RawDocument
    findings: list[Finding] = field(default_factory=list)
    _read: set[Loc] = field(default_factory=set)  # fields looked at, children checked apart
    _whole: set[Loc] = field(default_factory=set)  # fields used or reported whole
    _asked: dict[Loc, set[str]] = field(default_factory=dict)  # names asked for, by parent

    @property
    def path(self) -> str:
        """The file the document is in."""
        return self.doc.path

    def get(self, loc: Loc) -> Any:
        """The value at ``loc``, or ``None`` when it is not written; marks it read."""
        if loc and isinstance(loc[-1], str):
            self._asked.setdefault(loc[:-1], set()).add(loc[-1])
        value = _value_at(self.doc.data, loc)
        if value is _MISSING:
            return None
        self._read.update(loc[:end] for end in range(len(loc) + 1))
        return value

    def take(self, loc: Loc) -> Any:
        """The value at ``loc``, used whole: nothing under it is reported unread."""
        value = self.get(loc)
        self._whole.add(loc)
        return value

    def mapping(self, loc: Loc) -> dict[str, Any]:
        """The mapping at ``loc`` (empty when not written); anything else is reported."""
        value = self.get(loc)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.lost(loc, f"expected a mapping, found {kind_of(value)}")
            return {}
        return {str(k): v for k, v in value.items()}

    def items(self, loc: Loc) -> list[Loc]:
        """The locations of the items of the list at ``loc``; anything else is reported."""
        value = self.get(loc)
        if value is None:
            return []
        if not isinstance(value, list):
            self.lost(loc, f"expected a list, found {kind_of(value)}")
            return []
        return [(*loc, i) for i in range(len(value))]

    def text(self, loc: Loc) -> str | None:
        """The scalar at ``loc`` as text (``true``, ``0.2``, as Go's YAML would give it)."""
        value = self.get(loc)
        if value is None:
            return None
        if isinstance(value, dict | list):
            self.lost(loc, f"expected a single value, found {kind_of(value)}")
            return None
        return scalar_text(value)

    def labels(self, loc: Loc) -> dict[str, str]:
        """A mapping of label names to values, values as text; used whole."""
        value = self.take(loc)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.lost(loc, f"expected a mapping of names to values, found {kind_of(value)}")
            return {}
        out: dict[str, str] = {}
        for key, raw in value.items():
            if isinstance(raw, dict | list) or raw is None:
                self.lost((*loc, str(key)), f"expected a single value, found {kind_of(raw)}")
                continue
            out[str(key)] = scalar_text(raw)
        return out

    def line(self, loc: Loc) -> int:
        """The line of ``loc``, or of the nearest part of it that is written."""
        return self.doc.line(loc)

    def where(self, loc: Loc) -> str:
        """``path:line`` of ``loc``, for messages that point at another place."""
        return f"{self.doc.path}:{self.line(loc)}"

    def lost(self, loc: Loc, message: str) -> None:
        """Report that what is written at ``loc`` is not carried over."""
        self._report(loc, Kind.LOST, message)

    def note(self, loc: Loc, message: str) -> None:
        """Report how what is written at ``loc`` is carried over differently."""
        self._report(loc, Kind.NOTE, message)

    def _report(self, loc: Loc, kind: Kind, message: str) -> None:
        self._whole.add(loc)
        self.findings.append(Finding(self.path, self.line(loc), format_loc(loc), kind, message))

    def report_unread(self, what: str) -> None:
        """Report every field that was neither read nor reported, under a field that was
        read, as not carried over (``what``: the format, for the message)."""
        for loc in sorted(self.doc.lines, key=lambda p: (self.doc.lines[p], len(p))):
            if not loc or loc in self._read or self._covered(loc):
                continue
            parent = loc[:-1]
            if parent not in self._read:
                continue  # inside a field reported already
            name = loc[-1]
            if isinstance(name, int):
                message = f"item {name} is not read by {what}"
            else:
                close = difflib.get_close_matches(name, sorted(self._asked.get(parent, ())), n=1)
                hint = f"; did you mean '{close[0]}'?" if close else ""
                message = f"unknown field of {what}{hint}"
            self.lost(loc, message)

    def _covered(self, loc: Loc) -> bool:
        return any(loc[:end] in self._whole for end in range(len(loc) + 1))


def scalar_text(value: Any) -> str:
    """A YAML scalar as text: booleans lower-case, numbers as written."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _value_at(data: Any, loc: Loc) -> Any:
    current = data
    for part in loc:
        if isinstance(current, dict):
            if part in current:
                current = current[part]
                continue
            matches = [v for k, v in current.items() if str(k) == str(part)]
            if not matches:
                return _MISSING
            current = matches[0]
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            current = current[part]
        else:
            return _MISSING
    return current
