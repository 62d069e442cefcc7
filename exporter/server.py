"""The exporter's HTTP service: outcome events in, Prometheus metrics out.

- ``POST /v1/outcomes``: one event or a batch; 200 once durable, 4xx with a JSON reason
  (nothing applied) for client mistakes, 503 if the store failed.
- ``GET /metrics``: Prometheus text format or OpenMetrics, by the Accept header.
- ``GET /healthz`` and ``GET /readyz``: 200 while the store can write (its writer thread
  runs, its file is the one it opened, its last commit did not fail for the storage), 503
  otherwise.
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import json
import logging
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Final

from prometheus_client.exposition import choose_encoder

from exporter.events import Event, EventError, parse_body
from exporter.metrics import Exposition, build_registry
from exporter.store import BatchError, Store, StoreError

__all__ = ["Limits", "RefusalLog", "Security", "ServerConfig", "make_server"]

log = logging.getLogger("agent_slo.exporter")
OUTCOMES_PATH: Final = "/v1/outcomes"


@dataclass(frozen=True)
class Limits:
    """Request size and time limits."""

    max_body_bytes: int = 4 * 1024 * 1024
    read_timeout: float = 10.0  # seconds for a client to send its request
    commit_timeout: float = 30.0  # seconds to wait for the store
    drain_timeout: float = 15.0  # seconds requests in flight get to finish on shutdown


class InFlight:
    """Requests between their request line and their answer; whether the server drains."""

    def __init__(self) -> None:
        self._count = 0
        self._changed = threading.Condition()
        self.draining = False

    @contextlib.contextmanager
    def request(self) -> Iterator[None]:
        """Count a request in flight while it is being handled."""
        with self._changed:
            self._count += 1
        try:
            yield
        finally:
            with self._changed:
                self._count -= 1
                self._changed.notify_all()

    def drain(self, timeout: float) -> int:
        """Stop keeping connections alive, wait up to ``timeout`` s for requests in flight
        to be answered; how many were still in flight then."""
        deadline = time.monotonic() + timeout
        with self._changed:
            self.draining = True
            while self._count and (left := deadline - time.monotonic()) > 0:
                self._changed.wait(left)
            return self._count


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


@dataclass(frozen=True)
class ServerConfig:
    """Everything the handler needs, shared by all request threads."""

    store: Store
    exposition: Exposition
    limits: Limits
    security: Security
    refusals: RefusalLog = field(default_factory=RefusalLog)
    inflight: InFlight = field(default_factory=InFlight)


class _Handler(BaseHTTPRequestHandler):
    server_version = "agent-slo"
    protocol_version = "HTTP/1.1"
    config: ClassVar[ServerConfig]

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.config.limits.read_timeout)
        # Headers and body go out in two writes: without this, Nagle's algorithm holds the
        # body until the client's delayed ACK (40 ms) on every keep-alive request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    # -- responses -----------------------------------------------------------------------

    def _json(self, status: int, payload: Mapping[str, Any]) -> None:
        body = json.dumps(payload, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _refuse(
        self, status: int, kind: str, reason: str, field: str = "", events: int = 1
    ) -> None:
        self.config.exposition.health.rejected.labels(kind).inc(events)
        self.config.refusals.refused(status, kind, field, self.address_string(), events)
        payload: dict[str, Any] = {"error": reason, "reason": kind}
        if field:
            payload["field"] = field
        self._json(status, payload)

    # -- routes --------------------------------------------------------------------------

    def do_GET(self) -> None:
        with self.config.inflight.request():
            self._get()

    def do_POST(self) -> None:
        with self.config.inflight.request():
            self._post()

    def end_headers(self) -> None:
        if self.config.inflight.draining:
            self.send_header("Connection", "close")  # and close it once answered
        super().end_headers()

    def _get(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._metrics()
        elif path in ("/healthz", "/readyz"):
            problem = self.config.store.problem()
            if problem is None:
                self._json(200, {"status": "ok" if path == "/healthz" else "ready"})
            else:
                self._json(503, {"status": "failing", "reason": problem})
        elif path == OUTCOMES_PATH:
            self._json(405, {"error": "use POST to record outcomes", "reason": "method"})
        else:
            self._json(404, {"error": f"no such path: {path}", "reason": "not_found"})

    def _post(self) -> None:
        path = self.path.split("?", 1)[0]
        if path != OUTCOMES_PATH:
            self.close_connection = True  # the body is not read: it must not become a request
            self._json(404, {"error": f"no such path: {path}", "reason": "not_found"})
            return
        allowed = self.config.security.workflows_for(self.headers.get("Authorization"))
        if allowed is False:
            self.close_connection = True
            self._refuse(401, "unauthorized", "a valid bearer token is required")
            return
        body = self._read_body()
        if body is None:
            return
        try:
            events = parse_body(body, self.config.store.catalog)
        except EventError as exc:
            self._refuse(400, exc.kind, exc.reason, exc.field, exc.events)
            return
        if isinstance(allowed, frozenset):
            for i, event in enumerate(events):
                if event.workflow not in allowed:
                    where = f"events[{i}].workflow" if len(events) > 1 else "workflow"
                    self._refuse(
                        403,
                        "forbidden",
                        f"this token may not write workflow {event.workflow!r}",
                        where,
                        len(events),
                    )
                    return
        self._record(events)

    def _record(self, events: list[Event]) -> None:
        """Apply checked events and answer with what was counted."""
        try:
            result = self.config.store.apply(events, timeout=self.config.limits.commit_timeout)
        except BatchError as exc:
            self._refuse(400, "unstorable_value", str(exc), events=len(events))
            return
        except (StoreError, FutureTimeout) as exc:
            self._json(503, {"error": f"not recorded: {exc or 'timed out'}", "reason": "store"})
            return
        if result.duplicates:
            self.config.exposition.health.duplicates.inc(result.duplicates)
        self._json(
            200,
            {
                "accepted": result.applied,
                "duplicates": result.duplicates,
                "folded": result.folded,
            },
        )

    def _read_body(self) -> bytes | None:
        length = self._body_length()
        if length is None:
            self.close_connection = True  # what is left of the request must not be read as one
            return None
        try:
            body = self.rfile.read(length)
        except TimeoutError:
            self._refuse(408, "timeout", "the request body arrived too slowly")
            self.close_connection = True
            return None
        if len(body) < length:
            self.close_connection = True
            return None
        return body

    def _body_length(self) -> int | None:
        """The body's length from one Content-Length header alone; None once refused."""
        lengths = self.headers.get_all("Content-Length") or []
        if "Transfer-Encoding" in self.headers or not lengths:
            self._refuse(
                411, "length_required", "send the body with one Content-Length header alone"
            )
            return None
        if len(lengths) > 1:
            self._refuse(400, "bad_length", "more than one Content-Length header")
            return None
        try:
            length = int(lengths[0])
        except ValueError:
            self._refuse(400, "bad_length", "Content-Length is not a number")
            return None
        if length < 0 or length > self.config.limits.max_body_bytes:
            self._refuse(
                413,
                "too_large",
                f"the body may hold at most {self.config.limits.max_body_bytes} bytes",
            )
            return None
        return length

    def _metrics(self) -> None:
        if not self.config.security.metrics_allowed(self.headers.get("Authorization")):
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="agent-slo"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
        if content_type.startswith("text/plain"):
            body = self.config.exposition.text()
        else:
            body = encoder(self.config.exposition.registry)
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client gone mid-request is one line; anything else a logged traceback."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            log.info("client %s went away mid-request (%s)", client_address[0], type(exc).__name__)
        else:
            log.error("error serving %s", client_address[0], exc_info=exc)


