"""What every recorder offers, whichever way its events go: the exporter's client
(:class:`exporter.client.OutcomeClient`), counters in this process
(:class:`exporter.inprocess.InProcessRecorder`) or a list in a test
(:class:`exporter.testing.FakeRecorder`). Agent code written against :class:`Recorder`
runs with any of them. Standard library only.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import ParamSpec, Protocol, TypeVar, runtime_checkable

__all__ = ["Recorder", "RecorderBase", "Run"]

P = ParamSpec("P")
R = TypeVar("R")


class Run:
    """A run being timed; set ``outcome`` (and ``dimensions``) before the block ends."""

    def __init__(self, outcome: str, dimensions: dict[str, str]) -> None:
        self.outcome = outcome
        self.dimensions = dimensions


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
        retry count once."""

    def run(
        self, workflow: str, outcome: str = "success", on_error: str = "rejected", **dimensions: str
    ) -> AbstractContextManager[Run]:
        """Time a run and record its outcome; an exception records ``on_error`` and
        re-raises."""

    def timed(
        self, workflow: str, on_error: str = "rejected", **dimensions: str
    ) -> Callable[[Callable[P, R]], Callable[P, R]]:
        """Decorator form of :meth:`run`: success unless the function raises."""

    def flush(self, timeout: float | None = None) -> bool:
        """Deliver what is pending; ``False`` if ``timeout`` passed first."""

    def close(self, timeout: float | None = 10.0) -> None:
        """Deliver what is pending and stop."""


class RecorderBase:
    """``run`` and ``timed``, written once over the recorder's own ``record``."""

    record: Callable[..., None]

    def run(
        self, workflow: str, outcome: str = "success", on_error: str = "rejected", **dimensions: str
    ) -> AbstractContextManager[Run]:
        """Time a run and record its outcome; an exception records ``on_error`` and
        re-raises."""
        return _recording(self.record, workflow, outcome, on_error, dimensions)

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


@contextmanager
def _recording(
    record: Callable[..., None],
    workflow: str,
    outcome: str,
    on_error: str,
    dimensions: dict[str, str],
) -> Iterator[Run]:
    run = Run(outcome, dict(dimensions))
    start = time.monotonic()
    try:
        yield run
    except BaseException:
        run.outcome = on_error
        raise
    finally:
        record(workflow, run.outcome, duration_seconds=time.monotonic() - start, **run.dimensions)
