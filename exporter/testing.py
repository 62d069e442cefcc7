"""A fake outcome recorder for users' own unit tests: same calls, nothing sent.

from exporter.testing import FakeRecorder

def test_escalates_refund_requests():
    recorder = FakeRecorder()
    handle_ticket(ticket, recorder=recorder)
    assert recorder.outcomes("support-triage") == ["escalated"]
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

from exporter.client import Run, recording_run

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

    def run(
        self, workflow: str, outcome: str = "success", on_error: str = "rejected", **dimensions: str
    ) -> AbstractContextManager[Run]:
        """Time a run and record its outcome, like the real client."""
        return recording_run(self.record, workflow, outcome, on_error, dimensions)

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
