"""The writer: stable YAML, the header, and --check's view of an output directory."""

from __future__ import annotations

from pathlib import Path

from rulegen import pipeline
from rulegen.generators import slo_rules
from rulegen.writer import (
    DUMPER,
    HEADER_MARK,
    PURE_DUMPER,
    OutputFile,
    check,
    dump_yaml,
    header,
    write,
)


def test_multiline_strings_are_literal_blocks() -> None:
    """PromQL over several lines is written as a readable literal block, keys in order."""
    text = dump_yaml({"record": "r", "expr": "a\n/\nb", "labels": {"z": "1", "a": "2"}})
    assert text == "record: r\nexpr: |-\n  a\n  /\n  b\nlabels:\n  z: '1'\n  a: '2'\n"


def test_header_marks_generated_files() -> None:
    """The header says the file is generated and must not be edited."""
    assert header("x").startswith(f"# {HEADER_MARK} from x. DO NOT EDIT.\n")


def test_write_leaves_unchanged_files_alone(tmp_path: Path) -> None:
    """Rewriting identical content keeps the file's modification time."""
    files = [OutputFile("rules/a.yml", header("x") + "a: 1\n")]
    write(tmp_path, files)
    target = tmp_path / "rules" / "a.yml"
    before = target.stat().st_mtime_ns
    write(tmp_path, files)
    assert target.stat().st_mtime_ns == before


def test_check_lists_missing_changed_and_stale(tmp_path: Path) -> None:
    """check names every missing, changed and stale generated file, and nothing else."""
    write(
        tmp_path,
        [
            OutputFile("a.yml", header("x") + "a: 1\n"),
            OutputFile("b.yml", header("x") + "b: 1\n"),
        ],
    )
    (tmp_path / "mine.yml").write_text("hand: written\n")
    wanted = [
        OutputFile("a.yml", header("x") + "a: 2\n"),
        OutputFile("c.yml", header("x") + "c: 1\n"),
    ]
    assert check(tmp_path, wanted) == [
        f"{tmp_path / 'a.yml'}: differs from what the specs generate",
        f"{tmp_path / 'c.yml'}: missing",
        f"{tmp_path / 'b.yml'}: generated from a spec that no longer exists",
    ]


def test_libyaml_and_pure_python_emit_the_same_text() -> None:
    """Output is byte-stable whichever YAML emitter PyYAML has: both give the same text."""
    assert DUMPER is not PURE_DUMPER, "PyYAML without libyaml: nothing to compare"
    cases = Path(__file__).parent / "golden" / "cases"
    for workflow in pipeline.load(sorted(cases.glob("*/spec.yaml"))):
        for slo in workflow.slos:
            rules = slo_rules(slo)
            assert dump_yaml(rules, DUMPER) == dump_yaml(rules, PURE_DUMPER)
