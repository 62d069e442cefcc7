"""Rule files for vmalert: Prometheus' rules, except how the windows up to an hour count.

Prometheus evaluates a group's rules in order, each reading the results of those before it
in the same evaluation; vmalert sends its results to VictoriaMetrics by remote write, where
a later evaluation finds them once they are flushed and searchable: one evaluation later at
best, several when a flush is late. A rise summed over a window (Prometheus' rules) would
count again, at every evaluation that cannot read yet the one before it, the runs that one
counted already.

So on vmalert each target keeps a running count instead (``slo:<kind>:tally``, three series
per target told apart by ``agent_slo_part``):

- ``sums``: the target's sums at this evaluation, computed from the raw counters;
- ``count``: the count it read last (or nothing) plus the target's rise since the sums it
  read last: whichever earlier evaluation it can read, the count comes out the same, as a
  running total does, so a late flush delays nothing and counts nothing twice;
- ``since``: the time this count started (a target unseen for an hour starts again).

A window of up to an hour is then, for each target, its count now (or when it was last seen
within the window) less its count at the window's start, or all of it when the count started
within the window; summed over targets. Each window computes the counts of this evaluation
itself, from the raw counters and the counts recorded before, in a MetricsQL ``WITH``.
"""

from __future__ import annotations

import re
from typing import Any, Final

from rulegen import names, promql
from rulegen.artifacts import Artifacts, RuleFile
from rulegen.durations import format_duration, format_duration_ms, parse_duration_ms
from rulegen.formats.prometheus import rule_file
from rulegen.formats.target import Target
from rulegen.selectors import escape
from rulegen.writer import OutputFile

__all__ = ["vmalert_files", "vmalert_notes"]

#: The label that tells apart a tally's three series per target.
PART_LABEL: Final = "agent_slo_part"
COUNT, SUMS, SINCE = "count", "sums", "since"

#: A window of Prometheus' rules: the rises of the evaluations within it.
_WINDOW = re.compile(r'sum_over_time\(slo:(\w+):rise\{slo="((?:[^"\\]|\\.)*)"\}\[(\w+)\]\)')


def _labelled(expr: str, labels: dict[str, str]) -> str:
    """``expr`` with ``labels`` set on every series (MetricsQL's ``label_set``)."""
    pairs = ", ".join(f'"{escape(k)}", "{escape(v)}"' for k, v in labels.items())
    return f"label_set({expr}, {pairs})"


def _part(kind: str, slo: str, part: str, window: str, at: str = "") -> str:
    """The latest of a tally's ``part`` series within ``window`` (before ``at`` ago), as
    per-target series without the part label."""
    selector = f'{names.rec_tally(kind)}{{slo="{escape(slo)}",{PART_LABEL}="{part}"}}'
    series = promql.range_vector(selector, window)
    latest = promql.last_over_time(promql.offset(series, at) if at else series)
    return f'label_del({latest}, "{PART_LABEL}")'


def _definitions(kind: str, slo: str, counter: dict[str, Any]) -> list[str]:
    """The ``WITH`` definitions of ``kind``'s counts at this evaluation: ``<kind>_count``
    and ``<kind>_since``, per target seen now."""
    gap = format_duration(promql.GAP_BRIDGE)
    sums = f"{kind}_sums"
    rise = promql.rise_of(
        slo, kind, sums, _part(kind, slo, SUMS, gap, at="1ms"), summed=False
    ).replace("\n", "\n  ")
    return [
        f"{sums} = {_labelled(counter['expr'], counter['labels'])}",
        f"{kind}_rise = {rise}",
        f"{kind}_count = {_part(kind, slo, COUNT, gap, at='1ms')} + {kind}_rise or {kind}_rise",
        f"{kind}_since = {_part(kind, slo, SINCE, gap, at='1ms')} and {sums}"
        f" or {sums} * 0 + time()",
    ]


