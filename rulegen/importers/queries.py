"""Counter selectors read out of other tools' PromQL queries.

agent-slo's ratio SLIs take counter selectors and count their increases exactly; other
tools take whole queries. A query carries over when it is the rate (or increase) of one
counter selector, summed, as in ``sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))``,
or the difference of two such sums (``total − good``, which makes the SLI a ``good:`` one).
Anything else (subqueries, gauges, histograms' quantiles, sums of several counters) is
reported with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rulegen.selectors import Matcher, Op, Selector

__all__ = [
    "Difference",
    "QueryError",
    "ratio_selectors",
    "read_counter_query",
]

#: A template variable for the window, as Sloth writes it (``{{.window}}``).
_WINDOW_VARIABLE = re.compile(r"\{\{\s*\.window\s*\}\}")
_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
    | (?P<duration>(?:\d+(?:ms|[smhdwy]))+)
    | (?P<number>\d+(?:\.\d+)?)
    | (?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)
    | (?P<symbol>=~|!~|!=|==|>=|<=|[-+*/%^(){}\[\],=<>:@])
    )""",
    re.VERBOSE,
)
_RANGE_FUNCTIONS = ("rate", "increase")
_UNESCAPE = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'"}


class QueryError(ValueError):
    """A query that is not the summed rate of one counter selector (or two, subtracted)."""


@dataclass(frozen=True)
class Difference:
    """``sum(rate(minuend)) - sum(rate(subtrahend))``."""

    minuend: Selector
    subtrahend: Selector


def read_counter_query(query: str) -> Selector | Difference:
    """The counter selector a query sums the rate of, or the two a difference subtracts.

    A bare selector is accepted too; a trailing ``or vector(0)`` (which only turns "no
    data" into 0, as agent-slo's rules do anyway) is ignored.
    """
    text = _WINDOW_VARIABLE.sub("5m", query)
    if "{{" in text:
        raise QueryError("the query uses a template variable other than {{.window}}")
    parser = _Parser(_tokens(text))
    result = parser.expression()
    parser.skip_or_vector_zero()
    if not parser.done():
        raise QueryError(f"unexpected {parser.peek()!r} after the counter")
    return result


def ratio_selectors(
    numerator_kind: str, numerator: Selector | Difference, total: Selector | Difference
) -> tuple[str, Selector, Selector]:
    """The ratio SLI of a numerator (``errors`` or ``good``) over a total, as
    ``(kind, numerator, total)``; a numerator written as ``total − x`` makes ``x`` the
    other kind (errors = total − good: ``good`` is ``x``)."""
    if isinstance(total, Difference):
        raise QueryError("the total is a difference of counters, not one counter")
    if isinstance(numerator, Selector):
        return numerator_kind, numerator, total
    if not _same(numerator.minuend, total):
        raise QueryError(
            "the query subtracts from a counter other than the total "
            f"({numerator.minuend.render()} is not {total.render()})"
        )
    other = "good" if numerator_kind == "errors" else "errors"
    return other, numerator.subtrahend, total


def _same(a: Selector, b: Selector) -> bool:
    return a.metric == b.metric and set(a.matchers) == set(b.matchers)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise QueryError(f"cannot read the query at {text[pos:].strip()[:30]!r}")
        kind = match.lastgroup
        assert kind is not None
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


