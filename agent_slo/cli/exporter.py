"""Commands around the exporter: ``serve``, ``record``, ``webhook``. Nothing here loads
the rule generators."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Final

import click

from agent_slo.cli.common import (
    DEFAULT_SPECS,
    DomainFailure,
    load_workflows,
    parse_basic_auth,
    parse_tokens,
)
from agent_slo.cli.types import DURATION

if TYPE_CHECKING:
    from exporter.server import Security

__all__ = ["record", "serve", "webhook"]


@click.command()
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
    "--idempotency-horizon",
    default="24h",
    show_default=True,
    type=DURATION,
    help="How long ids are kept.",
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
    catalog = Catalog.from_model(load_workflows((specs,), "the exporter did not start"))
    horizon = float(parse_duration(idempotency_horizon))  # checked by its option type
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


@click.command()
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
    if tokens_file and not parse_tokens(file_text):
        raise DomainFailure(
            f"--tokens-file {tokens_file} holds no token (every line is blank or a comment): "
            "writes would be open; add a line TOKEN [WORKFLOW ...]"
        )
    tokens = parse_tokens(
        file_text + "\n" + os.environ.get("AGENT_SLO_TOKENS", "").replace(";", "\n")
    )
    basic = None if metrics_auth is None else parse_basic_auth(metrics_auth, "--metrics-auth")
    return Security(tokens, basic)


#: The option of `record` that gives each field of an event.
_OPTIONS: Final = {
    "workflow": "--workflow",
    "outcome": "--outcome",
    "count": "--count",
    "duration_seconds": "--duration",
    "id": "--id",
}


@click.command()
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
    from exporter.client import RefusedError, post_outcomes  # noqa: PLC0415 - only this command
    from exporter.wire import EventError, check_fields  # noqa: PLC0415

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
    try:
        check_fields(event)
    except EventError as exc:  # the exporter would refuse it: say so without sending
        option = _OPTIONS.get(exc.field) or f"--dim {exc.field.removeprefix('dimensions.')}"
        raise click.UsageError(f"{option}: {exc.reason}") from exc
    try:
        reply = post_outcomes(url.rstrip("/") + "/v1/outcomes", event, token=token)
    except RefusedError as exc:
        raise DomainFailure(str(exc)) from exc
    except OSError as exc:
        raise DomainFailure(f"could not reach the exporter at {url}: {exc}") from exc
    click.echo(f"recorded: {reply['accepted']} event(s), {reply['duplicates']} duplicate(s)")
