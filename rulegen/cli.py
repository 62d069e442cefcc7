"""The ``agent-slo`` command. Domain errors become exit codes here and nowhere else.

Exit codes: 0 success, 1 domain failure (invalid spec, stale output), 2 usage error.
"""

from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from rulegen import __version__, pipeline, writer
from rulegen.errors import GenerateError, SpecErrors
from rulegen.model import Workflow
from rulegen.spec import json_schema

if TYPE_CHECKING:
    from exporter.server import Security

__all__ = ["main"]

DEFAULT_SPECS = "slo-specs"


class DomainFailure(click.ClickException):
    """A failure of the user's input or environment, not of the command line: exit 1."""

    exit_code = 1


def _load(paths: tuple[str, ...], consequence: str = "") -> list[Workflow]:
    """The workflows of ``paths``; on invalid specs, every error, their count and
    ``consequence``, what the command did not do because of them."""
    try:
        return pipeline.load(paths or (DEFAULT_SPECS,))
    except SpecErrors as exc:
        count = len(exc.errors)
        found = f"{count} error{'s' if count != 1 else ''} found"
        raise DomainFailure(
            f"{exc}\n{found}; {consequence}" if consequence else f"{exc}\n{found}"
        ) from exc


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="agent-slo")
def main() -> None:
    """Error budgets for AI-agent workflows, on Prometheus."""


@main.command()
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
    workflows = _load(paths)
    slos = sum(len(w.slos) for w in workflows)
    notes = [note for wf in workflows for slo in wf.slos for note in slo.notes]
    if show_notes:
        for note in notes:
            click.echo(f"note: {note}", err=True)
    summary = f"ok: {len(workflows)} workflow(s), {slos} SLO(s)"
    if notes and not show_notes:
        summary += f"; {len(notes)} note(s) on adapted alert tiers (see validate --notes)"
    click.echo(summary)


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
    workflows = _load(paths, "nothing was generated")
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


