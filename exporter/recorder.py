"""What every recorder offers, whichever way its events go: the exporter's client
(:class:`exporter.client.OutcomeClient`), counters in this process
(:class:`exporter.inprocess.InProcessRecorder`) or a list in a test
(:class:`exporter.testing.FakeRecorder`). Agent code written against :class:`Recorder`
runs with any of them, from threads or from ``asyncio``. Standard library only.

The guarantees they share (``tests/test_recorders.py`` holds each of them to these):

- ``record()`` checks the event with the exporter's own rules (:mod:`exporter.wire`)
  before anything is queued or counted. A bad event is never counted; it raises
  :class:`~exporter.wire.EventError` (a ``ValueError`` naming the field) at that call when
  the recorder is strict, and is otherwise logged with its reason, counted in ``refused``
  and listed in ``refusals``.
- ``record()`` never blocks on I/O, so it is safe on an event loop; ``arun()`` and
  ``atimed()`` are the ``async`` forms of ``run()`` and ``timed()``, and ``aflush()`` /
  ``aclose()`` wait without holding a thread.
"""

from __future__ import annotations

import collections
import functools
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ParamSpec, Protocol, Self, TypeVar, runtime_checkable

from exporter.wire import EventError, check_fields

__all__ = ["Recorder", "RecorderBase", "Refusal", "Run"]

P = ParamSpec("P")
R = TypeVar("R")
log = logging.getLogger("agent_slo.recorder")


class Run:
    """A run being timed; set ``outcome`` (and ``dimensions``) before the block ends."""

    def __init__(self, outcome: str, dimensions: dict[str, str]) -> None:
        self.outcome = outcome
        self.dimensions = dimensions


@dataclass(frozen=True)
class Refusal:
    """An event that was not counted, and why: refused by the recorder's own checks at
    ``record()``, or by the exporter (an unknown workflow or outcome, say)."""

    workflow: str
    outcome: str
    id: str | None
    field: str  # within the event: "outcome", "dimensions.model"; "" for the whole event
    kind: str  # the reason's code, as agent_slo_exporter_rejected_events_total counts it
    reason: str  # the sentence

    def __str__(self) -> str:
        where = f" at {self.field}" if self.field else ""
        return f"{self.workflow}/{self.outcome}: {self.kind}{where}: {self.reason}"


@runtime_checkable
class Recorder(Protocol):
    """Records the outcome of agent runs."""

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
        """Record ``count`` runs of ``workflow`` that ended in ``outcome``; an ``id`` makes a
        retry count once. Never blocks; a bad event raises ``EventError`` if strict."""

    def run(
        self, workflow: str, outcome: str = "success", on_error: str = "rejected", **dimensions: str
    ) -> AbstractContextManager[Run]:
        """Time a run and record its outcome; an exception records ``on_error`` and
        re-raises."""

    def timed(
        self, workflow: str, on_error: str = "rejected", **dimensions: str
    ) -> Callable[[Callable[P, R]], Callable[P, R]]:
        """Decorator form of :meth:`run`: success unless the function raises."""

    def arun(
        self, workflow: str, outcome: str = "success", on_error: str = "rejected", **dimensions: str
    ) -> AbstractAsyncContextManager[Run]:
        """:meth:`run` for ``async with``."""

    def atimed(
        self, workflow: str, on_error: str = "rejected", **dimensions: str
    ) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Coroutine[Any, Any, R]]]:
        """:meth:`timed` for coroutine functions."""

    def flush(self, timeout: float | None = None) -> bool:
        """Deliver what is pending; ``False`` if ``timeout`` passed first."""

    def close(self, timeout: float | None = 10.0) -> None:
        """Deliver what is pending and stop."""

    async def aflush(self, timeout: float | None = None) -> bool:
        """:meth:`flush` without blocking the event loop."""

    async def aclose(self, timeout: float | None = 10.0) -> None:
        """:meth:`close` without blocking the event loop."""


