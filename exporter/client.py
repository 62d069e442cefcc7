"""A tiny client for agents: record outcomes without slowing down or breaking the agent.

Standard library only. ``record()`` checks the event with the exporter's own rules
(:mod:`exporter.wire`), puts it in a bounded in-memory queue and returns; a background
thread sends batches, retrying with backoff under stable idempotency keys, so a retried
batch is counted once. The exporter takes each batch event by event (``?partial=1``): the
valid events are counted and each refused one comes back with its reason, so one bad event
never costs the others. When the queue is full the oldest events are dropped and counted in
``dropped``; nothing is raised into the agent's path unless ``strict=True``.

    client = OutcomeClient("http://127.0.0.1:9464", token=os.environ.get("AGENT_SLO_TOKEN"))
    client.record("support-triage", "success", model="triage-small")

    with client.run("support-triage", on_error="timeout", model="triage-small") as run:
        answer = agent.handle(ticket)
        if needs_human(answer):
            run.outcome = "escalated"

From ``asyncio`` code, ``record()`` is safe as it is (it never blocks), and runs are timed
with ``async with client.arun(...)`` or ``@client.atimed(...)``; ``await client.aclose()``
(or ``async with client:``) sends what is queued without blocking the loop.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import random
import re
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any, ClassVar, Final

from exporter.recorder import RecorderBase, Refusal, Run
from exporter.wire import EventError

__all__ = [
    "EventError",
    "OutcomeClient",
    "OutcomeError",
    "Refusal",
    "RefusedError",
    "Run",
    "post_outcomes",
]

log = logging.getLogger("agent_slo.client")
_CLIENT_ERRORS: Final = frozenset({400, 401, 403, 404, 405, 411, 413})
#: Refusals of a whole request that splitting the batch can get past: one event at fault
#: that the exporter could not name, or a body too large.
_SPLITTABLE: Final = frozenset({400, 413})
_POSITION: Final = re.compile(r"events\[(\d+)\]\.?")
_PROBLEMS_SHOWN: Final = 5


class OutcomeError(RuntimeError):
    """In strict mode: the exporter refused an event or could not be reached."""


class RefusedError(Exception):
    """The exporter answered a POST with an error: its status and JSON reason."""

    def __init__(self, status: int, error: str, field: str | None, detail: str) -> None:
        where = f" ({field})" if field else ""
        super().__init__(f"refused with HTTP {status}{where}: {error}")
        self.status = status
        self.error = error
        self.field = field
        self.detail = detail  # the body as sent


def post_outcomes(
    url: str,
    events: dict[str, Any] | list[dict[str, Any]],
    *,
    token: str | None = None,
    timeout: float = 10.0,
) -> dict[str, Any]:
    """POST one event or a batch to the exporter's ``/v1/outcomes`` once; its reply (``accepted``,
    ``duplicates``, ``folded``, and with ``?partial=1`` in ``url``, ``refused``). Raise
    :class:`RefusedError` if it answers with an error, and ``OSError`` if it cannot be
    reached. The one sender of events: the client's background thread and
    ``agent-slo record`` use it."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(  # noqa: S310 - the URL is the user's exporter
        url, data=json.dumps(events).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            reply: dict[str, Any] = json.loads(response.read())
            return reply
    except urllib.error.HTTPError as exc:
        with exc:
            detail = exc.read().decode(errors="replace")
        try:
            parsed = json.loads(detail)
            error, field = str(parsed.get("error", "")), parsed.get("field")
        except (ValueError, AttributeError):
            error, field = str(exc.reason), None
        raise RefusedError(exc.code, error, field, detail) from exc


