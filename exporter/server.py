"""The exporter's HTTP service: outcome events in, Prometheus metrics out.

- ``POST /v1/outcomes``: one event or a batch; 200 once durable, 4xx with a JSON reason
  (nothing applied) for client mistakes, 503 if the store failed.
- ``GET /metrics``: Prometheus text format or OpenMetrics, by the Accept header.
- ``GET /healthz`` and ``GET /readyz``: 200 while the store can write (its writer thread
  runs, its file is the one it opened, its last commit did not fail for the storage), 503
  otherwise.

The routes run on :class:`exporter.http.HttpServer`, which bounds connections, request time
and work (see :mod:`exporter.http`); writes wait for the store on the event loop, never on a
thread of their own.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from prometheus_client.exposition import choose_encoder

from exporter.events import Event, EventError, parse_body
from exporter.http import HttpLimits, HttpServer, Request, Response
from exporter.metrics import Exposition, build_registry
from exporter.store import BatchError, Store, StoreError

__all__ = ["ExporterApp", "Limits", "RefusalLog", "Security", "make_server", "serve_until_stopped"]

log = logging.getLogger("agent_slo.exporter")
OUTCOMES_PATH: Final = "/v1/outcomes"
_PARSE_INLINE_BYTES: Final = 64 * 1024  # larger bodies are parsed off the event loop
_REALM: Final = 'Basic realm="agent-slo"'


@dataclass(frozen=True)
class Limits(HttpLimits):
    """The server's bounds (:class:`HttpLimits`) and how long a write waits for the store."""

    commit_timeout: float = 30.0  # seconds


@dataclass(frozen=True)
class Security:
    """Bearer tokens for writes (each for all workflows, or some) and basic auth on /metrics."""

    tokens: Mapping[str, frozenset[str] | None] = field(default_factory=dict)
    metrics_basic_auth: tuple[str, str] | None = None

    def workflows_for(self, header: str | None) -> frozenset[str] | bool | None:
        """Workflows a request may write: ``None`` all, a set some, ``False`` refused."""
        if not self.tokens:
            return None
        if not header or not header.startswith("Bearer "):
            return False
        given = header.removeprefix("Bearer ").strip().encode()
        for token, workflows in self.tokens.items():
            if hmac.compare_digest(given, token.encode()):
                return workflows
        return False

    def metrics_allowed(self, header: str | None) -> bool:
        """Whether a scrape carries the configured basic-auth credentials."""
        if self.metrics_basic_auth is None:
            return True
        if not header or not header.startswith("Basic "):
            return False
        user, password = self.metrics_basic_auth
        expected = base64.b64encode(f"{user}:{password}".encode()).decode()
        return hmac.compare_digest(header.removeprefix("Basic ").strip(), expected)


class RefusalLog:
    """One log line per refused request (status, reason, field, client; never the body), at
    most ``burst`` a minute; past that, a summary by reason once a minute."""

    def __init__(self, burst: int = 20, clock: Callable[[], float] = time.monotonic) -> None:
        self.burst = burst
        self.clock = clock
        self._lock = threading.Lock()
        self._start = clock()
        self._logged = 0
        self._held: Counter[str] = Counter()

    def refused(self, status: int, kind: str, field: str, client: str, events: int) -> None:
        """Log one refusal, or count it for the minute's summary."""
        with self._lock:
            if self.clock() - self._start >= 60:
                self._flush()
            if self._logged < self.burst:
                self._logged += 1
                log.info(
                    "refused %d %s%s from %s (%d event%s)",
                    status,
                    kind,
                    f" at {field}" if field else "",
                    client,
                    events,
                    "" if events == 1 else "s",
                )
            else:
                self._held[kind] += 1

    def flush(self) -> None:
        """Log the summary of refusals held back so far."""
        with self._lock:
            self._flush()

    def _flush(self) -> None:
        if self._held:
            by_reason = ", ".join(f"{k} {n}" for k, n in sorted(self._held.items()))
            log.info(
                "refused %d more request(s) since %.0f s ago: %s",
                sum(self._held.values()),
                self.clock() - self._start,
                by_reason,
            )
        self._start = self.clock()
        self._logged = 0
        self._held.clear()


