"""Golden tests: generated output for each case equals the reviewed files beside its spec.

Set AGENT_SLO_UPDATE_GOLDEN=1 to rewrite the expected files; review the diff before committing.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from rulegen import pipeline, writer

CASES = Path(__file__).parent / "golden" / "cases"
UPDATE = os.environ.get("AGENT_SLO_UPDATE_GOLDEN") == "1"


def _cases() -> list[str]:
    return sorted(p.name for p in CASES.iterdir() if p.is_dir())


def _generate(case: str) -> list[writer.OutputFile]:
    return pipeline.generate(pipeline.load([CASES / case / "spec.yaml"])).files


@pytest.mark.parametrize("case", _cases())
def test_golden(case: str) -> None:
    """Every generated file matches its reviewed copy byte for byte, and no file is missing."""
    expected_dir = CASES / case / "expected"
    files = _generate(case)
    if UPDATE:
        writer.write(expected_dir, files)
    assert writer.check(expected_dir, files) == []


@pytest.mark.parametrize("case", _cases())
def test_generation_is_byte_stable(case: str) -> None:
    """Generating twice gives identical bytes."""
    first = [(f.path, f.content) for f in _generate(case)]
    second = [(f.path, f.content) for f in _generate(case)]
    assert first == second


@pytest.mark.parametrize("case", _cases())
def test_promtool_accepts_golden_rules(case: str, promtool: str) -> None:
    """promtool check rules accepts every generated rule file."""
    rules = sorted((CASES / case / "expected" / "rules").rglob("*.rules.yml"))
    assert rules
    result = subprocess.run(
        [promtool, "check", "rules", *map(str, rules)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("case", _cases())
def test_generated_promtool_tests_pass(case: str, promtool: str) -> None:
    """promtool test rules passes every generated test file."""
    tests = sorted((CASES / case / "expected" / "tests").rglob("*.test.yml"))
    assert tests
    result = subprocess.run(
        [promtool, "test", "rules", *map(str, tests)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(tests)
