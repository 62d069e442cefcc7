"""Read spec files: YAML with line numbers, then the typed spec, with every error located.

A :class:`Document` is one YAML document of one file, with its parsed :class:`WorkflowSpec`
and a map from field paths to line numbers, so later stages can report problems where they
are written.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydantic
import yaml
from pydantic import BaseModel

from rulegen.errors import SpecError, SpecErrors
from rulegen.spec import API_VERSION, PATTERN_WORDS, WorkflowSpec
from rulegen.taxonomy import OutcomeClass

__all__ = [
    "Document",
    "Loc",
    "RawDocument",
    "discover",
    "format_loc",
    "kind_of",
    "load_files",
    "load_text",
    "read_yaml",
]

Loc = tuple[str | int, ...]
SPEC_SUFFIXES = (".yaml", ".yml")
_MAX_DEPTH = 64


@dataclass
class Document:
    """One workflow spec as written in one file."""

    path: str
    index: int
    spec: WorkflowSpec
    lines: dict[Loc, int] = field(repr=False)

    def line(self, loc: Loc) -> int:
        """The line of the deepest part of ``loc`` that is written in the file."""
        for end in range(len(loc), -1, -1):
            line = self.lines.get(loc[:end])
            if line is not None:
                return line
        return 0

    def error(self, loc: Loc, message: str) -> SpecError:
        """A :class:`SpecError` at ``loc`` in this document."""
        return SpecError(self.path, self.line(loc), format_loc(loc), message)


@dataclass(frozen=True)
class RawDocument:
    """One YAML document of one file as plain data, before any format is applied to it.

    ``lines`` maps the path of every mapping key and sequence item to its line, so readers
    of other formats (the importers) can locate what they find as precisely as specs are.
    """

    path: str
    index: int
    data: Any
    lines: dict[Loc, int] = field(repr=False)

    def line(self, loc: Loc) -> int:
        """The line of the deepest part of ``loc`` that is written in the file."""
        return _line(self.lines, loc)


def format_loc(loc: Loc) -> str:
    """``('slos', 0, 'sli')`` → ``slos[0].sli``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def discover(paths: Iterable[str | Path]) -> list[Path]:
    """Spec files under ``paths`` (files as given, directories searched recursively), sorted.

    Hidden files and folders (``.name``) are skipped: a Kubernetes ConfigMap mounted as a
    folder holds each file twice, once under its hidden ``..data`` folder.
    """
    found: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.update(
                p
                for p in path.rglob("*")
                if p.suffix in SPEC_SUFFIXES
                and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        else:
            found.add(path)
    return sorted(found)


def load_files(paths: Sequence[Path]) -> list[Document]:
    """Load every file; raise :class:`SpecErrors` with every problem in every file."""
    documents: list[Document] = []
    errors: list[SpecError] = []
    if not paths:
        raise SpecErrors([SpecError("(no files)", 0, "", "no spec files found (*.yaml, *.yml)")])
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(SpecError(str(path), 0, "", f"cannot read file: {exc}"))
            continue
        docs, errs = load_text(text, str(path))
        documents.extend(docs)
        errors.extend(errs)
    if errors:
        raise SpecErrors(errors)
    return documents


def load_text(text: str, path: str) -> tuple[list[Document], list[SpecError]]:
    """Parse every YAML document in ``text`` into a :class:`Document`, collecting errors."""
    raw_documents, errors = read_yaml(text, path)
    documents: list[Document] = []
    for raw in raw_documents:
        if raw.data is None:
            continue
        doc = _validate(raw.data, raw.lines, path, raw.index)
        if isinstance(doc, Document):
            documents.append(doc)
        else:
            errors.extend(doc)
    return documents, errors


def read_yaml(text: str, path: str) -> tuple[list[RawDocument], list[SpecError]]:
    """Every YAML document in ``text`` as plain data with the line of each field path.

    A document with errors (duplicate keys, non-scalar keys, impossible values) is left out
    and its errors returned; so are errors of the YAML syntax, which end the reading.
    """
    documents: list[RawDocument] = []
    errors: list[SpecError] = []
    try:
        loader = yaml.SafeLoader(text)
    except yaml.YAMLError as exc:
        first_line = str(exc).splitlines()[0]
        return [], [SpecError(path, 0, "", f"invalid YAML: {first_line}")]
    try:
        index = 0
        while loader.check_node():
            node = loader.get_node()
            if node is None:  # pragma: no cover - check_node said there is one
                break
            builder = _Builder(loader, path)
            data, build_errors = builder.build(node, (), 0)
            errors.extend(build_errors)
            if not build_errors:
                documents.append(RawDocument(path, index, data, builder.lines))
            index += 1
        if index == 0:
            errors.append(SpecError(path, 0, "", "file holds no YAML document"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        errors.append(SpecError(path, line, "", f"invalid YAML: {problem}"))
    except yaml.YAMLError as exc:
        errors.append(SpecError(path, 0, "", f"invalid YAML: {exc}"))
    except RecursionError:
        errors.append(
            SpecError(path, 0, "", f"invalid YAML: nested deeper than {_MAX_DEPTH} levels")
        )
    finally:
        loader.dispose()
    return documents, errors


@dataclass
class _Builder:
    """Turns composed YAML nodes into plain data, recording the line of every path."""

    loader: yaml.SafeLoader
    path: str
    lines: dict[Loc, int] = field(default_factory=dict)

    def _error(self, line: int, loc: Loc, message: str) -> SpecError:
        return SpecError(self.path, line, format_loc(loc), message)

    def build(self, node: yaml.Node, loc: Loc, depth: int) -> tuple[Any, list[SpecError]]:
        """The data of ``node`` at ``loc``, and the errors found in it."""
        line = node.start_mark.line + 1
        self.lines.setdefault(loc, line)
        if depth > _MAX_DEPTH:
            return None, [self._error(line, loc, "nesting is too deep")]
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, loc, depth)
        if isinstance(node, yaml.SequenceNode):
            items: list[Any] = []
            errors: list[SpecError] = []
            for i, item_node in enumerate(node.value):
                value, child_errors = self.build(item_node, (*loc, i), depth + 1)
                errors.extend(child_errors)
                items.append(value)
            return items, errors
        try:
            return self.loader.construct_object(node, deep=True), []
        except yaml.constructor.ConstructorError as exc:
            return None, [self._error(line, loc, f"invalid value: {exc.problem}")]
        except ValueError as exc:  # e.g. an impossible date such as 2026-02-30
            return None, [self._error(line, loc, f"invalid value: {exc}")]

    def _mapping(
        self, node: yaml.MappingNode, loc: Loc, depth: int
    ) -> tuple[dict[Any, Any], list[SpecError]]:
        out: dict[Any, Any] = {}
        errors: list[SpecError] = []
        self.loader.flatten_mapping(node)
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                errors.append(self._error(key_line, loc, "keys must be scalars"))
                continue
            key = self.loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | bool):
                errors.append(self._error(key_line, loc, f"invalid key {key_node.value!r}"))
                continue
            child: Loc = (*loc, key if isinstance(key, str) else str(key))
            if key in out:
                errors.append(self._error(key_line, child, "duplicate key (written twice)"))
                continue
            self.lines[child] = key_line
            value, child_errors = self.build(value_node, child, depth + 1)
            errors.extend(child_errors)
            out[key] = value
        return out, errors


def _validate(
    data: Any, lines: dict[Loc, int], path: str, index: int
) -> Document | list[SpecError]:
    if not isinstance(data, dict):
        found = type(data).__name__ if data is not None else "an empty document"
        return [SpecError(path, lines.get((), 0), "", f"expected a mapping, found {found}")]
    if data.get("apiVersion") != API_VERSION:
        # Stop early: other fields are meaningless if the version is not ours.
        loc: Loc = ("apiVersion",)
        line = lines.get(loc, lines.get((), 0))
        got = data.get("apiVersion")
        return [
            SpecError(
                path,
                line,
                "apiVersion",
                f"expected '{API_VERSION}', got {got!r}"
                if got is not None
                else f"required field is missing (expected 'apiVersion: {API_VERSION}')",
            )
        ]
    try:
        spec = WorkflowSpec.model_validate(data)
    except pydantic.ValidationError as exc:
        errors = []
        for err in exc.errors(include_url=False):
            err_loc: Loc = tuple(err["loc"])
            line = _line(lines, err_loc)
            errors.append(SpecError(path, line, format_loc(err_loc), _message(err)))
        return sorted(set(errors))
    return Document(path=path, index=index, spec=spec, lines=lines)


def _line(lines: dict[Loc, int], loc: Loc) -> int:
    for end in range(len(loc), -1, -1):
        line = lines.get(loc[:end])
        if line is not None:
            return line
    return 0


def _unknown_field(err: Any) -> str:
    loc: Loc = tuple(err["loc"])
    known = sorted(_known_fields(loc[:-1]))
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"unknown field{hint} (expected one of: {', '.join(known)})"


def _pattern(err: Any) -> str:
    pattern = err["ctx"]["pattern"]
    what = PATTERN_WORDS.get(pattern)
    if what:
        return f"invalid value {err['input']!r}: {what} (pattern {pattern})"
    return f"invalid value {err['input']!r}: must match {pattern}"


def _bound(key: str, words: str) -> Callable[[Any], str]:
    return lambda err: f"must be {words} {err['ctx'][key]}, got {err['input']}"


#: Messages in the spec's own terms, by pydantic error type; others keep pydantic's text.
_MESSAGES: dict[str, Callable[[Any], str]] = {
    "extra_forbidden": _unknown_field,
    "missing": lambda err: "required field is missing",
    "string_pattern_mismatch": _pattern,
    "greater_than": _bound("gt", "above"),
    "greater_than_equal": _bound("ge", "at least"),
    "less_than": _bound("lt", "below"),
    "less_than_equal": _bound("le", "at most"),
    "too_short": lambda err: (
        f"needs at least {err['ctx']['min_length']} item(s), found {err['ctx']['actual_length']}"
    ),
    "decimal_parsing": lambda err: (
        f"invalid value {err['input']!r}: expected a number, e.g. 99.5 (a percentage)"
    ),
    "decimal_type": lambda err: (
        f"invalid value {err['input']!r}: expected a number, e.g. 99.5 (a percentage)"
    ),
    "dict_type": lambda err: f"expected a mapping (name: value), found {kind_of(err['input'])}",
    "list_type": lambda err: f"expected a list, found {kind_of(err['input'])}",
    "enum": lambda err: f"invalid value {err['input']!r}: {_lower(_text(err))}",
    "literal_error": lambda err: f"invalid value {err['input']!r}: {_lower(_text(err))}",
}


def _text(err: Any) -> str:
    msg = str(err["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    return msg


def _lower(text: str) -> str:
    return text[:1].lower() + text[1:]


def _outcome_class(err: Any) -> str | None:
    """For a workflow's ``outcomes:``: the form expected, with what was written rewritten in it.

    ``outcomes:`` maps outcome names to classes (``wrong_result: bad``); the natural guess
    ``bad: [wrong_result]`` is the form of an SLO's ``sli.outcomes``.
    """
    loc: Loc = tuple(err["loc"])
    classes = [c.value for c in OutcomeClass]
    if loc == ("outcomes",) and err["type"] == "dict_type":
        return (
            f"expected a mapping of outcome to class ({', '.join(classes)}), found "
            f"{kind_of(err['input'])}: e.g. `outcomes: {{wrong_result: bad}}`"
        )
    if len(loc) != 2 or loc[0] != "outcomes" or err["type"] != "enum":
        return None
    name, given = str(loc[1]), err["input"]
    if name in classes and isinstance(given, list | str):
        listed = [str(o) for o in given] if isinstance(given, list) else [given]
        example = ", ".join(f"{o}: {name}" for o in listed) or f"my_outcome: {name}"
        written = f"{name}: [...]" if isinstance(given, list) else f"{name}: {given}"
        where = (
            " (an SLO's bad outcomes are listed in its sli.outcomes.bad)"
            if name == OutcomeClass.BAD
            else ""
        )
        return (
            f"'outcomes:' maps each outcome to its class: write `outcomes: {{{example}}}`, "
            f"not `{written}`{where}"
        )
    return (
        f"invalid class {given!r} for outcome '{name}': expected one of "
        f"{', '.join(classes)} (e.g. `{name}: bad`)"
    )


def _message(err: Any) -> str:
    hint = _outcome_class(err)
    if hint is not None:
        return hint
    special = _MESSAGES.get(err["type"])
    if special is not None:
        return special(err)
    return _lower(_text(err)) or str(err["type"])


def kind_of(value: Any) -> str:
    """What a YAML value is, for messages: ``a mapping``, ``a list``, ``nothing``, ``int 5``."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return f"{type(value).__name__} {value!r}"


def _known_fields(loc: Loc) -> set[str]:
    """Field names (as written in YAML) of the model found at ``loc`` in a spec."""
    current: Any = WorkflowSpec
    for part in loc:
        current = _step(current, part)
        if current is None:
            return set()
    model = _model_of(current)
    if model is None:
        return set()
    return {f.alias or name for name, f in model.model_fields.items()}


def _step(tp: Any, part: str | int) -> Any:
    model = _model_of(tp)
    if model is not None and isinstance(part, str):
        for name, f in model.model_fields.items():
            if part in (name, f.alias):
                return f.annotation
        return None
    for arg in _unwrap(tp):
        origin = typing.get_origin(arg)
        if origin is list and isinstance(part, int):
            return typing.get_args(arg)[0]
        if origin is dict:
            return typing.get_args(arg)[1]
    return None


def _model_of(tp: Any) -> type[BaseModel] | None:
    for arg in _unwrap(tp):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def _unwrap(tp: Any) -> Iterator[Any]:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        yield from _unwrap(typing.get_args(tp)[0])
    elif origin is typing.Union or origin is types.UnionType:
        for arg in typing.get_args(tp):
            yield from _unwrap(arg)
    else:
        yield tp