@main.command()
@click.option("--specs", default=DEFAULT_SPECS, show_default=True, help="Spec files or folders.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=9464, show_default=True, type=int, help="Port (0: any free).")
@click.option(
    "--state",
    default="agent-slo-state.db",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite database holding the counters (created if missing).",
)
@click.option(
    "--listen-wide",
    is_flag=True,
    help="Allow a --host other than loopback (the exporter binds 127.0.0.1 by default).",
)
@click.option(
    "--insecure-open-writes",
    is_flag=True,
    help="With --listen-wide and no token, accept writes from anyone who reaches the port.",
)
@click.option(
    "--tokens-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Bearer tokens for writes, one per line: TOKEN [WORKFLOW ...] (no workflow: all). "
    "Also read from the AGENT_SLO_TOKENS environment variable (same lines, ';' between).",
)
@click.option(
    "--metrics-auth",
    envvar="AGENT_SLO_METRICS_AUTH",
    help="USER:PASSWORD required on /metrics (basic auth); or AGENT_SLO_METRICS_AUTH.",
)
@click.option(
    "--drain-timeout",
    default=15.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds requests in flight get to be answered after SIGTERM or Ctrl-C.",
)
@click.option(
    "--max-connections",
    default=1000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Open client connections at most (lowered to fit the open-file limit); at the cap, "
    "the connection that kept the server waiting longest is closed for a new one.",
)
@click.option(
    "--max-requests",
    default=256,
    show_default=True,
    type=click.IntRange(min=1),
    help="Requests handled at once at most; past that, 503 with Retry-After.",
)
@click.option(
    "--request-timeout",
    default=10.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds a request (headers and body) may take to arrive from its first byte (408).",
)
@click.option(
    "--idle-timeout",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds a keep-alive connection may stay idle between requests.",
)
@click.option(
    "--idempotency-horizon", default="24h", show_default=True, help="How long ids are kept."
)
@click.option(
    "--idempotency-max",
    default=1_000_000,
    show_default=True,
    type=int,
    help="Most ids kept; the oldest are forgotten first.",
)
def serve(
    specs: str,
    host: str,
    port: int,
    state: Path,
    listen_wide: bool,
    insecure_open_writes: bool,
    tokens_file: Path | None,
    metrics_auth: str | None,
    drain_timeout: float,
    max_connections: int,
    max_requests: int,
    request_timeout: float,
    idle_timeout: float,
    idempotency_horizon: str,
    idempotency_max: int,
) -> None:
    """Run the exporter: agents POST outcomes, Prometheus scrapes /metrics."""
    import logging  # noqa: PLC0415 - only the service needs these
    import signal  # noqa: PLC0415
    import threading  # noqa: PLC0415

    from exporter.catalog import Catalog  # noqa: PLC0415
    from exporter.server import Limits, make_server, serve_until_stopped  # noqa: PLC0415
    from exporter.store import Store, StoreError  # noqa: PLC0415
    from rulegen.durations import parse_duration  # noqa: PLC0415

    wide = host not in ("127.0.0.1", "localhost", "::1")
    if wide and not listen_wide:
        raise click.UsageError(f"--host {host} listens beyond this machine: add --listen-wide")
    security = _security(tokens_file, metrics_auth)
    tokens = security.tokens
    if wide and not tokens and not insecure_open_writes:
        raise click.UsageError(
            f"--host {host} with no write token would let anyone who reaches the port record "
            "outcomes: give --tokens-file or AGENT_SLO_TOKENS, or --insecure-open-writes"
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    catalog = Catalog.from_model(_load((specs,), "the exporter did not start"))
    try:
        horizon = float(parse_duration(idempotency_horizon))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--idempotency-horizon'") from exc
    try:
        store = Store(state, catalog, idempotency_horizon=horizon, idempotency_max=idempotency_max)
    except StoreError as exc:
        raise DomainFailure(f"the exporter did not start: {exc}") from exc
    limits = Limits(
        max_connections=max_connections,
        max_requests=max_requests,
        request_timeout=request_timeout,
        idle_timeout=idle_timeout,
        drain_timeout=drain_timeout,
    )
    try:
        server = make_server(store, host, port, limits=limits, security=security)
    except OSError as exc:
        store.close()
        raise DomainFailure(
            f"the exporter did not start: cannot listen on {host}:{port}: {exc}"
        ) from exc
    if server.max_connections < max_connections:
        logging.getLogger("agent_slo.exporter").warning(
            "at most %d connections (not %d): the open-file limit allows no more; raise it "
            "with ulimit -n or LimitNOFILE=",
            server.max_connections,
            max_connections,
        )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    bound_host, bound_port = server.server_address[:2]
    logging.getLogger("agent_slo.exporter").info(
        "agent-slo exporter listening on http://%s:%s (state %s, %d workflow(s), writes %s)",
        bound_host,
        bound_port,
        state.resolve(),
        len(catalog.workflows),
        "need a bearer token" if tokens else "are open",
    )
    if wide and not tokens:
        logging.getLogger("agent_slo.exporter").warning(
            "writes are open to anyone who reaches %s:%s (--insecure-open-writes)",
            bound_host,
            bound_port,
        )
    try:
        serve_until_stopped(server, stop)
    finally:
        store.close()
        logging.getLogger("agent_slo.exporter").info("agent-slo exporter stopped")


@main.command()
@click.option(
    "--listen",
    default="127.0.0.1:9095",
    show_default=True,
    metavar="HOST:PORT",
    help="Where to listen (the example Alertmanager routing sends to 127.0.0.1:9095).",
)
def webhook(listen: str) -> None:
    """Receive Alertmanager's notifications and print one line per alert.

    Each line gives the status, the receiver, the alert name, its severity, SLO (and tier
    window, policy or outcome), when it started and its summary. Runs until Ctrl-C or SIGTERM.
    """
    import signal  # noqa: PLC0415 - only the services need these
    import threading  # noqa: PLC0415

    from exporter.server import serve_until_stopped  # noqa: PLC0415
    from rulegen.webhook import make_server  # noqa: PLC0415

    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise click.UsageError(f"--listen {listen!r}: expected HOST:PORT, e.g. 127.0.0.1:9095")
    try:
        server = make_server(host.strip("[]"), int(port), sys.stdout, sys.stderr)
    except OSError as exc:
        raise DomainFailure(f"cannot listen on {listen}: {exc}") from exc
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    click.echo(
        f"agent-slo webhook listening on http://{host}:{server.server_port}: "
        "one line per alert Alertmanager sends",
        err=True,
    )
    serve_until_stopped(server, stop)


def _security(tokens_file: Path | None, metrics_auth: str | None) -> Security:
    """Write tokens from the file and AGENT_SLO_TOKENS, and basic auth for /metrics."""
    import os  # noqa: PLC0415

    from exporter.server import Security  # noqa: PLC0415

    file_text = tokens_file.read_text(encoding="utf-8") if tokens_file else ""
    if tokens_file and not _parse_tokens(file_text):
        raise DomainFailure(
            f"--tokens-file {tokens_file} holds no token (every line is blank or a comment): "
            "writes would be open; add a line TOKEN [WORKFLOW ...]"
        )
    tokens = _parse_tokens(
        file_text + "\n" + os.environ.get("AGENT_SLO_TOKENS", "").replace(";", "\n")
    )
    basic = None
    if metrics_auth is not None:
        user, colon, password = metrics_auth.partition(":")
        if not (user and colon and password):
            raise click.BadParameter(
                "expected USER:PASSWORD, neither of them empty", param_hint="'--metrics-auth'"
            )
        basic = (user, password)
    return Security(tokens, basic)


def _parse_tokens(text: str) -> dict[str, frozenset[str] | None]:
    """Tokens and the workflows each may write (None: all), from ``TOKEN [WORKFLOW ...]``
    lines; blank lines and lines starting with ``#`` are skipped, and a token may hold any
    visible character, ``#`` included."""
    tokens: dict[str, frozenset[str] | None] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        token, *workflows = line.split()
        tokens[token] = frozenset(workflows) if workflows else None
    return tokens


@main.command()
@click.option("--workflow", required=True, help="The workflow that ran.")
@click.option("--outcome", required=True, help="How the run ended (e.g. success, rejected).")
@click.option("--dim", "dims", multiple=True, metavar="NAME=VALUE", help="A declared dimension.")
@click.option("--count", default=1, show_default=True, type=int, help="Number of runs.")
@click.option("--duration", "duration", type=float, help="Run duration in seconds.")
@click.option("--id", "event_id", help="Idempotency key: a retry with the same id counts once.")
@click.option(
    "--url",
    default="http://127.0.0.1:9464",
    show_default=True,
    envvar="AGENT_SLO_URL",
    help="The exporter (or AGENT_SLO_URL).",
)
@click.option("--token", envvar="AGENT_SLO_TOKEN", help="Bearer token (or AGENT_SLO_TOKEN).")
def record(
    workflow: str,
    outcome: str,
    dims: tuple[str, ...],
    count: int,
    duration: float | None,
    event_id: str | None,
    url: str,
    token: str | None,
) -> None:
    """Record one outcome with the exporter; exit 1 with the reason if it is refused."""
    import urllib.error  # noqa: PLC0415 - only this command needs them
    import urllib.request  # noqa: PLC0415

    dimensions = {}
    for item in dims:
        name, sep, value = item.partition("=")
        if not sep:
            raise click.UsageError(f"--dim {item!r}: expected NAME=VALUE")
        dimensions[name] = value
    event: dict[str, object] = {"workflow": workflow, "outcome": outcome, "count": count}
    if dimensions:
        event["dimensions"] = dimensions
    if duration is not None:
        event["duration_seconds"] = duration
    if event_id:
        event["id"] = event_id
    request = urllib.request.Request(  # noqa: S310 - the URL is the user's exporter
        url.rstrip("/") + "/v1/outcomes",
        data=json.dumps(event).encode(),
        headers={
            "Content-Type": "application/json",
            **({"Authorization": f"Bearer {token}"} if token else {}),
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            reply = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read())
            reason = detail.get("error", "")
            field = detail.get("field")
        except ValueError:
            reason, field = exc.reason, None
        where = f" ({field})" if field else ""
        raise DomainFailure(f"refused with HTTP {exc.code}{where}: {reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise DomainFailure(f"could not reach the exporter at {url}: {exc}") from exc
    click.echo(f"recorded: {reply['accepted']} event(s), {reply['duplicates']} duplicate(s)")


@main.command()
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Review log: date,task,model,accepted_as_is,minor_fix,major_rewrite,rejected.",
)
@click.option("--prometheus", "prometheus_url", help="Prometheus with the generated rules.")
@click.option("--slo", "slo_name", help="With --prometheus: one SLO (default: every SLO).")
@click.option("--specs", default=DEFAULT_SPECS, show_default=True, help="With --prometheus.")
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
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "markdown", "json", "html"]),
    default="table",
    show_default=True,
)
def report(
    csv_path: Path | None,
    prometheus_url: str | None,
    slo_name: str | None,
    specs: str,
    since: datetime.datetime | None,
    until: datetime.datetime | None,
    budget: float,
    warning: float,
    red_line: float,
    min_runs: int,
    fmt: str,
) -> None:
    """Error-budget report: of SLOs from Prometheus, or of a review log (CSV).

    Figures for the period, status and action from the policy, budget left in % and in runs,
    burn rate, change against the previous period, and breakdowns by task, model, prompt
    version or any declared dimension, ranked by budget burned.
    """
    from rulegen import report as reports  # noqa: PLC0415 - only this command needs them
    from rulegen import reviewlog  # noqa: PLC0415

    if (csv_path is None) == (prometheus_url is None):
        raise click.UsageError("give exactly one source: --csv FILE or --prometheus URL")
    if prometheus_url is not None:
        _prometheus_report(prometheus_url, slo_name, specs, until, fmt)
        return
    assert csv_path is not None

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
    policy = reports.Policy(budget / 100, warning / 100, red_line / 100)
    click.echo(
        reports.render(reports.csv_report(rows, first, last, policy, min_runs), fmt), nl=False
    )


