"""Invalid specs: each case under tests/invalid is reported with exactly the expected errors.

Each `<case>.yaml` (or folder of specs) sits beside `<case>.err`, the reviewed error lines.
Set AGENT_SLO_UPDATE_GOLDEN=1 to rewrite them; review the diff before committing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from agent_slo.cli import main
from rulegen import pipeline
from rulegen.errors import SpecErrors

INVALID = Path(__file__).parent / "invalid"
REPO = Path(__file__).parent.parent
UPDATE = os.environ.get("AGENT_SLO_UPDATE_GOLDEN") == "1"


def _cases() -> list[str]:
    names = {p.stem for p in INVALID.glob("*.yaml")} | {
        p.name for p in INVALID.iterdir() if p.is_dir()
    }
    return sorted(names)


def _target(case: str) -> Path:
    folder = INVALID / case
    return folder if folder.is_dir() else INVALID / f"{case}.yaml"


def _errors(case: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.chdir(REPO)
    with pytest.raises(SpecErrors) as info:
        pipeline.load([_target(case).relative_to(REPO)])
    return [str(e) for e in sorted(info.value.errors)]


@pytest.mark.parametrize("case", _cases())
def test_errors_are_exactly_as_reviewed(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading the case fails with exactly the reviewed error lines."""
    lines = _errors(case, monkeypatch)
    expected = INVALID / f"{case}.err"
    if UPDATE:
        expected.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert lines == expected.read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize("case", _cases())
def test_validate_reports_them_and_exits_1(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`agent-slo validate` prints every reviewed error line and exits 1."""
    monkeypatch.chdir(REPO)
    result = CliRunner().invoke(main, ["validate", str(_target(case).relative_to(REPO))])
    assert result.exit_code == 1
    for line in (INVALID / f"{case}.err").read_text(encoding="utf-8").splitlines():
        assert line in result.output


def test_every_error_is_located() -> None:
    """Every error of every case names its file, and a line whenever the file has content."""
    for case in _cases():
        try:
            pipeline.load([_target(case)])
        except SpecErrors as exc:
            for error in exc.errors:
                assert error.path.endswith((".yaml", ".yml"))
                assert error.message
                if (
                    Path(error.path).read_text(encoding="utf-8").strip()
                    and "YAML" not in error.message
                ):
                    assert error.line >= 1, str(error)
        else:
            pytest.fail(f"{case} loaded without errors")
