"""Prometheus' own formats: rule files, ``promtool test rules`` files, Grafana dashboards
as JSON."""

from __future__ import annotations

from rulegen import writer
from rulegen.artifacts import Artifacts, Dashboard, RuleFile
from rulegen.formats.target import DASHBOARDS_DIR, RULES_DIR, TESTS_DIR, Target
from rulegen.writer import OutputFile

__all__ = ["dashboard_files", "dashboard_json", "rule_file", "rule_files_and_tests"]


def rule_file(rules: RuleFile, target: Target) -> OutputFile:
    """``rules/<name>.rules.yml``: a Prometheus rule file."""
    return OutputFile(
        f"{RULES_DIR}/{rules.name}.rules.yml",
        writer.header(rules.source, target.command) + writer.dump_yaml(rules.content),
    )


def rule_files_and_tests(artifacts: Artifacts, target: Target) -> list[OutputFile]:
    """Each rule file followed by its promtool test (``tests/<name>.test.yml``)."""
    files = []
    for rules, test in artifacts.units:
        files.append(rule_file(rules, target))
        if test is not None:
            files.append(
                OutputFile(
                    f"{TESTS_DIR}/{test.name}.test.yml",
                    writer.header(test.source, target.command) + writer.dump_yaml(test.content),
                )
            )
    return files


def dashboard_json(board: Dashboard) -> str:
    """A dashboard's JSON text, marked as generated."""
    return writer.dump_json(board.board, board.source)


def dashboard_files(artifacts: Artifacts) -> list[OutputFile]:
    """``dashboards/<name>.json``: one file per dashboard, for Grafana's file provisioning."""
    return [
        OutputFile(f"{DASHBOARDS_DIR}/{board.name}.json", dashboard_json(board))
        for board in artifacts.dashboards
    ]
