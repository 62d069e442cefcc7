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
import contextlib
import functools
import hmac
import json
import logging
import math
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Final, Protocol

from prometheus_client.exposition import choose_encoder

from exporter.events import Event, EventError, EventParser, Parsed
from exporter.http import Deferred, HttpLimits, HttpServer, Request, Response
from exporter.metrics import Exposition, build_registry
from exporter.store import Applied, BatchError, Outcome, Store, Submission

__all__ = ["ExporterApp", "Limits", "RefusalLog", "Security", "make_server", "serve_until_stopped"]

log = logging.getLogger("agent_slo.exporter")
OUTCOMES_PATH: Final = "/v1/outcomes"
_PARSE_INLINE_BYTES: Final = 64 * 1024  # larger bodies are parsed off the event loop
_REALM: Final = 'Basic realm="agent-slo"'
#: Seconds a commit waits for the writers the last commit answered (see _Commits).
WAVE_HOLD: Final = 0.0005
_WAVE_WINDOW: Final = 0.005  # seconds after a commit its writers are expected back


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
        self.commits = _Commits(store, limits.commit_timeout)
        self.parser = EventParser(store.catalog)

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
            return self._refusal(
                request.client, 401, "unauthorized", "a valid bearer token is required"
            )
        length = request.headers.get("content-length")
        if "transfer-encoding" in request.headers or length is None:
            return self._refusal(
                request.client,
                411,
                "length_required",
                "send the body with one Content-Length header alone",
            )
        if int(length) > self.limits.max_body_bytes:  # h11 checked it is one number
            return self._refusal(
                request.client,
                413,
                "too_large",
                f"the body may hold at most {self.limits.max_body_bytes} bytes",
            )
        return None

    def handle(self, request: Request) -> Response | Deferred | asyncio.Future[Response]:
        """Answer a complete request (writes without a coroutine: they are the hot path)."""
        if request.method == "GET":
            return asyncio.ensure_future(self._get(request))
        each = _takes_each(request.query)
        if len(request.body) > _PARSE_INLINE_BYTES:
            return asyncio.ensure_future(self._post_large(request, each))
        try:
            parsed = self._parse(request.body, each)
        except EventError as exc:
            return self._refusal(request.client, 400, exc.kind, exc.reason, exc.field, exc.events)
        return self._post(request, parsed, each)

    def refuse(self, client: str, status: int, reason: str, message: str) -> Response:
        """Count and log a refusal made by the server itself; the answer to send."""
        return self._refusal(client, status, reason, message)

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

    async def _post_large(self, request: Request, each: bool) -> Response:
        loop = asyncio.get_running_loop()
        try:
            parsed = await loop.run_in_executor(self.pool, self._parse, request.body, each)
        except EventError as exc:
            return self._refusal(request.client, 400, exc.kind, exc.reason, exc.field, exc.events)
        answer = self._post(request, parsed, each)
        if isinstance(answer, Response):
            return answer
        later: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        answer.bind(partial(_resolve, later))
        return await later

    def _parse(self, body: bytes, each: bool) -> Parsed:
        if each:
            return self.parser.each(body)
        events = self.parser.body(body)
        return Parsed(events, [], list(range(len(events))))

    def _post(self, request: Request, parsed: Parsed, each: bool) -> Response | Deferred:
        events, refused = parsed.events, list(parsed.refused)
        allowed = self.security.workflows_for(request.headers.get("authorization"))
        if isinstance(allowed, frozenset):
            kept = []
            for event, i in zip(events, parsed.positions, strict=True):
                if event.workflow in allowed:
                    kept.append(event)
                    continue
                field = f"events[{i}].workflow" if len(events) > 1 or each else "workflow"
                error = EventError(
                    field, f"this token may not write workflow {event.workflow!r}", "forbidden"
                )
                if not each:
                    return self._refusal(
                        request.client, 403, error.kind, error.reason, error.field, len(events)
                    )
                refused.append((i, error))
            events = kept
        answer = partial(self._recorded, request, len(events), refused if each else None)
        if not events:  # every event of the batch was refused: nothing to commit
            return answer(Applied(0, 0, 0))
        return self.commits.submit(events, answer)

    def _recorded(
        self,
        request: Request,
        events: int,
        refused: list[tuple[int, EventError]] | None,
        outcome: Outcome | TimeoutError,
    ) -> Response:
        """The answer once the store has committed a batch, or failed to. The events refused
        one by one (``refused``, in a ``?partial=1`` request) are counted only with the 200
        that names them: after a 503 the client retries them, to be counted then."""
        if isinstance(outcome, BatchError):
            return self._refusal(
                request.client, 400, "unstorable_value", str(outcome), events=events
            )
        if isinstance(outcome, TimeoutError):
            return _json(
                503,
                {
                    "error": f"the store did not answer within {self.limits.commit_timeout:g} s; "
                    "the batch may or may not be recorded: retry it with the same ids",
                    "reason": "store",
                },
            )
        if isinstance(outcome, BaseException):
            return _json(503, {"error": f"not recorded: {outcome}", "reason": "store"})
        if outcome.duplicates:
            self.exposition.health.duplicates.inc(outcome.duplicates)
        if refused is None:
            return _applied(outcome.applied, outcome.duplicates, outcome.folded)
        reply: dict[str, Any] = {
            "accepted": outcome.applied,
            "duplicates": outcome.duplicates,
            "folded": outcome.folded,
        }
        reply["refused"] = [self._refused_event(request, i, exc) for i, exc in sorted(refused)]
        return _json(200, reply)

    def _refused_event(self, request: Request, index: int, exc: EventError) -> dict[str, Any]:
        """Count and log one event refused alone; its entry in the answer."""
        status = 403 if exc.kind == "forbidden" else 400
        self.exposition.health.rejected.labels(exc.kind).inc()
        self.refusals.refused(status, exc.kind, exc.field, request.client, 1)
        return {"index": index, "field": exc.field, "reason": exc.kind, "error": exc.reason}

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

    def _refusal(  # noqa: PLR0917 - a refusal is its status, reason, field and size
        self,
        client: str,
        status: int,
        kind: str,
        reason: str,
        field: str = "",
        events: int = 1,
    ) -> Response:
        self.exposition.health.rejected.labels(kind).inc(events)
        self.refusals.refused(status, kind, field, client, events)
        payload: dict[str, Any] = {"error": reason, "reason": kind}
        if field:
            payload["field"] = field
        return _json(status, payload)


