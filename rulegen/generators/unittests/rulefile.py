"""The alert rules of the rule file under test: the tests expect exactly what it holds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rulegen.generators.unittests.errors import UnitTestError

__all__ = ["AlertRules"]


class AlertRules:
    """The alert rules of a rule file, found by name and identifying labels."""

    def __init__(self, rule_file: Mapping[str, Any]) -> None:
        self.rules: list[Mapping[str, Any]] = [
            r for g in rule_file["groups"] for r in g["rules"] if "alert" in r
        ]

    def find(self, alert: str, **labels: str) -> Mapping[str, Any]:
        """The one ``alert`` rule with ``labels``; :class:`UnitTestError` if not exactly one."""
        found = [
            r
            for r in self.rules
            if r["alert"] == alert and all(r["labels"].get(k) == v for k, v in labels.items())
        ]
        if len(found) != 1:
            raise UnitTestError(f"the rule file holds {len(found)} {alert} alert(s) for {labels}")
        return found[0]
