"""Rule files for Grafana Mimir's and Cortex's ruler (a namespace per file) and Thanos Ruler
(partial responses refused): the rules are the same as Prometheus'; only what each ruler needs
around them changes. vmalert's: :mod:`rulegen.formats.vmalert`.
"""

from __future__ import annotations

from typing import Any, Final

from rulegen.artifacts import Artifacts, RuleFile
from rulegen.formats.prometheus import rule_file
from rulegen.formats.target import Target
from rulegen.writer import OutputFile

__all__ = [
    "MIMIR_LIMITS",
    "mimir_limit_notes",
    "namespaced_files",
    "thanos_files",
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
