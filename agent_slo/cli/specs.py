"""Commands on specs: ``validate``, ``generate``, ``schema``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from agent_slo.cli.common import DomainFailure, load_workflows
from rulegen import formats, pipeline, writer
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


def _labels(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[tuple[str, str], ...]:
    """``KEY=VALUE`` words as pairs."""
    pairs = []
    for value in values:
        key, eq, val = value.partition("=")
        if not eq or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {value!r}", ctx, param)
        pairs.append((key, val))
    return tuple(pairs)


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "-o",
    "--output",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory to write to (its generated files that are no longer produced are "
    "removed).  [default: generated, or generated-FORMAT for another format]",
)
@click.option(
    "--check",
    is_flag=True,
    help="Write nothing; exit 1 if the files in the output directory differ from what the "
    "specs generate (for GitOps CI).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(formats.FORMATS),
    default=formats.PROMETHEUS,
    show_default=True,
    help="prometheus: rule files, promtool tests, dashboards. prometheus-operator: a "
    "PrometheusRule per rule file, dashboard ConfigMaps and a kustomization.yaml. mimir, "
    "cortex: rule files with a ruler namespace each (the file's name). thanos: rule files "
    "for Thanos Ruler (partial responses refused). vmalert: rule files for vmalert.",
)
@click.option(
    "--namespace",
    help="Kubernetes namespace of the PrometheusRules and dashboard ConfigMaps (default: "
    "none set, so kubectl's or Kustomize's applies).",
)
@click.option(
    "--label",
    "labels",
    multiple=True,
    metavar="KEY=VALUE",
    callback=_labels,
    help="A label for the PrometheusRules and dashboard ConfigMaps, e.g. "
    "release=kube-prometheus-stack for its rule selector; repeatable.",
)
@click.option(
    "--dashboards-configmaps/--dashboards-json",
    "configmaps",
    default=None,
    help='Dashboards as ConfigMaps labelled grafana_dashboard="1" for Grafana\'s sidecar, '
    "or as JSON files.  [default: ConfigMaps for prometheus-operator, JSON otherwise]",
)
def generate(
    paths: tuple[str, ...],
    out_dir: Path | None,
    check: bool,
    fmt: str,
    namespace: str | None,
    labels: tuple[tuple[str, str], ...],
    configmaps: bool | None,
) -> None:
    """Generate Prometheus rules, promtool tests and dashboards from spec files (default:
    slo-specs/), in the output format of your ruler.

    Writes rules/<slo>.rules.yml (recording rules and alerts), tests/<slo>.test.yml (run
    them with `promtool test rules`) and dashboards/; other formats are described under
    --format. Output is byte-stable.
    """
    try:
        target = formats.Target(fmt, namespace, labels, configmaps)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    if out_dir is None:
        out_dir = Path("generated" if fmt == formats.PROMETHEUS else f"generated-{fmt}")
    workflows = load_workflows(paths, "nothing was generated")
    try:
        generated = pipeline.generate(workflows, target)
    except GenerateError as exc:
        raise DomainFailure(str(exc)) from exc
    for note in generated.notes:
        click.echo(f"note: {note}", err=True)
    files = generated.files
    if check:
        problems = writer.check(out_dir, files)
        if problems:
            raise DomainFailure(
                "\n".join(problems) + f"\ngenerated output is stale: run `{target.command}`"
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