class _Commits:
    """Store commits answered on the event loop, with as few objects and thread wake-ups as
    possible. The writes of one loop iteration are one submission, committed on the loop
    itself while that is quick (:meth:`Store.commit_here`), else by the committer thread,
    whose outcomes come back in one call (one wake-up of the loop answers every submission
    committed meanwhile).

    A commit waits up to :data:`WAVE_HOLD` for the writers its last commit answered (the
    closed-loop writers every client library is: each sends its next write once answered):
    they are about to write again, and one commit (one flush to disk) for all of them costs
    less than one for the first few and another for the rest."""

    def __init__(self, store: Store, timeout: float) -> None:
        self.store = store
        self.timeout = timeout
        self._batches: list[list[Event]] = []
        self._answers: list[tuple[Deferred, Callable[[Outcome | TimeoutError], Response]]] = []
        self._done: list[tuple[_Sent, list[Outcome]]] = []
        self._lock = threading.Lock()
        self._scheduled = False
        self._expected = 0  # writes the last commit answered
        self._arrived = 0  # writes since
        self._first = 0.0  # loop time of the first write waiting
        self._last = -math.inf  # loop time of the last commit
        self._holding = False

    def submit(
        self, events: list[Event], answer: Callable[[Outcome | TimeoutError], Response]
    ) -> Deferred:
        """Commit ``events``; the request is answered with ``answer`` of what the store did.
        Past the timeout, the batch is withdrawn if the committer has not taken it yet."""
        loop = asyncio.get_running_loop()
        if not self._batches:
            self._first = loop.time()
            loop.call_soon(self._ready, loop)
        deferred = Deferred()
        self._batches.append(events)
        self._answers.append((deferred, answer))
        self._arrived += 1
        if self._holding and self._arrived >= self._expected:
            self._holding = False
            loop.call_soon(self._ready, loop)
        return deferred

    def _ready(self, loop: asyncio.AbstractEventLoop) -> None:
        """At the end of a loop iteration with writes: commit them, or hold them while the
        writers answered last are still to write (at most WAVE_HOLD)."""
        if not self._batches:
            return
        now = loop.time()
        left = self._first + WAVE_HOLD - now
        recent = now - self._last < _WAVE_WINDOW  # else those writers are not coming back
        if self._arrived >= self._expected or left <= 0 or not recent:
            self._holding = False
            self._send(loop)
        elif not self._holding:
            self._holding = True
            loop.call_later(left, self._ready, loop)

    def _send(self, loop: asyncio.AbstractEventLoop) -> None:
        sent = _Sent(self._answers)
        submission = Submission(self._batches, sent.settle)
        self._expected, self._arrived = len(self._answers), 0
        self._batches, self._answers = [], []
        committed = self.store.commit_here(submission)
        self._last = loop.time()
        if committed:
            return
        submission.done = partial(self._finished, loop, sent)
        sent.submission = submission
        sent.timer = loop.call_later(self.timeout, sent.expire)  # one timer for them all
        self.store.send(submission)

    def _finished(
        self, loop: asyncio.AbstractEventLoop, sent: _Sent, outcomes: list[Outcome]
    ) -> None:
        """In the committer thread: queue the outcomes, wake the loop once."""
        with self._lock:
            self._done.append((sent, outcomes))
            if self._scheduled:
                return
            self._scheduled = True
        with contextlib.suppress(RuntimeError):  # the loop has ended: nobody waits
            loop.call_soon_threadsafe(self._deliver)

    def _deliver(self) -> None:
        with self._lock:
            done, self._done = self._done, []
            self._scheduled = False
        for sent, outcomes in done:
            sent.settle(outcomes)


