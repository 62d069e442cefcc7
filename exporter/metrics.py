"""The exporter's metrics: a collector over the store's counters, and its own health.

``agent_outcomes_total`` and ``agent_run_duration_seconds`` carry each workflow's declared
dimensions, so label names differ between workflows; samples are built directly.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from exporter.store import Store
from rulegen import names

__all__ = ["Health", "OutcomeCollector", "build_registry"]


class OutcomeCollector(Collector):
    """Exposes the store's counters and histograms at scrape time."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        snap = self.store.snapshot()
        outcomes = Metric(
            names.OUTCOMES_METRIC.removesuffix("_total"),
            "Runs of an agent workflow, by outcome and declared dimensions.",
            "counter",
        )
        for (workflow, outcome, dims), value in sorted(snap.counters.items()):
            labels = {names.LABEL_WORKFLOW: workflow, names.LABEL_OUTCOME: outcome, **dict(dims)}
            outcomes.add_sample(names.OUTCOMES_METRIC, labels, value)
        yield outcomes
        durations = Metric(
            names.DURATION_METRIC,
            "Duration of agent runs, by workflow and declared dimensions.",
            "histogram",
        )
        for (workflow, dims), hist in sorted(snap.histograms.items()):
            labels = {names.LABEL_WORKFLOW: workflow, **dict(dims)}
            bounds = self.store.catalog.workflows[workflow].buckets
            cumulative = 0
            for bound, count in zip((*bounds, float("inf")), hist.buckets, strict=True):
                cumulative += count
                le = _go_float(bound)
                durations.add_sample(
                    f"{names.DURATION_METRIC}_bucket", {**labels, "le": le}, cumulative
                )
            durations.add_sample(f"{names.DURATION_METRIC}_count", labels, hist.count)
            durations.add_sample(f"{names.DURATION_METRIC}_sum", labels, hist.sum)
        yield durations
        folded = Metric(
            "agent_slo_exporter_folded_values",
            "Dimension values folded into 'other' by the cardinality cap.",
            "counter",
        )
        for (workflow, dimension), value in sorted(snap.folded.items()):
            folded.add_sample(
                "agent_slo_exporter_folded_values_total",
                {names.LABEL_WORKFLOW: workflow, "dimension": dimension},
                value,
            )
        yield folded
        errors = Metric(
            "agent_slo_exporter_store_errors", "Batches the store failed to record.", "counter"
        )
        errors.add_sample("agent_slo_exporter_store_errors_total", {}, self.store.errors)
        yield errors


class Health:
    """The exporter's own counters of refused and duplicate events."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.rejected = Counter(
            "agent_slo_exporter_rejected_events",
            "Requests refused, by reason; nothing of a refused request is counted.",
            ["reason"],
            registry=registry,
        )
        self.duplicates = Counter(
            "agent_slo_exporter_duplicate_events",
            "Events skipped because their idempotency key was already recorded.",
            registry=registry,
        )


def build_registry(store: Store) -> tuple[CollectorRegistry, Health]:
    """A fresh registry with the outcome collector and the health counters."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(OutcomeCollector(store))
    return registry, Health(registry)


def _go_float(value: float) -> str:
    """A bucket bound as client libraries write ``le``: ``30.0``, ``0.5``, ``+Inf``."""
    return "+Inf" if value == float("inf") else repr(float(value))