def _window(kind: str, slo: str, window_ms: int) -> str:
    """The events of ``kind`` over the window, from the counts (``WITH`` names of
    :func:`_definitions`): per target, its count at the end (now, or last seen within the
    window) less its count at the start, unless it started counting within the window."""
    window = format_duration_ms(window_ms)
    end = f"({kind}_count or {_part(kind, slo, COUNT, window)})"
    since = f"({kind}_since or {_part(kind, slo, SINCE, window)})"
    start = _part(kind, slo, COUNT, format_duration(promql.GAP_BRIDGE), at=window)
    return (
        f"sum(\n    {end}\n      -\n    ({start} and {since} <= time() - {window_ms / 1000:g})"
        f"\n    or\n    {end}\n  )"
    )


def _with(definitions: list[str], expr: str) -> str:
    body = ",\n".join(f"  {d}" for d in definitions)
    return f"WITH (\n{body}\n)\n{expr}"


def _tally_rule(rise: dict[str, Any], counter: dict[str, Any], kind: str) -> dict[str, Any]:
    """The tally of ``kind`` in place of its rise: each target's count, sums and since."""
    slo = rise["labels"][names.LABEL_SLO]
    parts = "\nor\n".join(
        _labelled(f"{kind}_{name}", {PART_LABEL: part})
        for name, part in (("count", COUNT), ("sums", SUMS), ("since", SINCE))
    )
    return {
        "record": names.rec_tally(kind),
        "expr": _with(_definitions(kind, slo, counter), parts),
        "labels": rise["labels"],
    }


def _windowed(rule: dict[str, Any], counters: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``rule`` with every window summing rises read from the tallies instead."""
    found = list(_WINDOW.finditer(rule["expr"]))
    if not found:
        return rule
    definitions: list[str] = []
    expr = rule["expr"]
    slo = rule["labels"][names.LABEL_SLO]
    for match in found:
        kind, read, window = match.group(1), match.group(2), match.group(3)
        if read != escape(slo):  # the windows of an SLO read its own rises
            name = rule.get("record") or rule.get("alert")
            raise ValueError(f"vmalert: rule {name} of SLO {slo} reads {read}'s rise")
        # the window is open at its start (promql.open_range): a whole duration less 1 ms
        expr = expr.replace(match.group(0), _window(kind, slo, parse_duration_ms(window) + 1))
        for definition in _definitions(kind, slo, counters[names.rec_counter(kind)]):
            if definition not in definitions:
                definitions.append(definition)
    return {**rule, "expr": _with(definitions, expr)}


def _group(group: dict[str, Any]) -> dict[str, Any]:
    counters = {rule["record"]: rule for rule in group["rules"] if "record" in rule}
    rules = []
    for rule in group["rules"]:
        record = rule.get("record", "")
        kind = record.removeprefix("slo:").removesuffix(":rise")
        if record == names.rec_rise(kind) and names.rec_counter(kind) in counters:
            rules.append(_tally_rule(rule, counters[names.rec_counter(kind)], kind))
        else:
            rules.append(_windowed(rule, counters))
    for rule in rules:  # no tally is a rise: a rule left reading one would read nothing
        if ":rise{" in rule["expr"]:
            name = rule.get("record") or rule.get("alert")
            raise ValueError(f"vmalert: rule {name} of group {group['name']} reads a rise")
    return {**group, "rules": rules}


def vmalert_files(artifacts: Artifacts, target: Target) -> list[OutputFile]:
    """Rule files for vmalert (``-rule=rules/*.rules.yml``): Prometheus' rules, with each
    rise replaced by a tally and each window up to an hour counted from the tallies."""
    return [
        rule_file(
            RuleFile(
                rules.name,
                rules.source,
                {**rules.content, "groups": [_group(g) for g in rules.content["groups"]]},
            ),
            target,
        )
        for rules in artifacts.rule_files
    ]


def vmalert_notes(artifacts: Artifacts) -> list[str]:
    """What the vmalert rules need of their datasource."""
    tallies = [
        rule
        for rules in artifacts.rule_files
        for group in rules.content["groups"]
        for rule in group["rules"]
        if rule.get("record", "").endswith(":rise")
    ]
    if not tallies:
        return []
    return [
        "vmalert: the windows of an hour or less count from per-target tallies the rules "
        "record and read back: run VictoriaMetrics with -search.latencyOffset=0s, so that "
        "an evaluation reads the counters and tallies up to its own time; a tally flushed "
        "late delays nothing and counts nothing twice (tests/test_victoriametrics.py; "
        "docs/scaling.md)"
    ]
