"""A fake outcome recorder for users' own unit tests: same calls, nothing sent.

from exporter.testing import FakeRecorder

def test_escalates_refund_requests():
    recorder = FakeRecorder()
    handle_ticket(ticket, recorder=recorder)
    assert recorder.outcomes("support-triage") == ["escalated"]
"""

from __future__ import annotations

from dataclasses import dataclass, field

from exporter.recorder import RecorderBase

__all__ = ["FakeRecorder", "Recorded"]


@dataclass(frozen=True)
class Recorded:
    """One recorded event."""

    workflow: str
    outcome: str
    count: int = 1
    duration_seconds: float | None = None
    id: str | None = None
    dimensions: dict[str, str] = field(default_factory=dict)


class FakeRecorder(RecorderBase):
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

    def outcomes(self, workflow: str | None = None) -> list[str]:
        """The outcomes recorded, in order (for one workflow, or all)."""
        return [e.outcome for e in self.events if workflow is None or e.workflow == workflow]

    def flush(self, timeout: float | None = None) -> bool:
        """Nothing to send."""
        return True

    def close(self, timeout: float | None = 10.0) -> None:
        """Nothing to close."""