class ExporterApp:
    """The exporter's routes, on any :class:`~exporter.http.HttpServer`."""

    def __init__(
        self,
        store: Store,
        exposition: Exposition,
        limits: Limits,
        security: Security,
        refusals: RefusalLog | None = None,
    ) -> None:
        self.store = store
        self.exposition = exposition
        self.limits = limits
        self.security = security
        self.refusals = refusals or RefusalLog()
        # Scrapes and large batches are parsed off the event loop, so that they never hold
        # up the answers to other clients.
        self.pool = ThreadPoolExecutor(2, thread_name_prefix="agent-slo-work")

    # -- the server's interface ----------------------------------------------------------

    def head(self, request: Request) -> Response | None:  # noqa: PLR0911 - one per refusal
        """Refuse from the headers what can be refused without the body."""
        if request.method not in ("GET", "POST"):
            return _json(405, {"error": "use GET or POST", "reason": "method"}, close=True)
        if request.method == "GET":
            return None
        if request.path != OUTCOMES_PATH:
            return _json(404, {"error": f"no such path: {request.path}", "reason": "not_found"})
        if self.security.workflows_for(request.headers.get("authorization")) is False:
            return self._refuse(request, 401, "unauthorized", "a valid bearer token is required")
        length = request.headers.get("content-length")
        if "transfer-encoding" in request.headers or length is None:
            return self._refuse(
                request,
                411,
                "length_required",
                "send the body with one Content-Length header alone",
            )
        if int(length) > self.limits.max_body_bytes:  # h11 checked it is one number
            return self._refuse(
                request,
                413,
                "too_large",
                f"the body may hold at most {self.limits.max_body_bytes} bytes",
            )
        return None

    async def handle(self, request: Request) -> Response:
        """Answer a complete request."""
        if request.method == "GET":
            return await self._get(request)
        return await self._post(request)

    def refuse(self, client: str, status: int, reason: str, message: str) -> Response:
        """Count and log a refusal made by the server itself; the answer to send."""
        self.exposition.health.rejected.labels(reason).inc()
        self.refusals.refused(status, reason, "", client, 1)
        return _json(status, {"error": message, "reason": reason})

    def close(self) -> None:
        """Stop the worker threads and log the refusals held back."""
        self.pool.shutdown(wait=True)
        self.refusals.flush()

    # -- routes --------------------------------------------------------------------------

    async def _get(self, request: Request) -> Response:
        if request.path == "/metrics":
            return await self._metrics(request)
        if request.path in ("/healthz", "/readyz"):
            problem = self.store.problem()
            if problem is None:
                return _json(200, {"status": "ok" if request.path == "/healthz" else "ready"})
            return _json(503, {"status": "failing", "reason": problem})
        if request.path == OUTCOMES_PATH:
            return _json(405, {"error": "use POST to record outcomes", "reason": "method"})
        return _json(404, {"error": f"no such path: {request.path}", "reason": "not_found"})

    async def _post(self, request: Request) -> Response:
        allowed = self.security.workflows_for(request.headers.get("authorization"))
        try:
            if len(request.body) > _PARSE_INLINE_BYTES:
                loop = asyncio.get_running_loop()
                events = await loop.run_in_executor(
                    self.pool, parse_body, request.body, self.store.catalog
                )
            else:
                events = parse_body(request.body, self.store.catalog)
        except EventError as exc:
            return self._refuse(request, 400, exc.kind, exc.reason, exc.field, exc.events)
        if isinstance(allowed, frozenset):
            for i, event in enumerate(events):
                if event.workflow not in allowed:
                    return self._refuse(
                        request,
                        403,
                        "forbidden",
                        f"this token may not write workflow {event.workflow!r}",
                        f"events[{i}].workflow" if len(events) > 1 else "workflow",
                        len(events),
                    )
        return await self._record(request, events)

    async def _record(self, request: Request, events: list[Event]) -> Response:
        """Apply checked events and answer with what was counted."""
        # Waiting longer than the commit timeout cancels the batch if it is still queued:
        # an answer of "not recorded" is then true.
        future = asyncio.wrap_future(self.store.submit(events))
        try:
            result = await asyncio.wait_for(future, self.limits.commit_timeout)
        except BatchError as exc:
            return self._refuse(request, 400, "unstorable_value", str(exc), events=len(events))
        except (StoreError, TimeoutError) as exc:
            return _json(503, {"error": f"not recorded: {exc or 'timed out'}", "reason": "store"})
        if result.duplicates:
            self.exposition.health.duplicates.inc(result.duplicates)
        return _json(
            200,
            {
                "accepted": result.applied,
                "duplicates": result.duplicates,
                "folded": result.folded,
            },
        )

    async def _metrics(self, request: Request) -> Response:
        if not self.security.metrics_allowed(request.headers.get("authorization")):
            return Response(401, content_type="text/plain", headers=(("WWW-Authenticate", _REALM),))
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        loop = asyncio.get_running_loop()
        if content_type.startswith("text/plain"):
            body = await loop.run_in_executor(self.pool, self.exposition.text)
        else:
            body = await loop.run_in_executor(self.pool, encoder, self.exposition.registry)
        return Response(200, body, content_type)

    def _refuse(  # noqa: PLR0917 - a refusal is its status, reason, field and size
        self,
        request: Request,
        status: int,
        kind: str,
        reason: str,
        field: str = "",
        events: int = 1,
    ) -> Response:
        self.exposition.health.rejected.labels(kind).inc(events)
        self.refusals.refused(status, kind, field, request.client, events)
        payload: dict[str, Any] = {"error": reason, "reason": kind}
        if field:
            payload["field"] = field
        return _json(status, payload)


def _json(status: int, payload: Mapping[str, Any], *, close: bool = False) -> Response:
    return Response(status, json.dumps(payload, separators=(",", ":")).encode(), close=close)


def make_server(
    store: Store,
    host: str = "127.0.0.1",
    port: int = 9464,
    limits: Limits | None = None,
    security: Security | None = None,
) -> HttpServer:
    """An exporter bound to ``host:port`` (port 0: any free port), not yet serving."""
    limits = limits or Limits()
    app = ExporterApp(store, build_registry(store), limits, security or Security())
    server = HttpServer(app, host, port, limits)
    app.exposition.health.connections.set_function(lambda: len(server.connections))
    return server


class _Serving(Protocol):
    def serve_forever(self) -> None: ...
    def shutdown(self) -> None: ...
    def server_close(self) -> None: ...


def serve_until_stopped(server: _Serving, stop: threading.Event) -> None:
    """Serve in a thread until ``stop`` is set; then accept no new connection and give the
    requests in flight up to the drain timeout to be answered."""
    thread = threading.Thread(target=server.serve_forever, name="agent-slo-http", daemon=True)
    thread.start()
    stop.wait()
    if isinstance(server, HttpServer):
        log.info(
            "stopping: answering requests in flight (up to %.0f s)", server.limits.drain_timeout
        )
    server.shutdown()
    thread.join()
    server.server_close()
    if isinstance(server, HttpServer) and isinstance(server.app, ExporterApp):
        server.app.close()
