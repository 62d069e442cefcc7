"""The exporter's metrics: a collector over the store's counters, and its own health.

``agent_outcomes_total`` and ``agent_run_duration_seconds`` carry each workflow's declared
dimensions, so label names differ between workflows; samples are built directly.

:class:`TextRenderer` writes the Prometheus text format of the same samples without
prometheus_client's per-label escaping: a series' label set never changes, so its text is
rendered once and kept. At 10,000 series that is several times faster (see benchmarks/).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from exporter.store import CounterKey, Histogram, HistogramKey, Store
from rulegen import names
from rulegen.selectors import escape

__all__ = ["Exposition", "Health", "OutcomeCollector", "TextRenderer", "build_registry"]


Row = tuple[str, Hashable, Callable[[], dict[str, str]], float]


@dataclass(frozen=True)
class Family:
    """One metric family: its header and its samples (with a stable key per sample)."""

    name: str
    documentation: str
    type: str
    rows: Iterable[Row]


def families(store: Store) -> Iterator[Family]:
    """The outcome, duration and cardinality families, from one consistent snapshot."""
    snap = store.snapshot()
    yield Family(
        names.OUTCOMES_METRIC.removesuffix("_total"),
        "Runs of an agent workflow, by outcome and declared dimensions.",
        "counter",
        (
            (names.OUTCOMES_METRIC, key, partial(_outcome_labels, key), value)
            for key, value in sorted(snap.counters.items())
        ),
    )
    yield Family(
        names.DURATION_METRIC,
        "Duration of agent runs, by workflow and declared dimensions.",
        "histogram",
        _duration_rows(store, snap.histograms),
    )
    yield Family(
        "agent_slo_exporter_folded_values",
        "Dimension values folded into 'other' by the cardinality cap.",
        "counter",
        (
            (
                "agent_slo_exporter_folded_values_total",
                key,
                partial(dict, {names.LABEL_WORKFLOW: key[0], "dimension": key[1]}),
                value,
            )
            for key, value in sorted(snap.folded.items())
        ),
    )
    yield Family(
        "agent_slo_exporter_store_errors",
        "Batches the store failed to record.",
        "counter",
        [("agent_slo_exporter_store_errors_total", (), dict, store.errors)],
    )


def _outcome_labels(key: CounterKey) -> dict[str, str]:
    workflow, outcome, dims = key
    return {names.LABEL_WORKFLOW: workflow, names.LABEL_OUTCOME: outcome, **dict(dims)}


def _duration_rows(store: Store, histograms: dict[HistogramKey, Histogram]) -> Iterator[Row]:
    for key, hist in sorted(histograms.items()):
        workflow, dims = key
        labels = {names.LABEL_WORKFLOW: workflow, **dict(dims)}
        bounds = store.catalog.workflows[workflow].buckets
        cumulative = 0
        for i, (bound, count) in enumerate(zip((*bounds, math.inf), hist.buckets, strict=True)):
            cumulative += count
            yield (
                f"{names.DURATION_METRIC}_bucket",
                (key, i),
                partial(dict, {**labels, "le": names.bucket_le(bound)}),
                cumulative,
            )
        yield f"{names.DURATION_METRIC}_count", key, partial(dict, labels), hist.count
        yield f"{names.DURATION_METRIC}_sum", key, partial(dict, labels), hist.sum


class OutcomeCollector(Collector):
    """Exposes the store's counters and histograms at scrape time (any format)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        for family in families(self.store):
            metric = Metric(family.name, family.documentation, family.type)
            for name, _, labels, value in family.rows:
                metric.add_sample(name, labels(), value)
            yield metric


class Health:
    """The exporter's own counters of refused and duplicate events."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.rejected = Counter(
            "agent_slo_exporter_rejected_events",
            "Events refused, by reason: each event of a request refused whole, or each event "
            "refused alone in a ?partial=1 batch; no refused event is counted.",
            ["reason"],
            registry=registry,
        )
        self.duplicates = Counter(
            "agent_slo_exporter_duplicate_events",
            "Events skipped because their idempotency key was already recorded.",
            registry=registry,
        )
        self.connections = Gauge(
            "agent_slo_exporter_open_connections",
            "Client connections open now (the server caps them; see --max-connections).",
            registry=registry,
        )


@dataclass(frozen=True)
class Exposition:
    """What /metrics serves: everything in one registry (OpenMetrics), or the fast text of
    the outcome families followed by the health registry (Prometheus text format)."""

    registry: CollectorRegistry
    health_registry: CollectorRegistry
    health: Health
    renderer: TextRenderer

    def text(self) -> bytes:
        """Prometheus text format of every metric."""
        return self.renderer.render().encode() + generate_latest(self.health_registry)


def build_registry(store: Store) -> Exposition:
    """Fresh registries with the outcome collector and the health counters."""
    health_registry = CollectorRegistry(auto_describe=False)
    health = Health(health_registry)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(OutcomeCollector(store))
    registry.register(health_registry)
    return Exposition(registry, health_registry, health, TextRenderer(store))


class TextRenderer:
    """Prometheus text format (0.0.4) of the outcome families, with each sample's line
    kept: its label text is rendered once, and its value again only when it changed."""

    def __init__(self, store: Store) -> None:
        self.store = store
        #: (sample name, key) → (label text, value, line)
        self._cache: dict[tuple[str, Hashable], tuple[str, float, str]] = {}

    def render(self) -> str:
        """The families as prometheus_client would write them, sample for sample."""
        out: list[str] = []
        cache = self._cache
        for family in families(self.store):
            header = family.name + "_total" if family.type == "counter" else family.name
            out.append(f"# HELP {header} {_escape_help(family.documentation)}")
            out.append(f"# TYPE {header} {family.type}")
            for name, key, labels, value in family.rows:
                kept = cache.get((name, key))
                if kept is not None and kept[1] == value:
                    out.append(kept[2])
                    continue
                if kept is None:
                    inner = ",".join(f'{k}="{escape(v)}"' for k, v in sorted(labels().items()))
                    prefix = f"{name}{{{inner}}} " if inner else f"{name} "
                else:
                    prefix = kept[0]
                line = prefix + _go_value(value)
                cache[(name, key)] = (prefix, value, line)
                out.append(line)
        return "\n".join(out) + "\n"


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _go_value(value: float) -> str:
    if value == float("inf"):
        return "+Inf"
    if value == float("-inf"):
        return "-Inf"
    if math.isnan(value):
        return "NaN"
    return repr(float(value))
