"""Generated output against the real tools: vmalert, and promtool catching a broken rule."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

CASES = Path(__file__).parent / "golden" / "cases"
GENERATED = Path(__file__).parent.parent / "generated"
#: The `--format vmalert` output of tests/test_formats.py's golden case.
VMALERT_FORMAT = Path(__file__).parent / "golden" / "formats" / "vmalert"


def _rule_files() -> list[Path]:
    return (
        sorted(CASES.glob("*/expected/rules/*.rules.yml"))
        + sorted(GENERATED.glob("rules/*.rules.yml"))
        + sorted(VMALERT_FORMAT.glob("rules/*.rules.yml"))
    )


def test_committed_output_passes_promtool(promtool: str) -> None:
    """The committed output for slo-specs/ passes promtool check rules and test rules."""
    rules = sorted(GENERATED.glob("rules/*.rules.yml"))
    tests = sorted(GENERATED.glob("tests/*.test.yml"))
    assert len(rules) >= 5
    assert len(tests) >= 5
    check = subprocess.run(
        [promtool, "check", "rules", *map(str, rules)], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    test = subprocess.run(
        [promtool, "test", "rules", *map(str, tests)], capture_output=True, text=True, check=False
    )
    assert test.returncode == 0, test.stdout + test.stderr
    assert test.stdout.count("SUCCESS") == len(tests)


def test_vmalert_accepts_every_golden_rule_file() -> None:
    """VictoriaMetrics' vmalert parses every generated rule file (MetricsQL is a superset),
    the `--format vmalert` output included."""
    vmalert = shutil.which("vmalert")
    if vmalert is None:
        pytest.fail("vmalert is not on PATH: run scripts/setup (Debian's victoria-metrics)")
    files = _rule_files()
    assert files
    assert any(path.is_relative_to(VMALERT_FORMAT) for path in files)
    for path in files:
        result = subprocess.run(
            [vmalert, f"-rule={path}", "-dryRun"], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, f"{path}: {result.stdout}{result.stderr}"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        # The page tier asks for more errors than it should.
        ('ratio_rate1h{slo="triage-success"} > 0.72', 'ratio_rate1h{slo="triage-success"} > 0.9'),
        # The steps forget the rise of a target's counters since the step before.
        (
            'slo:events:counter5m{slo="triage-success"} - (slo:events:counter5m_before',
            'slo:events:counter5m_before{slo="triage-success"} - (slo:events:counter5m_before',
        ),
        # The short windows forget the rise within the window.
        (
            'slo:bad_events:counter{slo="triage-success"} - (last_over_time(',
            '0 * slo:bad_events:counter{slo="triage-success"} - (last_over_time(',
        ),
        # A window summed from steps holds one step too many.
        ("[1h59m59s999ms]", "[2h]"),
    ],
)
def test_generated_tests_catch_a_broken_rule(
    old: str, new: str, tmp_path: Path, promtool: str
) -> None:
    """The generated promtool tests fail when a rule they cover is changed."""
    case = CASES / "outcomes-30d" / "expected"
    shutil.copytree(case, tmp_path / "out")
    rules = tmp_path / "out" / "rules" / "triage-success.rules.yml"
    text = rules.read_text()
    assert old in text
    rules.write_text(text.replace(old, new))
    test = tmp_path / "out" / "tests" / "triage-success.test.yml"
    result = subprocess.run(
        [promtool, "test", "rules", str(test)], capture_output=True, text=True, check=False
    )
    assert result.returncode != 0, result.stdout
