"""Hand-written alerting scenarios, run by the real promtool against generated rules.

Each folder under tests/scenarios holds a spec and a promtool test written by hand, with
expected figures worked out in its comments, independently of the generator.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from rulegen import pipeline, writer

SCENARIOS = Path(__file__).parent / "scenarios"


@pytest.mark.parametrize("name", sorted(p.name for p in SCENARIOS.iterdir() if p.is_dir()))
def test_scenario(name: str, tmp_path: Path, promtool: str) -> None:
    """The generated rules behave as the hand-written promtool test of the scenario says."""
    case = SCENARIOS / name
    generated = pipeline.generate(pipeline.load([case / "spec.yaml"]))
    writer.write(tmp_path, generated.files)
    shutil.copy(case / "test.yml", tmp_path / "scenario.test.yml")
    result = subprocess.run(
        [promtool, "test", "rules", "scenario.test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