class RecorderBase:
    """The checks, the refusal bookkeeping, ``run``/``timed`` and their ``async`` forms,
    written once over the recorder's own ``record``, ``flush`` and ``close``."""

    record: Callable[..., None]
    flush: Callable[..., bool]
    close: Callable[..., None]

    def __init__(
        self,
        *,
        strict: bool,
        on_refused: Callable[[Refusal], None] | None = None,
        keep_refusals: int = 1000,
    ) -> None:
        self.strict = strict
        self.on_refused = on_refused
        self.refused = 0  # events not counted because they were refused
        self.refusals: collections.deque[Refusal] = collections.deque(maxlen=keep_refusals)
        self._refusals_lock = threading.Lock()

    # -- checks and refusals -------------------------------------------------------------

    def _checked(  # noqa: PLR0917 - the arguments of record(), passed on as they came
        self,
        workflow: str,
        outcome: str,
        count: int,
        duration_seconds: float | None,
        id: str | None,
        dimensions: Mapping[str, str],
    ) -> dict[str, Any] | None:
        """The event as sent on the wire, checked with the exporter's rules; ``None`` (or
        :class:`EventError` if strict) when it breaks one."""
        event: dict[str, Any] = {"workflow": workflow, "outcome": outcome, "count": count}
        if dimensions:
            event["dimensions"] = dict(dimensions)
        if duration_seconds is not None:
            event["duration_seconds"] = duration_seconds
        if id is not None:
            event["id"] = id
        try:
            check_fields(event)
        except EventError as exc:
            self._reject(event, exc)
            return None
        return event

    def _reject(self, event: Mapping[str, Any], error: EventError) -> None:
        """Refuse an event at ``record()``: raise ``error`` if strict, else log it."""
        self._refuse(event, error.field, error.kind, error.reason, logged=not self.strict)
        if self.strict:
            raise error

    def _refuse(
        self,
        event: Mapping[str, Any],
        field: str,
        kind: str,
        reason: str,
        *,
        logged: bool = True,
    ) -> Refusal:
        """Count and keep one refused event, and log it (unless it is raised, or the caller
        logs a whole batch's refusals in one line)."""
        refusal = Refusal(
            str(event.get("workflow")),
            str(event.get("outcome")),
            event.get("id"),
            field,
            kind,
            reason,
        )
        with self._refusals_lock:
            self.refused += 1
            self.refusals.append(refusal)
        if logged:
            log.warning("agent-slo: event not counted: %s", refusal)
        if self.on_refused is not None:
            self.on_refused(refusal)
        return refusal

    # -- runs ----------------------------------------------------------------------------

    def run(
        self, workflow: str, outcome: str = "success", on_error: str = "rejected", **dimensions: str
    ) -> AbstractContextManager[Run]:
        """Time a run and record its outcome; an exception records ``on_error`` and
        re-raises."""
        return _Recording(self.record, workflow, outcome, on_error, dimensions)

    def arun(
        self, workflow: str, outcome: str = "success", on_error: str = "rejected", **dimensions: str
    ) -> AbstractAsyncContextManager[Run]:
        """:meth:`run` for ``async with`` (a cancelled task records ``on_error`` too)."""
        return _Recording(self.record, workflow, outcome, on_error, dimensions)

    def timed(
        self, workflow: str, on_error: str = "rejected", **dimensions: str
    ) -> Callable[[Callable[P, R]], Callable[P, R]]:
        """Decorator form of :meth:`run`: success unless the function raises."""

        def decorate(func: Callable[P, R]) -> Callable[P, R]:
            @functools.wraps(func)
            def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
                with self.run(workflow, on_error=on_error, **dimensions):
                    return func(*args, **kwargs)

            return wrapper

        return decorate

    def atimed(
        self, workflow: str, on_error: str = "rejected", **dimensions: str
    ) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Coroutine[Any, Any, R]]]:
        """:meth:`timed` for coroutine functions: success unless the coroutine raises."""

        def decorate(func: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
            @functools.wraps(func)
            async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
                async with self.arun(workflow, on_error=on_error, **dimensions):
                    return await func(*args, **kwargs)

            return wrapper

        return decorate

    # -- delivery ------------------------------------------------------------------------

    async def aflush(self, timeout: float | None = None) -> bool:
        """:meth:`flush` for recorders that never wait (a recorder that sends overrides it)."""
        return self.flush(timeout)

    async def aclose(self, timeout: float | None = 10.0) -> None:
        """:meth:`close` for recorders that never wait (a recorder that sends overrides it)."""
        self.close(timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class _Recording(AbstractContextManager[Run], AbstractAsyncContextManager[Run]):
    """One run timed by ``with`` or ``async with``: recorded when the block ends, with
    ``on_error`` if it raised (or was cancelled)."""

    def __init__(
        self,
        record: Callable[..., None],
        workflow: str,
        outcome: str,
        on_error: str,
        dimensions: Mapping[str, str],
    ) -> None:
        self.record = record
        self.workflow = workflow
        self.on_error = on_error
        self.run = Run(outcome, dict(dimensions))
        self.start = time.monotonic()

    def __enter__(self) -> Run:
        self.start = time.monotonic()
        return self.run

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.run.outcome = self.on_error
        duration = time.monotonic() - self.start
        self.record(
            self.workflow, self.run.outcome, duration_seconds=duration, **self.run.dimensions
        )

    async def __aenter__(self) -> Run:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, traceback)
