"""The ``agent-slo`` command. Domain errors become exit codes here and nowhere else.

Exit codes: 0 success, 1 domain failure (invalid spec, stale output), 2 usage error.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from rulegen import __version__, pipeline, writer
from rulegen.errors import GenerateError, SpecErrors
from rulegen.model import Workflow
from rulegen.spec import json_schema

__all__ = ["main"]

DEFAULT_SPECS = "slo-specs"


class DomainFailure(click.ClickException):
    """A failure of the user's input or environment, not of the command line: exit 1."""

    exit_code = 1


def _load(paths: tuple[str, ...]) -> list[Workflow]:
    try:
        return pipeline.load(paths or (DEFAULT_SPECS,))
    except SpecErrors as exc:
        count = len(exc.errors)
        raise DomainFailure(
            f"{exc}\n{count} error{'s' if count != 1 else ''} found; nothing was generated"
        ) from exc


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="agent-slo")
def main() -> None:
    """Error budgets for AI-agent workflows, on Prometheus."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
def validate(paths: tuple[str, ...]) -> None:
    """Check spec files (default: slo-specs/) and report every error at once.

    Each error names the file, the line and the field, and says what is expected.
    Exits 1 if any spec is invalid.
    """
    workflows = _load(paths)
    slos = sum(len(w.slos) for w in workflows)
    for wf in workflows:
        for slo in wf.slos:
            for note in slo.notes:
                click.echo(f"note: {note}", err=True)
    click.echo(f"ok: {len(workflows)} workflow(s), {slos} SLO(s)")


@main.command()
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
    workflows = _load(paths)
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


@main.command()
def schema() -> None:
    """Print the JSON Schema of the spec (apiVersion: agent-slo/v1)."""
    json.dump(json_schema(), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
