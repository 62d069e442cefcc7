"""In-process recording for applications that expose their own ``/metrics``.

Same metric names and labels as the exporter, on a registry you pass in (your own, or
prometheus_client's default). Counters live in the process: no durability across restarts,
which the generated rules tolerate as counter resets.

    recorder = InProcessRecorder(registry, dimensions=("model",), buckets=(1, 5, 30, 120))
    recorder.record("support-triage", "success", model="triage-small")
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence

from prometheus_client import CollectorRegistry, Counter, Histogram

from exporter.catalog import DEFAULT_BUCKETS, UNKNOWN
from exporter.recorder import RecorderBase, Refusal
from exporter.wire import EventError
from rulegen import names

__all__ = ["InProcessRecorder"]


class InProcessRecorder(RecorderBase):
    """Records outcomes into prometheus_client metrics in this process."""

    def __init__(
        self,
        registry: CollectorRegistry,
        dimensions: Sequence[str] = (),
        buckets: Sequence[float] = DEFAULT_BUCKETS,
        remember_ids: int = 100_000,
        *,
        strict: bool = True,
        on_refused: Callable[[Refusal], None] | None = None,
    ) -> None:
        super().__init__(strict=strict, on_refused=on_refused)
        self.dimensions = tuple(dimensions)
        self.remember_ids = remember_ids
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._outcomes = Counter(
            names.OUTCOMES_METRIC.removesuffix("_total"),
            "Runs of an agent workflow, by outcome and declared dimensions.",
            [names.LABEL_WORKFLOW, names.LABEL_OUTCOME, *self.dimensions],
            registry=registry,
        )
        self._durations = Histogram(
            names.DURATION_METRIC,
            "Duration of agent runs, by workflow and declared dimensions.",
            [names.LABEL_WORKFLOW, *self.dimensions],
            buckets=tuple(buckets),
            registry=registry,
        )

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
        """Count ``count`` runs, checked as the exporter checks them; undeclared dimensions
        are refused too (strict, the default: :class:`EventError`, a ``ValueError``). An
        ``id`` seen among the last ``remember_ids`` counts once."""
        event = self._checked(workflow, outcome, count, duration_seconds, id, dimensions)
        if event is None:
            return
        unknown = sorted(set(dimensions) - set(self.dimensions))
        if unknown:
            message = f"undeclared dimension(s) {unknown}; declared: {list(self.dimensions)}"
            self._reject(
                event, EventError(f"dimensions.{unknown[0]}", message, "undeclared_dimension")
            )
            return
        if id is not None:
            if id in self._ids:
                return
            self._ids[id] = None
            if len(self._ids) > self.remember_ids:
                self._ids.popitem(last=False)
        values = [dimensions.get(d, UNKNOWN) for d in self.dimensions]
        self._outcomes.labels(workflow, outcome, *values).inc(count)
        if duration_seconds is not None:
            hist = self._durations.labels(workflow, *values)
            for _ in range(count):
                hist.observe(duration_seconds)

    def flush(self, timeout: float | None = None) -> bool:
        """Nothing to send: the counters are already up to date."""
        return True

    def close(self, timeout: float | None = 10.0) -> None:
        """Nothing to close."""
