"""Rule files for the rulers that are not Prometheus itself: Grafana Mimir's and Cortex's
ruler (a namespace per file), Thanos Ruler (partial responses refused), vmalert.

The rules are the same as Prometheus'; only what each ruler needs around them changes.
"""

from __future__ import annotations

from typing import Any, Final

from rulegen import burn, names
from rulegen.artifacts import Artifacts, RuleFile
from rulegen.durations import parse_duration
from rulegen.formats.prometheus import rule_file
from rulegen.formats.target import Target
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


def vmalert_files(artifacts: Artifacts, target: Target) -> list[OutputFile]:
    """Rule files for vmalert (``-rule=rules/*.rules.yml``): Prometheus' format, which
    vmalert reads as it is."""
    return [rule_file(rules, target) for rules in artifacts.rule_files]


def vmalert_notes(artifacts: Artifacts) -> list[str]:
    """The burn-rate tiers vmalert never fires. Windows of an hour or less sum each
    evaluation's rise, which a rule computes from the results of the rules before it in its
    group; vmalert does not chain rules within a group (it reads them back through remote
    write, one evaluation late), so those windows read 0 there."""
    notes = []
    for rules in artifacts.rule_files:
        tiers = [
            f"{labels[names.LABEL_LONG_WINDOW]}/{labels[names.LABEL_SHORT_WINDOW]}"
            for group in rules.content["groups"]
            for rule in group["rules"]
            if rule.get("alert") == names.ALERT_BURN
            for labels in [rule["labels"]]
            if parse_duration(labels[names.LABEL_SHORT_WINDOW]) <= burn.RAW_WINDOW_MAX
        ]
        if tiers:
            notes.append(
                f"vmalert: {rules.name}: the {' and '.join(tiers)} burn-rate tier(s) never fire "
                "under vmalert, which does not chain rules within a group (their windows of an "
                "hour or less read 0 there); evaluate the rules in Prometheus and remote-write "
                "to VictoriaMetrics for paging (docs/scaling.md)"
            )
    return notes
