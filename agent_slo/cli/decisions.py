"""Commands that turn the budget into decisions: ``report``, ``gate``, ``import``."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from agent_slo.cli.common import DEFAULT_SPECS, DomainFailure, GateInputFailure, load_workflows
from agent_slo.cli.types import DURATION, LABEL_MATCHER
from rulegen.errors import SpecErrors

if TYPE_CHECKING:
    from rulegen.importers import ImportResult

__all__ = ["gate", "import_group", "report"]


_PROMETHEUS = click.option(
    "--prometheus",
    "prometheus_url",
    envvar="AGENT_SLO_PROMETHEUS",
    default="http://127.0.0.1:9090",
    show_default=True,
    help="Prometheus with the generated rules (or AGENT_SLO_PROMETHEUS).",
)
_FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "markdown", "json", "html"]),
    default="table",
    show_default=True,
)


@click.group()
def report() -> None:
    """Error-budget report: of a review log (`report csv`) or of SLOs from Prometheus
    (`report prometheus`).

    Figures for the period, status and action from the policy, budget left in % and in runs,
    burn rate, change against the previous period, and breakdowns by task, model, prompt
    version or any declared dimension, ranked by budget burned.
    """


@report.command(name="csv")
@click.argument("csv_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--since", type=click.DateTime(["%Y-%m-%d"]), help="First day (default: a week before --until)."
)
@click.option(
    "--until", type=click.DateTime(["%Y-%m-%d"]), help="Last day (default: the log's last date)."
)
@click.option("--budget", default=20.0, show_default=True, help="Acceptable failure rate, percent.")
@click.option("--warning", default=30.0, show_default=True, help="Warning threshold, percent.")
@click.option("--red-line", default=50.0, show_default=True, help="Red line, percent.")
@click.option(
    "--min-runs",
    default=10,
    show_default=True,
    help="Fewer runs are flagged as not yet meaningful.",
)
@_FORMAT
def report_csv(
    csv_path: Path,
    since: datetime.datetime | None,
    until: datetime.datetime | None,
    budget: float,
    warning: float,
    red_line: float,
    min_runs: int,
    fmt: str,
) -> None:
    """Report on a review log: date,task,model,accepted_as_is,minor_fix,major_rewrite,rejected
    (optional prompt or prompt_version, and workflow); failures are major rewrites and
    rejections."""
    from decisions import report as reports  # noqa: PLC0415 - only this command needs them
    from decisions import reviewlog  # noqa: PLC0415

    if not budget <= warning <= red_line:
        raise click.UsageError(
            f"expected --budget ≤ --warning ≤ --red-line, got {budget:g}, {warning:g}, "
            f"{red_line:g}: each threshold escalates the one before"
        )
    try:
        rows = reviewlog.parse_csv(csv_path.read_text(encoding="utf-8"), str(csv_path))
    except SpecErrors as exc:
        raise DomainFailure(f"{exc}\n{len(exc.errors)} bad row(s); nothing was reported") from exc
    if not rows:
        raise DomainFailure(f"{csv_path}: no rows to report on")
    last = until.date() if until else max(r.date for r in rows)
    first = since.date() if since else last - datetime.timedelta(days=6)
    if first > last:
        raise click.UsageError("--since is after --until")
    thresholds = reports.Thresholds(budget / 100, warning / 100, red_line / 100)
    click.echo(
        reports.render(reports.csv_report(rows, first, last, thresholds, min_runs), fmt), nl=False
    )


@report.command(name="prometheus")
@_PROMETHEUS
@click.option("--specs", default=DEFAULT_SPECS, show_default=True, help="Spec files or folders.")
@click.option("--slo", "slo_name", help="One SLO (default: every SLO, as one review).")
@click.option(
    "--all", "every_slo", is_flag=True, help="Every SLO of the specs, the worst first (default)."
)
@click.option(
    "--since",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Start of the period (00:00 UTC; default: one SLO period before --until).",
)
@click.option(
    "--until",
    type=click.DateTime(["%Y-%m-%d"]),
    help="End of the period (00:00 UTC of that day; default: now).",
)
@click.option(
    "--budget",
    type=click.FloatRange(0, 100, min_open=True, max_open=True),
    help="Acceptable failure rate, percent, instead of the SLO's objective in force.",
)
@click.option(
    "--warning", type=click.FloatRange(0, 100), help="Warning threshold, percent (with --budget)."
)
@click.option(
    "--red-line", type=click.FloatRange(0, 100), help="Red line, percent (with --budget)."
)
@click.option(
    "--min-runs",
    default=10,
    show_default=True,
    type=click.IntRange(min=1),
    help="Rows with fewer runs get no verdict yet.",
)
@_FORMAT
def report_prometheus(
    prometheus_url: str,
    specs: str,
    slo_name: str | None,
    every_slo: bool,
    since: datetime.datetime | None,
    until: datetime.datetime | None,
    budget: float | None,
    warning: float | None,
    red_line: float | None,
    min_runs: int,
    fmt: str,
) -> None:
    """Report on SLOs from their recorded budget: the policies, objective in force and period
    come from the specs (or --budget, --warning, --red-line), the figures from the generated
    rules in Prometheus. Without --slo, one review of every SLO, the worst first."""
    from decisions import report as reports  # noqa: PLC0415 - only this command needs them
    from decisions.promapi import Prometheus, PrometheusError  # noqa: PLC0415

    if slo_name is not None and every_slo:
        raise click.UsageError("--slo and --all exclude each other")
    if budget is None and (warning is not None or red_line is not None):
        raise click.UsageError("--warning and --red-line go with --budget")
    given = [t for t in (budget, warning, red_line) if t is not None]
    if given != sorted(given):
        raise click.UsageError(
            "expected --budget ≤ --warning ≤ --red-line: each threshold escalates the one before"
        )
    workflows = load_workflows((specs,), "nothing was reported")
    slos = [(s, w.autonomy) for w in workflows for s in w.slos]
    if slo_name is not None:
        slos = [(s, grants) for s, grants in slos if s.name == slo_name]
        if not slos:
            raise click.UsageError(f"unknown SLO {slo_name!r}")
    at = until.replace(tzinfo=datetime.UTC) if until else datetime.datetime.now(datetime.UTC)
    start = since.replace(tzinfo=datetime.UTC) if since else None
    if start is not None and start >= at:
        raise click.UsageError("--since is not before --until")
    options = reports.Options(
        thresholds=None
        if budget is None
        else reports.Thresholds(
            budget / 100,
            None if warning is None else warning / 100,
            None if red_line is None else red_line / 100,
        ),
        since=None if start is None else start.timestamp(),
        min_runs=min_runs,
    )
    prom = Prometheus(prometheus_url)
    try:
        found = [
            reports.prometheus_report(prom, slo, at.timestamp(), options, grants)
            for slo, grants in slos
        ]
    except PrometheusError as exc:
        raise DomainFailure(str(exc)) from exc
    if slo_name is not None:
        if fmt == "json":
            click.echo(json.dumps([json.loads(found[0].to_json())], indent=2, sort_keys=True))
            return
        click.echo(reports.render(found[0], fmt), nl=False)
        return
    click.echo(reports.render_review(found, fmt), nl=False)


@click.group(name="import")
def import_group() -> None:
    """Bring history and SLO specs kept elsewhere into agent-slo."""


@import_group.command(name="csv")
@click.argument("csv_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--workflow", help="Workflow of every row (default: the log's workflow column).")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="OpenMetrics file for `promtool tsdb create-blocks-from openmetrics`.",
)
def import_csv(csv_path: Path, workflow: str | None, output: Path) -> None:
    """Turn a review log into agent_outcomes_total history (OpenMetrics) for backfilling."""
    from decisions import reviewlog  # noqa: PLC0415 - only this command needs them
    from decisions.backfill import openmetrics  # noqa: PLC0415

    try:
        rows = reviewlog.parse_csv(csv_path.read_text(encoding="utf-8"), str(csv_path))
    except SpecErrors as exc:
        raise DomainFailure(f"{exc}\n{len(exc.errors)} bad row(s); nothing was written") from exc
    missing = [r.line for r in rows if not (workflow or r.workflow)]
    if missing:
        raise DomainFailure(
            f"{csv_path}: rows {missing[:5]} name no workflow: give --workflow or a workflow column"
        )
    text, series, samples = openmetrics(rows, workflow)
    output.write_text(text, encoding="utf-8")
    click.echo(f"wrote {series} series, {samples} samples to {output}")


_IMPORT_SOURCES = click.argument(
    "paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path)
)
_IMPORT_OUTPUT = click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the specs, one <workflow>.yaml each (default: all to stdout).",
)


@import_group.command(name="sloth")
@_IMPORT_SOURCES
@_IMPORT_OUTPUT
def import_sloth(paths: tuple[Path, ...], output: Path | None) -> None:
    """Turn Sloth specs (prometheus/v1, PrometheusServiceLevel, OpenSLO v1alpha) into
    agent-slo specs; report what does not carry over (exit 1 if anything)."""
    from rulegen import importers  # noqa: PLC0415 - only this command needs them

    _imported(importers.import_sloth(paths), output)


@import_group.command(name="openslo")
@_IMPORT_SOURCES
@_IMPORT_OUTPUT
def import_openslo(paths: tuple[Path, ...], output: Path | None) -> None:
    """Turn OpenSLO documents (v1, v1alpha) into agent-slo specs; report what does not
    carry over (exit 1 if anything)."""
    from rulegen import importers  # noqa: PLC0415 - only this command needs them

    _imported(importers.import_openslo(paths), output)


def _imported(result: ImportResult, output: Path | None) -> None:
    """Print the findings (stderr), write the specs (a folder, or stdout); exit 1 if
    anything was not carried over or nothing was."""
    from rulegen import importers  # noqa: PLC0415

    for finding in result.findings:
        click.echo(str(finding), err=True)
    if output is not None:
        for path in importers.write_specs(result.specs, output):
            click.echo(f"wrote {path}", err=True)
    else:
        click.echo("---\n".join(spec.text for spec in result.specs), nl=False)
    lost = len(result.lost)
    if not result.specs:
        raise DomainFailure(f"nothing carried over; {lost} thing(s) could not be (listed above)")
    if lost:
        raise DomainFailure(
            f"{lost} thing(s) not carried over (listed above); the {len(result.specs)} "
            "spec(s) written leave them out"
        )


@click.command()
@click.option("--slo", "slo_name", required=True, help="The SLO to decide on.")
@click.option("--specs", default=DEFAULT_SPECS, show_default=True, help="Spec files or folders.")
@_PROMETHEUS
@click.option(
    "--min-remaining", default=0.0, show_default=True, help="Deny under this % of budget left."
)
@click.option(
    "--grant",
    "grant_name",
    help="Allow only once the workflow has earned this autonomy grant: its number on the "
    "spec's ladder (1 = fewest days) or a part of its text.",
)
@click.option(
    "--require-days-in-budget",
    type=click.IntRange(min=1),
    help="Allow only after N days inside budget.",
)
@click.option(
    "--canary",
    type=LABEL_MATCHER,
    help='Label matcher of the canary, e.g. prompt_version="v42".',
)
@click.option(
    "--canary-window", default="1h", show_default=True, type=DURATION, help="Window compared."
)
@click.option("--min-runs", default=50, show_default=True, help="Runs needed on each side.")
@click.option("--alpha", default=0.01, show_default=True, help="Significance of the canary test.")
@click.option("--max-burn", default=6.0, show_default=True, help="Deny a canary burning faster.")
@click.option(
    "--at",
    type=click.DateTime(["%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"]),
    help="Decide as of this UTC time (default: now), e.g. to replay a past decision.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
@click.pass_context
def gate(
    ctx: click.Context,
    slo_name: str,
    specs: str,
    prometheus_url: str,
    min_remaining: float,
    grant_name: str | None,
    require_days_in_budget: int | None,
    canary: str | None,
    canary_window: str,
    min_runs: int,
    alpha: float,
    max_burn: float,
    at: datetime.datetime | None,
    as_json: bool,
) -> None:
    """Deploy gate: exit 0 allow, 1 deny, 3 could not decide, 4 invalid specs (2: a usage
    error); the reasons are printed."""
    from decisions import gate as gates  # noqa: PLC0415 - only this command needs it
    from decisions.autonomy import find_grant  # noqa: PLC0415
    from decisions.promapi import Prometheus  # noqa: PLC0415

    workflows = load_workflows((specs,), "no decision was made", GateInputFailure)
    slos = {s.name: (w, s) for w in workflows for s in w.slos}
    if slo_name not in slos:
        raise click.UsageError(f"unknown SLO {slo_name!r} (known: {', '.join(sorted(slos))})")
    workflow, slo = slos[slo_name]
    try:
        grant = (
            None if grant_name is None else find_grant(workflow.autonomy, grant_name, workflow.name)
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--grant'") from exc
    required = gates.AutonomySpec(workflow.autonomy, grant, require_days_in_budget)
    spec = gates.CanarySpec(canary, canary_window, min_runs, alpha, max_burn) if canary else None
    verdict = gates.decide(
        Prometheus(prometheus_url),
        slo,
        min_remaining / 100,
        required,
        spec,
        at=None if at is None else at.replace(tzinfo=datetime.UTC).timestamp(),
    )
    if as_json:
        click.echo(verdict.to_json(), nl=False)
    else:
        click.echo(f"{verdict.word}:")
        for reason in verdict.reasons:
            click.echo(f"  - {reason}")
    ctx.exit(verdict.code)
