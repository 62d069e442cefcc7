"""Rule files for the rulers that are not Prometheus itself: Grafana Mimir's and Cortex's
ruler (a namespace per file), Thanos Ruler (partial responses refused), vmalert.

The rules are the same as Prometheus'; only what each ruler needs around them changes,
except vmalert's rises, which cannot read results recorded in the same evaluation.
"""

from __future__ import annotations

from typing import Any, Final

from rulegen import names, promql, selectors
from rulegen.artifacts import Artifacts, RuleFile
from rulegen.durations import format_duration
from rulegen.formats.prometheus import rule_file
from rulegen.formats.target import Target
from rulegen.selectors import escape
from rulegen.writer import OutputFile

__all__ = [
    "MIMIR_LIMITS",
    "mimir_limit_notes",
    "namespaced_files",
    "thanos_files",
    "vmalert_files",
    "vmalert_notes",
]

#: Mimir's default per-tenant ruler limits, by the name of the setting.
MIMIR_LIMITS: Final = {"ruler_max_rules_per_rule_group": 20, "ruler_max_rule_groups_per_tenant": 70}


def _with(rules: RuleFile, content: dict[str, Any]) -> RuleFile:
    return RuleFile(rules.name, rules.source, content)


def namespaced_files(artifacts: Artifacts, target: Target) -> list[OutputFile]:
    """Rule files for ``mimirtool rules load`` and ``cortextool rules load``: each file
    names its ruler namespace, the file's stem (the SLO's name, or
    ``<workflow>-zero-tolerance``), so that loading a file replaces that SLO's groups."""
    return [
        rule_file(_with(rules, {"namespace": rules.name, **rules.content}), target)
        for rules in artifacts.rule_files
    ]


def mimir_limit_notes(artifacts: Artifacts) -> list[str]:
    """What the rules need beyond Mimir's default per-tenant ruler limits."""
    groups = [g for rules in artifacts.rule_files for g in rules.content["groups"]]
    needed = {
        "ruler_max_rules_per_rule_group": max((len(g["rules"]) for g in groups), default=0),
        "ruler_max_rule_groups_per_tenant": len(groups),
    }
    return [
        f"mimir: the rules need {setting} of at least {value} for the tenant "
        f"(Mimir's default is {MIMIR_LIMITS[setting]}); a group cannot be split, since its "
        "rules read each other's results in order"
        for setting, value in needed.items()
        if value > MIMIR_LIMITS[setting]
    ]


def _abort_on_partial_response(group: dict[str, Any]) -> dict[str, Any]:
    out = {key: value for key, value in group.items() if key != "rules"}
    out["partial_response_strategy"] = "abort"
    out["rules"] = group["rules"]
    return out


def thanos_files(artifacts: Artifacts, target: Target) -> list[OutputFile]:
    """Rule files for Thanos Ruler: every group refuses partial responses
    (``partial_response_strategy: abort``), since an answer missing a store would count
    fewer runs than happened; the evaluation fails visibly instead."""
    return [
        rule_file(
            _with(
                rules, {"groups": [_abort_on_partial_response(g) for g in rules.content["groups"]]}
            ),
            target,
        )
        for rules in artifacts.rule_files
    ]


def _labelled(expr: str, labels: dict[str, str]) -> str:
    """``expr`` with ``labels`` set on every series (MetricsQL's ``label_set``): the series
    a recording rule with those labels writes."""
    pairs = ", ".join(f'"{escape(k)}", "{escape(v)}"' for k, v in labels.items())
    return f"label_set({expr}, {pairs})"


#: The name, in a vmalert rise's MetricsQL ``WITH``, of this evaluation's per-target sums.
_NOW: Final = "sums_now"
#: The label that marks, among a vmalert rise's series, the per-target sums it rose to.
_PART_LABEL: Final = "agent_slo_part"
_SUMS: Final = "sums"


def _vmalert_rise(rule: dict[str, Any], counter: dict[str, Any], kind: str) -> dict[str, Any]:
    """The rise computed from the raw counters: the sum over targets of each target's rise
    from the sums this rule recorded at the previous evaluation, and those sums for the
    next (its series with ``agent_slo_part="sums"``). The sums the next evaluation rises
    from are exactly the ones this one rose to, whatever the counters do between two
    rules' queries."""
    slo = rule["labels"][names.LABEL_SLO]
    sums = f'{rule["record"]}{{{names.LABEL_SLO}="{escape(slo)}",{_PART_LABEL}="{_SUMS}"}}'
    previous = promql.last_over_time(
        promql.offset(promql.range_vector(sums, format_duration(promql.GAP_BRIDGE)), "1ms")
    )
    rise = promql.rise_of(slo, kind, _NOW, f'label_del({previous}, "{_PART_LABEL}")')
    now = _labelled(counter["expr"], counter["labels"])
    recorded = _labelled(_NOW, {_PART_LABEL: _SUMS})
    return {**rule, "expr": f"WITH ({_NOW} = {now})\n{rise}\nor\n{recorded}"}


def _vmalert_group(group: dict[str, Any]) -> dict[str, Any]:
    counters = {rule["record"]: rule for rule in group["rules"] if "record" in rule}
    rules = []
    for rule in group["rules"]:
        record = rule.get("record", "")
        kind = record.removeprefix("slo:").removesuffix(":rise")
        if record == names.rec_rise(kind) and names.rec_counter(kind) in counters:
            rules.append(_vmalert_rise(rule, counters[names.rec_counter(kind)], kind))
            continue
        expr = rule["expr"]
        for rise in (r for r in group["rules"] if r.get("record", "").endswith(":rise")):
            selector = selectors.slo_selector(rise["record"], rise["labels"][names.LABEL_SLO])
            expr = expr.replace(selector, f'{selector[:-1]},{_PART_LABEL}=""}}')
        rules.append({**rule, "expr": expr})
    return {**group, "rules": rules}


def vmalert_files(artifacts: Artifacts, target: Target) -> list[OutputFile]:
    """Rule files for vmalert (``-rule=rules/*.rules.yml``): Prometheus' rules, except the
    rises. vmalert does not chain rules within a group (a rule reads the results of the
    rules before it one evaluation late, through remote write), so there each rise computes
    this evaluation's per-target sums from the raw counters itself and records them beside
    the rise, for the next evaluation to rise from; the windows up to an hour sum the rise
    alone."""
    return [
        rule_file(
            _with(rules, {"groups": [_vmalert_group(g) for g in rules.content["groups"]]}), target
        )
        for rules in artifacts.rule_files
    ]


def vmalert_notes(artifacts: Artifacts) -> list[str]:
    """What the vmalert rules need of their datasource: each rise reads the per-target sums
    the previous evaluation recorded, so those must be searchable in VictoriaMetrics by the
    next evaluation (tests/test_victoriametrics.py)."""
    rises = [
        rule
        for rules in artifacts.rule_files
        for group in rules.content["groups"]
        for rule in group["rules"]
        if rule.get("record", "").endswith(":rise")
    ]
    if not rises:
        return []
    return [
        "vmalert: the windows of an hour or less count every run once each evaluation's "
        "recorded series are searchable in VictoriaMetrics by the next evaluation: run "
        "VictoriaMetrics with -search.latencyOffset=0s and keep vmalert's -evaluationInterval "
        "(1m by default) above its -remoteWrite.flushInterval (5s by default) plus a second; "
        "every evaluation that cannot read yet the sums recorded before it counts the same "
        "runs again (flushed every 10s and evaluated every 3s, a burst counts 3 times over: "
        "tests/test_victoriametrics.py; docs/scaling.md)"
    ]