class OutcomeClient(RecorderBase):
    """Sends outcome events to an agent-slo exporter in the background."""

    #: Asks the exporter to take each batch event by event (older exporters ignore it).
    _QUERY: ClassVar[str] = "?partial=1"

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        batch_size: int = 500,
        flush_interval: float = 1.0,
        max_queue: int = 100_000,
        max_retries: int = 8,
        timeout: float = 5.0,
        strict: bool = False,
        on_refused: Callable[[Refusal], None] | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"the exporter URL must start with http:// or https://, got {url!r}")
        super().__init__(strict=strict, on_refused=on_refused)
        self.url = url.rstrip("/") + "/v1/outcomes"
        self.token = token
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_retries = max_retries
        self.timeout = timeout
        self.dropped = 0
        self.sent = 0
        self._queue: collections.deque[dict[str, Any]] = collections.deque(maxlen=max_queue)
        self._cond = threading.Condition()
        self._inflight = 0
        self._closed = False
        self._problems: list[str] = []  # since the last flush, for strict mode
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._thread = threading.Thread(target=self._loop, name="agent-slo-client", daemon=True)
        self._thread.start()

    # -- recording -----------------------------------------------------------------------

    def record(
        self,
        workflow: str,
        outcome: str,
        *,
        count: int = 1,
        duration_seconds: float | None = None,
        id: str | None = None,
        **dimensions: str,
    ) -> None:
        """Check and queue one event; returns at once (it never waits for the network, so it
        is safe on an event loop). Dimensions are keyword arguments. An event that breaks
        the exporter's rules raises :class:`EventError` if strict, else is logged and listed
        in ``refusals``; the exporter's own refusals (an unknown workflow or outcome) are
        reported there too once the batch is sent."""
        event = self._checked(
            workflow, outcome, count, duration_seconds, id or uuid.uuid4().hex, dimensions
        )
        if event is None:
            return
        with self._cond:
            if self._closed:
                self._fail("the client is closed")
                return
            if len(self._queue) == self._queue.maxlen:
                self.dropped += 1
            self._queue.append(event)
            if len(self._queue) >= self.batch_size:
                self._cond.notify_all()

    # -- delivery ------------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued event is sent (or given up); ``False`` on timeout. In
        strict mode, raise :class:`OutcomeError` naming what was refused or lost since the
        last flush."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._cond.notify_all()
            while self._queue or self._inflight:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining if remaining is not None else 0.1)
        self._raise_problems()
        return True

    async def aflush(self, timeout: float | None = None) -> bool:
        """:meth:`flush` from ``asyncio`` code: the background thread wakes this task when
        the queue is empty; no thread waits on the task's behalf."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        with self._cond:
            if self._queue or self._inflight:
                self._waiters.append((loop, done))
                self._cond.notify_all()
            else:
                done.set_result(None)
        try:
            await asyncio.wait_for(done, timeout)
        except TimeoutError:
            return False
        self._raise_problems()
        return True

    def close(self, timeout: float | None = 10.0) -> None:
        """Send what is queued and stop the background thread."""
        try:
            self.flush(timeout)
        finally:
            self._stop()
            self._thread.join(timeout)

    async def aclose(self, timeout: float | None = 10.0) -> None:
        """:meth:`close` from ``asyncio`` code; the background thread ends on its own."""
        try:
            await self.aflush(timeout)
        finally:
            self._stop()

    def _stop(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _fail(self, message: str) -> None:
        log.warning("agent-slo: %s", message)
        self._problems.append(message)
        if self.strict:
            raise OutcomeError(message)

    def _raise_problems(self) -> None:
        with self._cond:
            problems, self._problems = self._problems, []
        if problems and self.strict:
            shown = "; ".join(problems[:_PROBLEMS_SHOWN])
            more = len(problems) - _PROBLEMS_SHOWN
            raise OutcomeError(shown + (f"; and {more} more" if more > 0 else ""))

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait(self.flush_interval)
                if not self._queue and self._closed:
                    return
                batch = [
                    self._queue.popleft() for _ in range(min(self.batch_size, len(self._queue)))
                ]
                self._inflight += len(batch)
            try:
                self._deliver(batch)
            finally:
                with self._cond:
                    self._inflight -= len(batch)
                    self._cond.notify_all()
                    if not self._queue and not self._inflight:
                        waiters, self._waiters = self._waiters, []
                    else:
                        waiters = []
                for loop, done in waiters:
                    with contextlib.suppress(RuntimeError):  # that loop has ended
                        loop.call_soon_threadsafe(_settle, done)

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        """Send ``batch`` until each event is counted, refused or given up. A refusal of the
        whole request (an exporter without ``?partial=1``, or a body too large) is narrowed
        down: the event it names is refused and the rest sent again; failing a name, the
        batch is halved. Ids make every resend count once."""
        work = [batch]
        while work:
            events = work.pop()
            try:
                reply = self._post(events)
            except RefusedError as exc:
                work.extend(self._narrow(events, exc))
                continue
            except OSError as exc:
                self.dropped += len(events)
                message = f"gave up sending {len(events)} event(s): {exc}"
                log.warning("agent-slo: %s", message)
                with self._cond:
                    self._problems.append(message)
                continue
            refused = _refused_items(reply, len(events))
            for index, field, kind, reason in refused:
                self._exporter_refused(events[index], field, kind, reason)
            self.sent += len(events) - len(refused)

    def _post(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        """POST ``events`` once they get an answer: retry unreachable or overloaded
        exporters with backoff; raise :class:`RefusedError` for a client error, ``OSError``
        once the retries are spent."""
        delay = 0.1
        last: OSError | RefusedError | None = None
        attempts = 0
        while attempts <= self.max_retries:
            attempts += 1
            try:
                return post_outcomes(
                    self.url + self._QUERY, events, token=self.token, timeout=self.timeout
                )
            except RefusedError as exc:
                if exc.status in _CLIENT_ERRORS:
                    raise
                last = exc
            except OSError as exc:
                last = exc
            log.debug("agent-slo: attempt %d failed: %s", attempts, last)
            if self._closed and attempts >= 2:
                break
            time.sleep(delay * (1 + random.random()))  # noqa: S311 - jitter, not security
            delay = min(delay * 2, 5.0)
        raise OSError(f"no answer after {attempts} attempt(s): {last}")

    def _narrow(
        self, events: list[dict[str, Any]], exc: RefusedError
    ) -> list[list[dict[str, Any]]]:
        """What to send again after the exporter refused ``events`` as a whole."""
        named = _POSITION.match(exc.field or "")
        if named is not None and len(events) > 1 and int(named[1]) < len(events):
            index = int(named[1])
            field = exc.field[named.end() :] if exc.field else ""
            self._exporter_refused(events[index], field, _reason_of(exc), exc.error)
            return [events[:index] + events[index + 1 :]]
        if len(events) > 1 and exc.status in _SPLITTABLE:
            half = len(events) // 2
            return [events[half:], events[:half]]
        # Nothing to narrow down (a bad token, a wrong URL...): every event shares the
        # reason, which is logged once for them all.
        field, kind = _POSITION.sub("", exc.field or ""), _reason_of(exc)
        for event in events:
            self._refuse(event, field, kind, exc.error, logged=False)
        message = f"exporter refused {len(events)} event(s) with HTTP {exc.status} ({kind}): "
        log.warning("agent-slo: %s%s", message, exc.error)
        with self._cond:
            self._problems.append(message + exc.error)
        return []

    def _exporter_refused(self, event: dict[str, Any], field: str, kind: str, reason: str) -> None:
        refusal = self._refuse(event, _POSITION.sub("", field), kind, reason)
        with self._cond:
            self._problems.append(f"exporter refused {refusal}")


def _refused_items(reply: dict[str, Any], sent: int) -> list[tuple[int, str, str, str]]:
    """The events refused alone in a ``?partial=1`` reply: index, field, reason code and
    sentence. Entries that do not name an event of the batch are ignored: they cannot be
    told apart from counted events."""
    items = reply.get("refused")
    out: dict[int, tuple[int, str, str, str]] = {}
    for item in items if isinstance(items, list) else []:
        index = item.get("index") if isinstance(item, dict) else None
        if isinstance(index, int) and 0 <= index < sent:
            field, kind = str(item.get("field", "")), str(item.get("reason", ""))
            out[index] = (index, field, kind, str(item.get("error", "")))
    return sorted(out.values())


def _reason_of(exc: RefusedError) -> str:
    """The exporter's reason code in a refusal, or the HTTP status when it gave none."""
    try:
        code = json.loads(exc.detail).get("reason")
    except (ValueError, AttributeError):
        code = None
    return str(code) if code else f"http_{exc.status}"


def _settle(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_result(None)
