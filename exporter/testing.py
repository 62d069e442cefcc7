"""A fake outcome recorder for users' own unit tests: same calls, nothing sent.

from exporter.testing import FakeRecorder

def test_escalates_refund_requests():
    recorder = FakeRecorder()
    handle_ticket(ticket, recorder=recorder)
    assert recorder.outcomes("support-triage") == ["escalated"]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from exporter.recorder import RecorderBase, Refusal

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
    """Stands in for :class:`exporter.client.OutcomeClient` and remembers every event. It
    checks events as the exporter does and, strict by default, raises
    :class:`~exporter.wire.EventError` for one the exporter would refuse, so that an agent's
    mistake fails its own tests; ``strict=False`` behaves as the client does by default
    (logged, listed in ``refusals``, not recorded)."""

    def __init__(
        self, *, strict: bool = True, on_refused: Callable[[Refusal], None] | None = None
    ) -> None:
        super().__init__(strict=strict, on_refused=on_refused)
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
        """Check and remember the event."""
        if self._checked(workflow, outcome, count, duration_seconds, id, dimensions) is None:
            return
        self.events.append(Recorded(workflow, outcome, count, duration_seconds, id, dimensions))

    def outcomes(self, workflow: str | None = None) -> list[str]:
        """The outcomes recorded, in order (for one workflow, or all)."""
        return [e.outcome for e in self.events if workflow is None or e.workflow == workflow]

    def flush(self, timeout: float | None = None) -> bool:
        """Nothing to send."""
        return True

    def close(self, timeout: float | None = 10.0) -> None:
        """Nothing to close."""
