"""A tiny client for agents: record outcomes without slowing down or breaking the agent.

Standard library only. ``record()`` puts the event in a bounded in-memory queue and returns;
a background thread sends batches, retrying with backoff under stable idempotency keys, so
a retried batch is counted once. When the queue is full the oldest events are dropped and
counted in ``dropped``; nothing is raised into the agent's path unless ``strict=True``.

    client = OutcomeClient("http://127.0.0.1:9464", token=os.environ.get("AGENT_SLO_TOKEN"))
    client.record("support-triage", "success", model="triage-small")

    with client.run("support-triage", on_error="timeout", model="triage-small") as run:
        answer = agent.handle(ticket)
        if needs_human(answer):
            run.outcome = "escalated"
"""

from __future__ import annotations

import collections
import json
import logging
import random
import threading
import time
import urllib.error
import urllib.request
import uuid
from typing import Any, Final

from exporter.recorder import RecorderBase, Run

__all__ = ["OutcomeClient", "OutcomeError", "RefusedError", "Run", "post_outcomes"]

log = logging.getLogger("agent_slo.client")
_CLIENT_ERRORS: Final = frozenset({400, 401, 403, 404, 405, 411, 413})


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
) -> dict[str, int]:
    """POST one event or a batch to the exporter's ``/v1/outcomes`` once; its reply (``accepted``,
    ``duplicates``, ``folded``). Raise :class:`RefusedError` if it answers with an error, and
    ``OSError`` if it cannot be reached. The one sender of events: the client's background
    thread and ``agent-slo record`` use it."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(  # noqa: S310 - the URL is the user's exporter
        url, data=json.dumps(events).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            reply: dict[str, int] = json.loads(response.read())
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
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"the exporter URL must start with http:// or https://, got {url!r}")
        self.url = url.rstrip("/") + "/v1/outcomes"
        self.token = token
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_retries = max_retries
        self.timeout = timeout
        self.strict = strict
        self.dropped = 0
        self.refused = 0
        self.sent = 0
        self._queue: collections.deque[dict[str, Any]] = collections.deque(maxlen=max_queue)
        self._cond = threading.Condition()
        self._inflight = 0
        self._closed = False
        self._error: OutcomeError | None = None
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
        """Queue one event; returns at once. Dimensions are keyword arguments."""
        event: dict[str, Any] = {
            "workflow": workflow,
            "outcome": outcome,
            "count": count,
            "id": id or uuid.uuid4().hex,
        }
        if dimensions:
            event["dimensions"] = dimensions
        if duration_seconds is not None:
            event["duration_seconds"] = duration_seconds
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
        """Wait until every queued event is sent (or given up); ``False`` on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._cond.notify_all()
            while self._queue or self._inflight:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining if remaining is not None else 0.1)
            error, self._error = self._error, None
        if error is not None and self.strict:
            raise error
        return True

    def close(self, timeout: float | None = 10.0) -> None:
        """Send what is queued and stop the background thread."""
        try:
            self.flush(timeout)
        finally:
            with self._cond:
                self._closed = True
                self._cond.notify_all()
            self._thread.join(timeout)

    def __enter__(self) -> OutcomeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _fail(self, message: str) -> None:
        error = OutcomeError(message)
        log.warning("agent-slo: %s", message)
        self._error = error
        if self.strict:
            raise error

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

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        delay = 0.1
        for attempt in range(self.max_retries + 1):
            try:
                post_outcomes(self.url, batch, token=self.token, timeout=self.timeout)
                self.sent += len(batch)
                return
            except RefusedError as exc:
                if exc.status in _CLIENT_ERRORS:
                    self.refused += len(batch)
                    with self._cond:
                        self._error = OutcomeError(
                            f"exporter refused {len(batch)} event(s): {exc.detail}"
                        )
                    log.warning("agent-slo: exporter refused a batch: %s", exc.detail)
                    return
                log.debug("agent-slo: attempt %d failed: %s", attempt + 1, exc)
            except OSError as exc:
                log.debug("agent-slo: attempt %d failed: %s", attempt + 1, exc)
            if self._closed and attempt >= 1:
                break
            time.sleep(delay * (1 + random.random()))  # noqa: S311 - jitter, not security
            delay = min(delay * 2, 5.0)
        self.dropped += len(batch)
        with self._cond:
            self._error = OutcomeError(f"gave up sending {len(batch)} event(s)")