@main.group(name="import")
def import_group() -> None:
    """Bring history kept elsewhere into Prometheus."""


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
    from rulegen import reviewlog  # noqa: PLC0415 - only this command needs them
    from rulegen.backfill import openmetrics  # noqa: PLC0415

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


@main.command()
@click.option("--slo", "slo_name", required=True, help="The SLO to decide on.")
@click.option("--specs", default=DEFAULT_SPECS, show_default=True, help="Spec files or folders.")
@click.option(
    "--prometheus",
    "prometheus_url",
    envvar="AGENT_SLO_PROMETHEUS",
    default="http://127.0.0.1:9090",
    show_default=True,
    help="Prometheus with the generated rules (or AGENT_SLO_PROMETHEUS).",
)
@click.option(
    "--min-remaining", default=0.0, show_default=True, help="Deny under this % of budget left."
)
@click.option("--require-days-in-budget", type=int, help="Allow only after N days inside budget.")
@click.option("--canary", help='Label matcher of the canary, e.g. prompt_version="v42".')
@click.option("--canary-window", default="1h", show_default=True, help="Window compared.")
@click.option("--min-runs", default=50, show_default=True, help="Runs needed on each side.")
@click.option("--alpha", default=0.01, show_default=True, help="Significance of the canary test.")
@click.option("--max-burn", default=6.0, show_default=True, help="Deny a canary burning faster.")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
@click.pass_context
def gate(
    ctx: click.Context,
    slo_name: str,
    specs: str,
    prometheus_url: str,
    min_remaining: float,
    require_days_in_budget: int | None,
    canary: str | None,
    canary_window: str,
    min_runs: int,
    alpha: float,
    max_burn: float,
    as_json: bool,
) -> None:
    """Deploy gate: exit 0 allow, 1 deny, 2 could not decide; the reasons are printed."""
    from rulegen import gate as gates  # noqa: PLC0415 - only this command needs it
    from rulegen.promapi import Prometheus  # noqa: PLC0415

    slos = {s.name: s for w in _load((specs,), "no decision was made") for s in w.slos}
    if slo_name not in slos:
        raise click.UsageError(f"unknown SLO {slo_name!r} (known: {', '.join(sorted(slos))})")
    spec = gates.CanarySpec(canary, canary_window, min_runs, alpha, max_burn) if canary else None
    verdict = gates.decide(
        Prometheus(prometheus_url),
        slos[slo_name],
        min_remaining / 100,
        require_days_in_budget,
        spec,
    )
    if as_json:
        click.echo(verdict.to_json(), nl=False)
    else:
        click.echo(f"{verdict.word}:")
        for reason in verdict.reasons:
            click.echo(f"  - {reason}")
    ctx.exit(verdict.code)


def _prometheus_report(
    url: str, slo_name: str | None, specs: str, until: datetime.datetime | None, fmt: str
) -> None:
    from rulegen import report as reports  # noqa: PLC0415 - only this command needs them
    from rulegen.promapi import Prometheus, PrometheusError  # noqa: PLC0415

    slos = [s for w in _load((specs,), "nothing was reported") for s in w.slos]
    if slo_name is not None:
        slos = [s for s in slos if s.name == slo_name]
        if not slos:
            raise click.UsageError(f"unknown SLO {slo_name!r}")
    at = until.replace(tzinfo=datetime.UTC) if until else datetime.datetime.now(datetime.UTC)
    prom = Prometheus(url)
    try:
        found = [reports.prometheus_report(prom, slo, at.timestamp()) for slo in slos]
    except PrometheusError as exc:
        raise DomainFailure(str(exc)) from exc
    if fmt == "json":
        click.echo(json.dumps([json.loads(r.to_json()) for r in found], indent=2, sort_keys=True))
        return
    click.echo("\n".join(reports.render(r, fmt) for r in found), nl=False)