class _Parser:
    """Recursive descent over the few forms that carry over."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> str:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else ""

    def done(self) -> bool:
        return self.pos >= len(self.tokens)

    def take(self, expected: str | None = None) -> str:
        value = self.peek()
        if self.done() or (expected is not None and value != expected):
            want = f"{expected!r}" if expected else "more"
            raise QueryError(f"expected {want}, found {value or 'the end'!r}")
        self.pos += 1
        return value

    def expression(self) -> Selector | Difference:
        left = self.term()
        if self.peek() != "-":
            return left
        self.take("-")
        right = self.term()
        if isinstance(left, Difference) or isinstance(right, Difference):
            raise QueryError("only one counter can be subtracted from another")
        return Difference(left, right)

    def term(self) -> Selector | Difference:
        word = self.peek()
        if word == "(":
            self.take("(")
            inner = self.expression()
            self.take(")")
            return inner
        if word == "sum":
            self.take("sum")
            if self.peek() in ("by", "without"):
                raise QueryError(
                    f"'sum {self.peek()} (...)' splits the SLO into groups; agent-slo counts "
                    "an SLO as a whole"
                )
            self.take("(")
            selector = self.range_function()
            self.take(")")
            return selector
        if word in _RANGE_FUNCTIONS:
            raise QueryError(f"'{word}(...)' without sum(): one ratio per series")
        return self.selector()

    def range_function(self) -> Selector:
        function = self.take()
        if function not in _RANGE_FUNCTIONS:
            raise QueryError(
                f"'{function}' is not rate() or increase() of a counter"
                if function.isidentifier()
                else f"expected rate() or increase() of a counter, found {function!r}"
            )
        self.take("(")
        selector = self.selector()
        self.take("[")
        kind = self.tokens[self.pos][0] if not self.done() else ""
        if kind != "duration":
            raise QueryError(f"expected a range such as [5m], found {self.peek()!r}")
        self.take()
        if self.peek() == ":":
            raise QueryError("a subquery is not a counter's increase")
        self.take("]")
        self.take(")")
        return selector

    def selector(self) -> Selector:
        kind = self.tokens[self.pos][0] if not self.done() else ""
        if kind == "number":
            raise QueryError(f"arithmetic on the number {self.peek()} is not a counter")
        if kind != "name":
            raise QueryError(f"expected a counter's name, found {self.peek() or 'the end'!r}")
        metric = self.take()
        if metric in ("sum", "rate", "increase", "vector", "or", "and", "unless"):
            raise QueryError(f"expected a counter's name, found {metric!r}")
        if self.peek() == "(":
            raise QueryError(f"'{metric}(...)' is not rate() or increase() of a counter")
        matchers: list[Matcher] = []
        if self.peek() == "{":
            self.take("{")
            while self.peek() != "}":
                matchers.append(self.matcher())
                if self.peek() == ",":
                    self.take(",")
                elif self.peek() != "}":
                    raise QueryError(f"expected ',' or '}}' in the selector, found {self.peek()!r}")
            self.take("}")
        return Selector(metric, tuple(matchers))

    def matcher(self) -> Matcher:
        if self.done() or self.tokens[self.pos][0] != "name":
            raise QueryError(f"expected a label name, found {self.peek()!r}")
        label = self.take()
        op = self.take()
        if op not in ("=", "!=", "=~", "!~"):
            raise QueryError(f"expected a label matcher operator after {label!r}, found {op!r}")
        if self.done() or self.tokens[self.pos][0] != "string":
            raise QueryError(f"expected a quoted value after '{label}{op}'")
        value = _unquote(self.take())
        if op in ("=~", "!~"):
            try:
                re.compile(value)
            except re.error as exc:
                raise QueryError(f"invalid regular expression {value!r}: {exc}") from exc
        operator: Op = op  # type: ignore[assignment]
        return Matcher(label, operator, value)

    def skip_or_vector_zero(self) -> None:
        """Skip ``or vector(0)`` and ``or on() vector(0)`` at the end of the query."""
        start = self.pos
        if self.peek().lower() != "or":
            return
        self.take()
        if self.peek() == "on":
            self.take("on")
            self.take("(")
            self.take(")")
        if self.peek() == "vector":
            self.take("vector")
            self.take("(")
            if self.peek() == "0":
                self.take("0")
                self.take(")")
                return
        self.pos = start


def _unquote(token: str) -> str:
    body = token[1:-1]
    if token[0] == "`":
        return body
    return re.sub(r"\\(.)", lambda m: _UNESCAPE.get(m.group(1), m.group(1)), body)