class _Sent:
    """The writes of one loop iteration, sent to the committer together, with one deadline."""

    __slots__ = ("answers", "settled", "submission", "timer")

    def __init__(
        self, answers: list[tuple[Deferred, Callable[[Outcome | TimeoutError], Response]]]
    ) -> None:
        self.answers = answers
        self.submission: Submission | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.settled = False

    def settle(self, outcomes: Sequence[Outcome | TimeoutError]) -> None:
        """Answer every write (once) with its batch's outcome."""
        if self.settled:
            return
        self.settled = True
        if self.timer is not None:
            self.timer.cancel()
        for (deferred, answer), outcome in zip(self.answers, outcomes, strict=True):
            try:
                response: Response | BaseException = answer(outcome)
            except Exception as exc:  # noqa: BLE001 - answered with 500, logged by the server
                response = exc
            deferred.send(response)

    def expire(self) -> None:
        """Past the commit timeout: withdraw the batches if the committer has not taken
        them, and answer every write."""
        if self.submission is not None:
            self.submission.withdraw()
        self.settle([TimeoutError()] * len(self.answers))


def _resolve(future: asyncio.Future[Response], answer: Response | BaseException) -> None:
    if future.done():
        return
    if isinstance(answer, BaseException):
        future.set_exception(answer)
    else:
        future.set_result(answer)


def _takes_each(query: str) -> bool:
    """Whether the request asks for its batch to be taken event by event (``?partial=1``)."""
    if not query:
        return False
    values = urllib.parse.parse_qs(query).get("partial", [])
    return bool(values) and values[-1].lower() in {"1", "true", "yes"}


@functools.lru_cache(maxsize=1024)
def _applied(applied: int, duplicates: int, folded: int) -> Response:
    """The 200 of a batch taken whole: the same few answers over and over, so kept (a
    Response is immutable)."""
    return _json(200, {"accepted": applied, "duplicates": duplicates, "folded": folded})


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
    exposition = build_registry(store)
    exposition.renderer.render()  # every known series' text, before the first scrape asks
    app = ExporterApp(store, exposition, limits, security or Security())
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
