"""A fake outcome recorder for users' own unit tests: same calls, nothing sent.

from exporter.testing import FakeRecorder

def test_escalates_refund_requests():
    recorder = FakeRecorder()
    handle_ticket(ticket, recorder=recorder)
    assert recorder.outcomes("support-triage") == ["escalated"]
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from exporter.client import Run

__all__ = ["FakeRecorder", "Recorded"]

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Recorded:
    """One recorded event."""

    workflow: str
    outcome: str
    count: int = 1
    duration_seconds: float | None = None
    id: str | None = None
    dimensions: dict[str, str] = field(default_factory=dict)


class FakeRecorder:
    """Stands in for :class:`exporter.client.OutcomeClient` and remembers every event."""

    def __init__(self) -> None:
        self.events: list[Recorded] = []

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
        """Remember the event."""
        self.events.append(Recorded(workflow, outcome, count, duration_seconds, id, dimensions))

    @contextmanager
    def run(
        self, workflow: str, outcome: str = "success", on_error: str = "rejected", **dimensions: str
    ) -> Iterator[Run]:
        """Time a run like the real client does."""
        run = Run(outcome, dict(dimensions))
        start = time.monotonic()
        try:
            yield run
        except BaseException:
            run.outcome = on_error
            raise
        finally:
            dimensions_: dict[str, Any] = run.dimensions
            self.record(
                workflow, run.outcome, duration_seconds=time.monotonic() - start, **dimensions_
            )

    def outcomes(self, workflow: str | None = None) -> list[str]:
        """The outcomes recorded, in order (for one workflow, or all)."""
        return [e.outcome for e in self.events if workflow is None or e.workflow == workflow]

    def flush(self, timeout: float | None = None) -> bool:
        """Nothing to send."""
        return True

    def close(self, timeout: float | None = None) -> None:
        """Nothing to close."""

    def timed(
        self, workflow: str, on_error: str = "rejected", **dimensions: str
    ) -> Callable[[Callable[P, R]], Callable[P, R]]:
        """Decorator form of :meth:`run`."""

        def decorate(func: Callable[P, R]) -> Callable[P, R]:
            def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
                with self.run(workflow, on_error=on_error, **dimensions):
                    return func(*args, **kwargs)

            return wrapper

        return decorate
