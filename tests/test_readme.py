"""The README's examples: its spec is valid, and what it records fits the example specs."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from rulegen import pipeline
from rulegen.model import Workflow

REPO = Path(__file__).parent.parent
README = (REPO / "README.md").read_text()
#: Values the README records on purpose although no spec declares them.
UNDECLARED_ON_PURPOSE = {("code-review", "task", "regex")}  # the walkthrough's new series


def _workflows() -> dict[str, Workflow]:
    return {wf.name: wf for wf in pipeline.load([REPO / "slo-specs"])}


def _spec_blocks() -> list[str]:
    return [b for b in re.findall(r"```yaml\n(.*?)```", README, re.S) if "apiVersion:" in b]


def test_readme_spec_is_valid(tmp_path: Path) -> None:
    """The spec shown in the README loads, with a custom outcome and declared dimension values."""
    (block,) = _spec_blocks()
    (tmp_path / "spec.yaml").write_text(block)
    (workflow,) = pipeline.load([tmp_path / "spec.yaml"])
    assert workflow.outcomes["wrong_result"] == "bad"
    assert any(d.values for d in workflow.dimensions)


def _recorded() -> list[tuple[str, dict[str, str]]]:
    """(workflow, dimensions) of every run the README records, by CLI, HTTP or Python."""
    found = []
    for line in README.splitlines():
        if "agent-slo record " not in line or "--workflow" not in line:
            continue  # prose naming an option
        words = shlex.split(line.split("agent-slo record ", 1)[1].split(";")[0])
        workflow = words[words.index("--workflow") + 1]
        dims = dict(words[i + 1].split("=", 1) for i, w in enumerate(words) if w == "--dim")
        found.append((workflow, dims))
    for match in re.finditer(r'client\.(?:record|run)\("([^"]+)".*?(\w+)="([^"]*)"\)', README):
        workflow, name, value = match.groups()
        found.append((workflow, {name: value}))
    for match in re.finditer(r'`(\{"workflow".*?\})`', README, re.S):
        event = json.loads(match.group(1))
        found.append((event["workflow"], event.get("dimensions", {})))
    return found


def test_readme_records_what_the_specs_declare() -> None:
    """Every workflow, dimension and value the README records is declared in slo-specs/."""
    workflows = _workflows()
    recorded = _recorded()
    assert len(recorded) >= 7
    for workflow, dims in recorded:
        assert workflow in workflows, workflow
        declared = {d.name: d.values for d in workflows[workflow].dimensions}
        for name, value in dims.items():
            assert name in declared, (workflow, name)
            if (workflow, name, value) not in UNDECLARED_ON_PURPOSE:
                assert value in declared[name], (workflow, name, value, declared[name])


@pytest.mark.parametrize("undeclared", sorted(UNDECLARED_ON_PURPOSE))
def test_the_undeclared_value_stays_undeclared(undeclared: tuple[str, str, str]) -> None:
    """The walkthrough's new label value is new indeed: no spec declares it."""
    workflow, name, value = undeclared
    dimension = next(d for d in _workflows()[workflow].dimensions if d.name == name)
    assert value not in dimension.values
