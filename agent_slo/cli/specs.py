"""Commands on specs: ``validate``, ``generate``, ``schema``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from agent_slo.cli.common import DomainFailure, load_workflows
from rulegen import pipeline, writer
from rulegen.errors import GenerateError
from rulegen.spec import json_schema

__all__ = ["generate", "schema", "validate"]


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "--notes",
    "show_notes",
    is_flag=True,
    help="Also print the notes on alert tiers adapted to low objectives (generate prints them).",
)
def validate(paths: tuple[str, ...], show_notes: bool) -> None:
    """Check spec files (default: slo-specs/) and report every error at once.

    Each error names the file, the line and the field, and says what is expected.
    Exits 1 if any spec is invalid.
    """
    workflows = load_workflows(paths)
    slos = sum(len(w.slos) for w in workflows)
    notes = [note for wf in workflows for slo in wf.slos for note in slo.notes]
    if show_notes:
        for note in notes:
            click.echo(f"note: {note}", err=True)
    summary = f"ok: {len(workflows)} workflow(s), {slos} SLO(s)"
    if notes and not show_notes:
        summary += f"; {len(notes)} note(s) on adapted alert tiers (see validate --notes)"
    click.echo(summary)


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "-o",
    "--output",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("generated"),
    show_default=True,
    help="Directory for rules/ and tests/.",
)
@click.option(
    "--check",
    is_flag=True,
    help="Write nothing; exit 1 if the files in the output directory differ from what the "
    "specs generate (for GitOps CI).",
)
def generate(paths: tuple[str, ...], out_dir: Path, check: bool) -> None:
    """Generate Prometheus rules and promtool tests from spec files (default: slo-specs/).

    Writes rules/<workflow>.rules.yml (recording rules and alerts) and
    tests/<slo>.test.yml (run them with `promtool test rules`). Output is byte-stable.
    """
    workflows = load_workflows(paths, "nothing was generated")
    try:
        generated = pipeline.generate(workflows)
    except GenerateError as exc:
        raise DomainFailure(str(exc)) from exc
    for note in generated.notes:
        click.echo(f"note: {note}", err=True)
    files = generated.files
    if check:
        problems = writer.check(out_dir, files)
        if problems:
            raise DomainFailure(
                "\n".join(problems) + "\ngenerated output is stale: run `agent-slo generate`"
            )
        click.echo(f"ok: {len(files)} file(s) in {out_dir} are up to date")
        return
    try:
        written = writer.write(out_dir, files)
    except GenerateError as exc:
        raise DomainFailure(str(exc)) from exc
    click.echo(f"wrote {len(written)} file(s) to {out_dir}")


@click.command()
def schema() -> None:
    """Print the JSON Schema of the spec (apiVersion: agent-slo/v1)."""
    json.dump(json_schema(), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
