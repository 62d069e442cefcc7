"""The ``ui`` command: the status page of every SLO, read from the specs and Prometheus."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

import click

from agent_slo.cli.common import (
    DEFAULT_SPECS,
    DomainFailure,
    load_workflows,
    parse_basic_auth,
    parse_tokens,
)
from agent_slo.cli.decisions import _PROMETHEUS  # the report's and the gate's option

if TYPE_CHECKING:
    from statuspage.app import Access

__all__ = ["ui"]


@click.command()
@click.option("--specs", default=DEFAULT_SPECS, show_default=True, help="Spec files or folders.")
@_PROMETHEUS
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=9465, show_default=True, type=int, help="Port (0: any free).")
@click.option(
    "--base-path",
    default="",
    help="Path prefix the page is served under behind a proxy, e.g. /slo.",
)
@click.option(
    "--listen-wide",
    is_flag=True,
    help="Allow a --host other than loopback (the page binds 127.0.0.1 by default).",
)
@click.option(
    "--tokens-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Bearer tokens that may read the page, one per line: TOKEN [WORKFLOW ...] (no "
    "workflow: every SLO; else those workflows' SLOs alone), as the exporter's tokens file.",
)
@click.option(
    "--basic-auth",
    envvar="AGENT_SLO_UI_AUTH",
    help="USER:PASSWORD that may read the page (basic auth); or AGENT_SLO_UI_AUTH.",
)
@click.option(
    "--min-runs",
    default=10,
    show_default=True,
    type=click.IntRange(min=1),
    help="Breakdown rows with fewer runs get no verdict yet.",
)
@click.option(
    "--cache-seconds",
    default=15.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Serve the overview computed less than this long ago (one computation at a time; "
    "0: every load asks Prometheus). SLO pages are always read anew.",
)
@click.option(
    "--max-connections",
    default=64,
    show_default=True,
    type=click.IntRange(min=1),
    help="Connections open at once (a thread each); past it a newcomer gets 503.",
)
@click.option(
    "--timeout",
    default=10.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds a query to Prometheus may take.",
)
def ui(
    specs: str,
    prometheus_url: str,
    host: str,
    port: int,
    base_path: str,
    listen_wide: bool,
    tokens_file: Path | None,
    basic_auth: str | None,
    min_runs: int,
    cache_seconds: float,
    max_connections: int,
    timeout: float,
) -> None:
    """Serve the status page: every SLO the worst first (objective, SLI, budget left in % and
    in runs, burn rate, alerts, policy status and action, autonomy), a page per SLO with its
    charts, burn-rate tiers, policies, breakdowns and a canary test, and their JSON
    (/api/overview, /api/slo/NAME). Read-only; figures from the generated rules' recorded
    series in Prometheus."""
    import logging  # noqa: PLC0415 - only the service needs these
    import signal  # noqa: PLC0415
    import threading  # noqa: PLC0415

    from decisions.promapi import Prometheus  # noqa: PLC0415
    from exporter.server import serve_until_stopped  # noqa: PLC0415
    from statuspage.app import StatusPage  # noqa: PLC0415
    from statuspage.overview import Catalog  # noqa: PLC0415
    from statuspage.server import make_server  # noqa: PLC0415

    if host not in ("127.0.0.1", "localhost", "::1") and not listen_wide:
        raise click.UsageError(f"--host {host} listens beyond this machine: add --listen-wide")
    if base_path and not base_path.startswith("/"):
        raise click.BadParameter("expected a path starting with /", param_hint="'--base-path'")
    access = _access(tokens_file, basic_auth)
    catalog = Catalog(load_workflows((specs,), "the status page did not start"))
    page = StatusPage(
        Prometheus(prometheus_url, timeout=timeout),
        catalog,
        base_path=base_path,
        access=access,
        min_runs=min_runs,
        cache_seconds=cache_seconds,
    )
    try:
        server = make_server(page, host, port, max_connections=max_connections)
    except OSError as exc:
        raise DomainFailure(
            f"the status page did not start: cannot listen on {host}:{port}: {exc}"
        ) from exc
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    bound_host, bound_port = server.server_address[:2]
    logging.getLogger("agent_slo.ui").info(
        "agent-slo status page on http://%s:%s%s/ (%d SLO(s), Prometheus %s, %s)",
        bound_host,
        bound_port,
        page.base,
        len(catalog.entries),
        prometheus_url,
        "credentials needed" if access else "open to whoever reaches the port",
    )
    serve_until_stopped(server, stop)


def _access(tokens_file: Path | None, basic_auth: str | None) -> Access | None:
    """Who may read: the tokens of ``tokens_file`` (the exporter's format) and the basic
    auth pair, checked by the exporter's :class:`~exporter.server.Security`."""
    from exporter.server import Security  # noqa: PLC0415
    from statuspage.app import Access  # noqa: PLC0415

    tokens = parse_tokens(tokens_file.read_text(encoding="utf-8")) if tokens_file else {}
    if tokens_file and not tokens:
        raise DomainFailure(
            f"--tokens-file {tokens_file} holds no token (every line is blank or a comment): "
            "the page would be open; add a line TOKEN [WORKFLOW ...]"
        )
    basic = None if basic_auth is None else parse_basic_auth(basic_auth, "--basic-auth")
    if not tokens and basic is None:
        return None
    security = Security(tokens, basic)

    def viewer(header: str | None) -> frozenset[str] | Literal[False] | None:
        if basic is not None and security.metrics_allowed(header):
            return None
        found = security.workflows_for(header) if tokens else False
        return False if isinstance(found, bool) else found  # True is never given

    challenge = 'Basic realm="agent-slo"' if basic is not None else 'Bearer realm="agent-slo"'
    return Access(viewer, challenge)