def make_server(
    store: Store,
    host: str = "127.0.0.1",
    port: int = 9464,
    limits: Limits | None = None,
    security: Security | None = None,
) -> ThreadingHTTPServer:
    """An HTTP server bound to ``host:port`` (port 0: any free port), not yet serving."""
    config = ServerConfig(store, build_registry(store), limits or Limits(), security or Security())
    handler = type("Handler", (_Handler,), {"config": config})
    return _Server((host, port), handler)


def serve_until_stopped(server: ThreadingHTTPServer, stop: threading.Event) -> None:
    """Serve in a thread until ``stop`` is set; then accept no new connection and give the
    requests in flight up to the drain timeout to be answered."""
    thread = threading.Thread(target=server.serve_forever, name="agent-slo-http", daemon=True)
    thread.start()
    stop.wait()
    server.shutdown()
    thread.join()
    server.server_close()  # new connections are refused from here on, not left waiting
    config = getattr(server.RequestHandlerClass, "config", None)
    if isinstance(config, ServerConfig):
        timeout = config.limits.drain_timeout
        log.info("stopping: answering requests in flight (up to %.0f s)", timeout)
        if left := config.inflight.drain(timeout):
            log.warning("%d request(s) still in flight after %.0f s are dropped", left, timeout)
        config.refusals.flush()
