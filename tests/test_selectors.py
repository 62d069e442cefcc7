"""Selectors: parsing, rendering and matching series."""

from __future__ import annotations

import pytest

from rulegen.selectors import Matcher, Selector, parse_matcher, parse_selector


def test_round_trip() -> None:
    """A parsed selector renders back to the same PromQL."""
    text = 'http_requests_total{job="api",code=~"5..",path!="/health"}'
    assert parse_selector(text).render() == text


def test_bare_metric() -> None:
    """A metric name alone is a selector without matchers."""
    assert parse_selector("up") == Selector("up", ())


@pytest.mark.parametrize(
    "text",
    ["rate(x[5m])", 'x{job="a"}[5m]', "x{job=a}", '{job="a"}', 'x{job="a"', 'x{code=~"("}'],
)
def test_rejects(text: str) -> None:
    """Functions, ranges, unquoted values, missing names and bad regexes are refused."""
    with pytest.raises(ValueError, match="invalid"):
        parse_selector(text)


def test_escaping() -> None:
    """Quotes, backslashes and newlines in values are escaped when rendered."""
    m = Matcher("task", "=", 'say "hi"\\\n')
    assert m.render() == 'task="say \\"hi\\"\\\\\\n"'
    assert parse_selector(f"x{{{m.render()}}}").matchers == (m,)


def test_matching_is_anchored() -> None:
    """Regex matchers match whole values, as Prometheus does."""
    sel = parse_selector('x{code=~"5.."}')
    assert sel.matches("x", {"code": "503"})
    assert not sel.matches("x", {"code": "5030"})
    assert not sel.matches("y", {"code": "503"})
    assert parse_selector('x{code!~"5.."}').matches("x", {"code": "200"})


def test_parse_matcher() -> None:
    """One label matcher parses; none, two or anything else is refused."""
    assert parse_matcher('prompt_version=~"v4.*"') == Matcher("prompt_version", "=~", "v4.*")
    for text in ["", 'a="x",b="y"', 'a="x"} or vector(1)', "a=x"]:
        with pytest.raises(ValueError, match="invalid"):
            parse_matcher(text)
