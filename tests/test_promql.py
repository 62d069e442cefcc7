"""PromQL builders: selectors narrowed through the selector model, operators and layout."""

from __future__ import annotations

import jinja2
import pytest

from rulegen import promql
from rulegen.selectors import Matcher, parse_selector

COUNTERS = parse_selector('agent_outcomes_total{workflow="w",outcome=~"rejected|timeout"}')


def test_with_matcher_escapes_the_value() -> None:
    """A matcher added to a selector is rendered, and escaped, with the others."""
    narrowed = promql.with_matcher(COUNTERS, Matcher("prompt", "=", 'v"1'))
    assert narrowed.render() == (
        'agent_outcomes_total{workflow="w",outcome=~"rejected|timeout",prompt="v\\"1"}'
    )


@pytest.mark.parametrize(("op", "opposite"), [("=", "!="), ("!=", "="), ("=~", "!~"), ("!~", "=~")])
def test_negate(op: str, opposite: str) -> None:
    """Each matcher operator negates to its opposite."""
    (matcher,) = parse_selector(f'x{{a{op}"b"}}').matchers
    assert promql.negate(matcher) == parse_selector(f'x{{a{opposite}"b"}}').matchers[0]


def test_canary_and_baseline() -> None:
    """The canary's runs match its matcher; the baseline's, the opposite one."""
    canary = Matcher("prompt_version", "=", "v42")
    assert promql.canary_runs(COUNTERS, canary, "1h") == (
        'sum(increase(agent_outcomes_total{workflow="w",outcome=~"rejected|timeout",'
        'prompt_version="v42"}[1h]))'
    )
    assert 'prompt_version!="v42"}[1h]))' in promql.baseline_runs(COUNTERS, canary, "1h")


def test_binary_matching_and_layout() -> None:
    """Operators take on() or ignoring() labels, inline or on a line of their own."""
    assert promql.binary("a", "*", "b", on=("slo",)) == "a * on(slo) b"
    assert promql.binary("a", "and", "b", on=(), multiline=True) == "a\nand on()\nb"
    assert promql.binary("a", ">=", 2, ignoring=("window", "x")) == "a >= ignoring(window, x) 2"
    with pytest.raises(ValueError, match="not both"):
        promql.binary("a", "+", "b", on=("x",), ignoring=("y",))


def test_parens_block_indents() -> None:
    """A block puts the expression, indented, between parentheses on lines of their own."""
    assert promql.parens("a\nor\nb", block=True) == "(\n  a\n  or\n  b\n)"


def test_runs_by_and_shares() -> None:
    """Increases summed by labels, and shares over a positive denominator."""
    whole = parse_selector('m{w="x"}')
    part = promql.with_matcher(whole, promql.outcomes_matcher(["a", "b"]))
    assert promql.runs_by(("task",), whole, "1h") == 'sum by (task) (increase(m{w="x"}[1h]))'
    assert promql.share_of_runs(part, whole, "1h") == (
        'sum(increase(m{w="x",outcome=~"a|b"}[1h])) / (sum(increase(m{w="x"}[1h])) > 0)'
    )


def test_a_missing_template_variable_is_an_error() -> None:
    """Rendering a template without one of its variables raises instead of leaving a gap."""
    with pytest.raises(jinja2.UndefinedError):
        promql.render("sum_steps", step_record="x")
