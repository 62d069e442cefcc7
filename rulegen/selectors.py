"""Prometheus series selectors: parse, render and match (for generated test series)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

__all__ = ["Matcher", "Selector", "escape", "parse_matcher", "parse_selector", "slo_selector"]

Op = Literal["=", "!=", "=~", "!~"]
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r"\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*")
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
_UNESCAPE = {"n": "\n", "t": "\t", "\\": "\\", '"': '"'}


def escape(value: str) -> str:
    """Escape a label value for a double-quoted PromQL string."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def slo_selector(record: str, slo_name: str) -> str:
    """A recorded series of one SLO, ``record{slo="..."}`` (``record`` may be empty: the
    label set alone)."""
    return f'{record}{{slo="{escape(slo_name)}"}}'


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: _UNESCAPE.get(m.group(1), m.group(1)), value)


@dataclass(frozen=True)
class Matcher:
    """One label matcher, e.g. ``outcome=~"rejected|timeout"``."""

    label: str
    op: Op
    value: str

    def render(self) -> str:
        """The matcher in PromQL."""
        return f'{self.label}{self.op}"{escape(self.value)}"'

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a series with ``labels`` satisfies this matcher (regexes are anchored)."""
        actual = labels.get(self.label, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = re.fullmatch(self.value, actual) is not None
        return found if self.op == "=~" else not found


@dataclass(frozen=True)
class Selector:
    """A metric name with label matchers; the counters an SLI reads."""

    metric: str
    matchers: tuple[Matcher, ...]

    def render(self) -> str:
        """The selector in PromQL."""
        if not self.matchers:
            return self.metric
        return f"{self.metric}{{{','.join(m.render() for m in self.matchers)}}}"

    def matches(self, metric: str, labels: Mapping[str, str]) -> bool:
        """Whether a series named ``metric`` with ``labels`` is selected."""
        return metric == self.metric and all(m.matches(labels) for m in self.matchers)

    def equalities(self) -> dict[str, str]:
        """Labels fixed by ``=`` matchers."""
        return {m.label: m.value for m in self.matchers if m.op == "="}


def parse_selector(text: str) -> Selector:
    """Parse ``name{label="value",...}``; raise ``ValueError`` with the position on bad input."""
    text = text.strip()
    name = _NAME.match(text)
    if name is None:
        raise ValueError(f"invalid selector {text!r}: expected a metric name first")
    pos = name.end()
    matchers: list[Matcher] = []
    rest = text[pos:]
    if not rest:
        return Selector(name.group(0), ())
    if not rest.startswith("{") or not rest.rstrip().endswith("}"):
        raise ValueError(
            f"invalid selector {text!r}: expected '{{label=\"value\", ...}}' after the metric name "
            "(functions and range selectors are not allowed: the rules apply them)"
        )
    body = rest.strip()[1:-1]
    i = 0
    while i < len(body):
        if body[i] in " ,":
            i += 1
            continue
        label = _LABEL.match(body, i)
        if label is None:
            raise ValueError(f"invalid selector {text!r}: expected a label matcher at {body[i:]!r}")
        string = _STRING.match(body, label.end())
        if string is None:
            raise ValueError(
                f"invalid selector {text!r}: expected a double-quoted value after "
                f"'{label.group(1)}{label.group(2)}'"
            )
        op: Op = label.group(2)  # type: ignore[assignment]
        value = _unescape(string.group(1))
        if op in ("=~", "!~"):
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(
                    f"invalid regular expression {value!r} in {text!r}: {exc}"
                ) from exc
        matchers.append(Matcher(label.group(1), op, value))
        i = string.end()
    return Selector(name.group(0), tuple(matchers))


def parse_matcher(text: str) -> Matcher:
    """Parse one label matcher, ``label="value"`` (or ``!=``, ``=~``, ``!~``); raise
    ``ValueError`` on anything else."""
    matchers = parse_selector("x{" + text + "}").matchers
    if len(matchers) != 1:
        raise ValueError(f"invalid matcher {text!r}: expected exactly one label matcher")
    return matchers[0]
