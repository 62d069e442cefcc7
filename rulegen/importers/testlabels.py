"""Label values that let the generated promtool tests build series for imported selectors.

The generated tests build a series from the selectors' ``=`` matchers; a regular expression
or a negative matcher needs an example value (``sli.ratio.test_labels``). These are found
from the expression itself where that is easy (``(5..|429)`` gives ``500``), checked
against the matchers, and left out otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from rulegen.selectors import Matcher, Selector

__all__ = ["find_test_labels"]

_COMMON = ("", "0", "200", "500", "x", "other")


def find_test_labels(
    kind: str, numerator: Selector, total: Selector
) -> dict[str, dict[str, str]] | None:
    """``test_labels`` for a ratio SLI whose ``kind`` (``errors`` or ``good``) selector is
    ``numerator``: only the labels the ``=`` matchers do not give; ``None`` if no example
    is found."""
    other = "good" if kind == "errors" else "errors"
    same_metric = numerator.metric == total.metric
    base_num = {**(total.equalities() if same_metric else {}), **numerator.equalities()}
    must_num = [*numerator.matchers, *(total.matchers if same_metric else ())]
    found_num = _satisfy(base_num, must_num, None)
    base_rest = total.equalities()
    found_rest = _satisfy(base_rest, list(total.matchers), numerator if same_metric else None)
    if found_num is None or found_rest is None:
        return None
    out: dict[str, dict[str, str]] = {}
    for key, base, found in ((kind, base_num, found_num), (other, base_rest, found_rest)):
        extra = {k: v for k, v in found.items() if base.get(k, "") != v}
        if extra:
            out[key] = extra
    return out


def _satisfy(
    base: Mapping[str, str], must: list[Matcher], avoid: Selector | None
) -> dict[str, str] | None:
    """Labels over ``base`` that every ``must`` matcher accepts and ``avoid`` does not."""
    labels = dict(base)
    for matcher in must:
        if not matcher.matches(labels):
            value = _value(matcher, accepted=True)
            if value is None:
                return None
            labels[matcher.label] = value
    if avoid is not None and avoid.matches(avoid.metric, labels):
        fixed = {m.label for m in must}
        for matcher in avoid.matchers:
            if matcher.label in fixed:
                continue
            value = _value(matcher, accepted=False)
            if value is not None:
                labels[matcher.label] = value
                break
    ok = all(m.matches(labels) for m in must)
    if avoid is not None and avoid.matches(avoid.metric, labels):
        ok = False
    return labels if ok else None


def _value(matcher: Matcher, *, accepted: bool) -> str | None:
    """A label value ``matcher`` accepts (or, with ``accepted=False``, refuses)."""
    candidates: Iterable[str] = (matcher.value, f"{matcher.value}x", *_COMMON)
    if matcher.op in ("=~", "!~"):
        candidates = (*_examples(matcher.value), *_COMMON)
    for value in candidates:
        if matcher.matches({matcher.label: value}) == accepted:
            return value
    return None


def _examples(regex: str) -> list[str]:
    """Strings that a simple regular expression is likely to match, one per alternative."""
    out = []
    for alternative in _alternatives(regex):
        text = re.sub(r"\(([^()|]*)\|[^()]*\)", r"\1", alternative)  # a group's first branch
        text = re.sub(r"\[\^[^\]]*\]", "z", text)
        text = re.sub(r"\[\\?(.)[^\]]*\]", r"\1", text)
        text = text.replace(r"\d", "0").replace(r"\w", "a").replace(".", "0")
        text = re.sub(r"(.)\{(\d+)(?:,\d*)?\}", lambda m: m.group(1) * int(m.group(2)), text)
        text = re.sub(r"\\(.)", r"\1", re.sub(r"[?*+()^$]", "", text))
        out.append(text)
    return out


def _alternatives(regex: str) -> list[str]:
    """The top-level alternatives of ``regex``, outer parentheses removed."""
    while regex.startswith("(") and regex.endswith(")") and _closes_at_end(regex):
        regex = regex[1:-1]
    parts, depth, start = [], 0, 0
    for i, char in enumerate(regex):
        if char == "(" and (i == 0 or regex[i - 1] != "\\"):
            depth += 1
        elif char == ")" and regex[i - 1] != "\\":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(regex[start:i])
            start = i + 1
    parts.append(regex[start:])
    return parts


def _closes_at_end(regex: str) -> bool:
    """Whether the parenthesis opening ``regex`` closes at its very end."""
    depth = 0
    for i, char in enumerate(regex):
        depth += (char == "(") - (char == ")")
        if depth == 0:
            return i == len(regex) - 1
    return False
