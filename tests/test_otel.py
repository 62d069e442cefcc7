"""OpenTelemetry agent spans become outcomes: the real SDK, its in-memory exporter beside the
processor, and the recorders (the fake, the in-process one and the client against a real
exporter). Span times are given explicitly, so durations are exact."""

from __future__ import annotations

import logging
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from exporters import catalog_of, serving
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON
from opentelemetry.trace import Status, StatusCode, Tracer, use_span
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from exporter.client import OutcomeClient
from exporter.inprocess import InProcessRecorder
from exporter.integrations.otel import OutcomeSpanProcessor, RecordAgentSpans
from exporter.store import Store
from exporter.testing import FakeRecorder, Recorded

SECOND = 1_000_000_000
T0 = 1_800_000_000 * SECOND  # a fixed start: durations are differences of given times

SPEC = """\
apiVersion: agent-slo/v1
workflow: support-triage
outcomes:
  wrong_queue: bad
dimensions:
  model: {max_values: 5}
slos:
  - name: support-triage-success
    sli: {outcomes: {}}
"""


class Traced:
    """A tracer provider with the processor under test and an in-memory exporter beside it."""

    def __init__(self, processor: OutcomeSpanProcessor, sampler: Any = ALWAYS_ON) -> None:
        self.processor = processor
        self.exported = InMemorySpanExporter()
        self.provider = TracerProvider(sampler=sampler)
        self.provider.add_span_processor(processor)
        self.provider.add_span_processor(SimpleSpanProcessor(self.exported))
        self.tracer: Tracer = self.provider.get_tracer("test")

    def run(
        self,
        agent: str | None = "support-triage",
        *,
        seconds: float = 1.0,
        start: int = T0,
        error: bool = False,
        children: tuple[str, ...] = (),
        **attributes: Any,
    ) -> None:
        """One agent run: an ``invoke_agent`` span of ``seconds``, with ``children`` spans
        (operation names) inside it, ended with an error status if ``error``."""
        attrs = {"gen_ai.operation.name": "invoke_agent", **attributes}
        if agent is not None:
            attrs["gen_ai.agent.name"] = agent
        span = self.tracer.start_span(f"invoke_agent {agent}", attributes=attrs, start_time=start)
        with use_span(span, end_on_exit=False):
            for i, operation in enumerate(children):
                child = self.tracer.start_span(
                    f"{operation} {i}",
                    attributes={"gen_ai.operation.name": operation, "gen_ai.agent.name": agent},
                    start_time=start + i,
                )
                if error:
                    child.set_status(Status(StatusCode.ERROR, "child failed"))
                child.end(end_time=start + i + 1)
        if error:
            span.set_status(Status(StatusCode.ERROR, "run failed"))
        span.end(end_time=start + int(seconds * SECOND))

    def agent_spans(self) -> list[ReadableSpan]:
        """The agent spans the in-memory exporter received."""
        return [s for s in self.exported.get_finished_spans() if s.name.startswith("invoke")]


@pytest.fixture
def fake() -> FakeRecorder:
    return FakeRecorder()


def _run_id(span: ReadableSpan) -> str:
    context = span.get_span_context()
    assert context is not None
    return f"otel-{context.trace_id:032x}-{context.span_id:016x}"


def test_a_successful_agent_span_is_one_success_with_its_duration_model_and_id(
    fake: FakeRecorder,
) -> None:
    """An agent span without error or outcome attribute records one success, timed by the
    span, with its model and an id made of its trace and span ids."""
    traced = Traced(OutcomeSpanProcessor(fake))
    traced.run(seconds=2.5, **{"gen_ai.request.model": "triage-small"})
    (span,) = traced.agent_spans()
    assert fake.events == [
        Recorded("support-triage", "success", 1, 2.5, _run_id(span), {"model": "triage-small"})
    ]
    assert traced.processor.recorded == 1


def test_chat_and_tool_spans_inside_a_run_are_not_runs(fake: FakeRecorder) -> None:
    """A run with chat and tool spans inside it counts once; the spans are still exported."""
    traced = Traced(OutcomeSpanProcessor(fake))
    traced.run(children=("chat", "execute_tool", "chat"))
    traced.run(children=("chat",), error=True)
    assert fake.outcomes() == ["success", "rejected"]
    assert len(traced.exported.get_finished_spans()) == 6


def test_an_error_status_records_the_configured_outcome(fake: FakeRecorder) -> None:
    """A failed span records on_error, or what its error.type maps to."""
    traced = Traced(
        OutcomeSpanProcessor(fake, on_error="wrong_action", error_types={"TimeoutError": "timeout"})
    )
    traced.run(error=True)
    traced.run(error=True, **{"error.type": "TimeoutError"})
    traced.run(error=True, **{"error.type": "KeyError"})
    traced.run(**{"error.type": "TimeoutError"})  # no error status: the run succeeded
    assert fake.outcomes() == ["wrong_action", "timeout", "wrong_action", "success"]


class ToolCallRejectedError(Exception):
    """A failure of the agent's own."""


def test_an_exception_leaving_the_span_maps_by_its_type(fake: FakeRecorder) -> None:
    """An exception that leaves start_as_current_span (which records it and sets the error
    status) maps by its recorded type; error.type, when set, wins over it."""
    processor = OutcomeSpanProcessor(
        fake,
        error_types={
            "TimeoutError": "timeout",
            f"{__name__}.ToolCallRejectedError": "wrong_tool_args",
        },
    )
    tracer = Traced(processor).tracer
    agent = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "support-triage"}
    raised: list[Exception] = [
        TimeoutError(),
        ToolCallRejectedError(),
        KeyError("ticket"),
        TimeoutError(),
    ]
    for i, exc in enumerate(raised):
        with (
            pytest.raises(type(exc)),
            tracer.start_as_current_span("invoke_agent", attributes=agent) as span,
        ):
            if i == 3:
                span.set_attribute("error.type", f"{__name__}.ToolCallRejectedError")
            raise exc
    assert fake.outcomes() == ["timeout", "wrong_tool_args", "rejected", "wrong_tool_args"]


def test_the_outcome_attribute_wins_over_the_status(fake: FakeRecorder) -> None:
    """An agent_slo.outcome attribute is the run's outcome, whatever the span's status."""
    traced = Traced(OutcomeSpanProcessor(fake, on_error="timeout"))
    traced.run(**{"agent_slo.outcome": "escalated"})
    traced.run(error=True, **{"agent_slo.outcome": "escalation_miss"})
    traced.run(error=True, **{"agent_slo.outcome": "success"})
    assert fake.outcomes() == ["escalated", "escalation_miss", "success"]


def test_unknown_outcomes_count_as_rejected_and_are_logged_once(
    fake: FakeRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    """An outcome outside the taxonomy records unknown_outcome, with one warning per value;
    extra_outcomes admits a spec's own outcomes."""
    traced = Traced(OutcomeSpanProcessor(fake, extra_outcomes=("wrong_queue",)))
    with caplog.at_level(logging.WARNING, "agent_slo.otel"):
        for outcome in ("hallucinated", "hallucinated", "wrong_queue", 3, "hallucinated"):
            traced.run(**{"agent_slo.outcome": outcome})
    assert fake.outcomes() == ["rejected", "rejected", "wrong_queue", "rejected", "rejected"]
    assert [r.getMessage().count("recorded as 'rejected'") for r in caplog.records] == [1, 1]
    assert "'hallucinated'" in caplog.records[0].getMessage()


def test_unknown_outcomes_can_be_skipped(fake: FakeRecorder) -> None:
    """With unknown_outcome=None, such runs are skipped and counted by reason."""
    traced = Traced(OutcomeSpanProcessor(fake, unknown_outcome=None))
    traced.run(**{"agent_slo.outcome": "hallucinated"})
    traced.run()
    assert fake.outcomes() == ["success"]
    assert traced.processor.skipped == {"unknown_outcome": 1}


def test_a_span_without_workflow_is_skipped_and_logged_once(
    fake: FakeRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    """No gen_ai.agent.name and no default_workflow: skipped, one warning for all."""
    traced = Traced(OutcomeSpanProcessor(fake))
    with caplog.at_level(logging.WARNING, "agent_slo.otel"):
        traced.run(agent=None)
        traced.run(agent=None, error=True)
        traced.run(agent="")
    assert fake.events == []
    assert traced.processor.skipped == {"missing_workflow": 3}
    assert len(caplog.records) == 1
    assert "no gen_ai.agent.name attribute" in caplog.records[0].getMessage()


def test_the_workflow_attribute_and_a_default_are_configurable(fake: FakeRecorder) -> None:
    """The workflow comes from the configured attribute, else from default_workflow."""
    traced = Traced(
        OutcomeSpanProcessor(fake, workflow_attribute="app.workflow", default_workflow="triage")
    )
    traced.run(**{"app.workflow": "refunds"})
    traced.run()  # gen_ai.agent.name alone is not the configured attribute
    assert [e.workflow for e in fake.events] == ["refunds", "triage"]


def test_dimensions_are_mapped_and_written_as_label_values(
    fake: FakeRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    """Attributes become the dimensions they map to; numbers and booleans as text; lists,
    empty, unsafe and overlong values are left out (and logged), the run still counted."""
    processor = OutcomeSpanProcessor(
        fake,
        dimensions={
            "gen_ai.request.model": "model",
            "app.prompt_version": "prompt_version",
            "app.retrieval": "retrieval",
            "app.temperature": "temperature",
        },
    )
    traced = Traced(processor)
    traced.run(
        **{
            "gen_ai.request.model": "triage-small",
            "app.prompt_version": 7,
            "app.retrieval": True,
            "app.temperature": 0.25,
            "gen_ai.system": "openai",  # not mapped: not a dimension
        }
    )
    with caplog.at_level(logging.WARNING, "agent_slo.otel"):
        traced.run(**{"gen_ai.request.model": ["a", "b"], "app.prompt_version": 'v"1'})
        traced.run(**{"gen_ai.request.model": "x" * 129, "app.prompt_version": ""})
        traced.run(**{"gen_ai.request.model": "other", "app.retrieval": "x" * 128})
    assert [e.dimensions for e in fake.events] == [
        {
            "model": "triage-small",
            "prompt_version": "7",
            "retrieval": "true",
            "temperature": "0.25",
        },
        {},
        {},
        {"retrieval": "x" * 128},
    ]
    # One warning per attribute, with the exporter's reason for the first value refused.
    assert [r.getMessage().split(": ")[-1] for r in caplog.records] == [
        "a list, which no one label value stands for",
        "must not contain quotes, backslashes or control characters",
    ]


def test_a_re_exported_span_counts_once() -> None:
    """The same span ended into the processor twice counts once in the in-process recorder,
    whose counters and histogram read back as computed by hand."""
    registry = CollectorRegistry()
    recorder = InProcessRecorder(registry, dimensions=("model",), buckets=(1, 5))
    traced = Traced(OutcomeSpanProcessor(recorder))
    traced.run(seconds=0.5, **{"gen_ai.request.model": "m"})
    traced.run(seconds=3, error=True, **{"gen_ai.request.model": "m"})
    for span in traced.agent_spans():
        traced.processor.on_end(span)  # e.g. a second processor chain handing it over
    labels = {"workflow": "support-triage", "model": "m"}

    def value(name: str, **extra: str) -> float | None:
        return registry.get_sample_value(name, {**labels, **extra})

    assert value("agent_outcomes_total", outcome="success") == 1
    assert value("agent_outcomes_total", outcome="rejected") == 1
    assert value("agent_run_duration_seconds_count") == 2
    assert value("agent_run_duration_seconds_sum") == 3.5
    assert value("agent_run_duration_seconds_bucket", le="1.0") == 1
    assert value("agent_run_duration_seconds_bucket", le="5.0") == 2


def test_the_catalog_checks_workflows_outcomes_and_dimensions(fake: FakeRecorder) -> None:
    """With the specs' catalog, a workflow's own outcomes count, undeclared dimensions are not
    sent, and workflows outside the specs are skipped."""
    processor = OutcomeSpanProcessor(
        fake,
        catalog=catalog_of(SPEC),
        dimensions={"gen_ai.request.model": "model", "gen_ai.system": "system"},
    )
    traced = Traced(processor)
    traced.run(**{"agent_slo.outcome": "wrong_queue", "gen_ai.request.model": "m", "x": 1})
    traced.run(**{"gen_ai.system": "openai"})
    traced.run(agent="refunds")
    assert [(e.outcome, e.dimensions) for e in fake.events] == [
        ("wrong_queue", {"model": "m"}),
        ("success", {}),
    ]
    assert processor.skipped == {"unknown_workflow": 1}


def test_other_agent_operations_and_selectors() -> None:
    """operations names which gen_ai operations are runs; select replaces the test whole."""
    by_operation, by_name = FakeRecorder(), FakeRecorder()
    for processor in (
        OutcomeSpanProcessor(by_operation, operations=("chat",)),
        OutcomeSpanProcessor(by_name, select=lambda span: span.name.startswith("chat 0")),
    ):
        Traced(processor).run(children=("chat", "execute_tool", "chat"))
    assert len(by_operation.events) == 2
    assert len(by_name.events) == 1


class BrokenRecorder(FakeRecorder):
    """A recorder whose every call fails, as a misconfigured one would."""

    def record(self, workflow: str, outcome: str, **kwargs: Any) -> None:
        raise RuntimeError("recorder is down")

    def flush(self, timeout: float | None = None) -> bool:
        raise RuntimeError("recorder is down")


def test_a_broken_recorder_never_breaks_the_agent(caplog: pytest.LogCaptureFixture) -> None:
    """Failures inside the processor are counted and logged once; spans end and export."""
    traced = Traced(OutcomeSpanProcessor(BrokenRecorder()))
    with caplog.at_level(logging.WARNING, "agent_slo.otel"):
        traced.run()
        traced.run(error=True)
        assert traced.provider.force_flush() is False
    assert traced.processor.errors == 2
    assert len(traced.agent_spans()) == 2
    assert [r.getMessage().split(":")[1] for r in caplog.records] == [
        " could not record span 'invoke_agent support-triage'",
        " could not flush the recorder",
    ]


def test_mistakes_in_the_configuration_raise_at_once() -> None:
    """Outcomes outside the taxonomy and clashing dimension names are refused up front."""
    with pytest.raises(ValueError, match="on_error: unknown outcome 'crashed'"):
        OutcomeSpanProcessor(FakeRecorder(), on_error="crashed")
    with pytest.raises(ValueError, match=r"error_types\['E'\]: unknown outcome 'x'"):
        OutcomeSpanProcessor(FakeRecorder(), error_types={"E": "x"})
    with pytest.raises(ValueError, match="several attributes map to"):
        OutcomeSpanProcessor(FakeRecorder(), dimensions={"a": "model", "b": "model"})
    with pytest.raises(ValueError, match=r"\['count'\] name arguments of record"):
        OutcomeSpanProcessor(FakeRecorder(), dimensions={"a": "count"})
    with pytest.raises(ValueError, match="default_workflow: 'refunds' is not a workflow"):
        OutcomeSpanProcessor(FakeRecorder(), catalog=catalog_of(SPEC), default_workflow="refunds")


def test_agent_spans_a_sampler_drops_are_still_counted(fake: FakeRecorder) -> None:
    """Under RecordAgentSpans, agent spans the sampler drops are counted but not exported,
    and their chat spans stay unrecorded."""
    traced = Traced(OutcomeSpanProcessor(fake), sampler=RecordAgentSpans(ALWAYS_OFF))
    traced.run(children=("chat",))
    traced.run(error=True)
    assert fake.outcomes() == ["success", "rejected"]
    assert traced.exported.get_finished_spans() == ()
    assert "AlwaysOffSampler" in traced.provider.sampler.get_description()


def test_without_record_agent_spans_a_dropped_run_is_lost(fake: FakeRecorder) -> None:
    """The reason for RecordAgentSpans: processors never see spans a sampler drops."""
    Traced(OutcomeSpanProcessor(fake), sampler=ALWAYS_OFF).run()
    assert fake.events == []


# -- end to end: the client into a real exporter ------------------------------------------


@pytest.fixture
def exporter_url(tmp_path: Path) -> Iterator[str]:
    store = Store(tmp_path / "state.db", catalog_of(SPEC))
    try:
        with serving(store) as url:
            yield url
    finally:
        store.close()


def _scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("agent_")
    }


def test_spans_reach_the_exporters_counters(exporter_url: str) -> None:
    """Runs traced through the SDK, sent by the client, read back from the exporter's
    /metrics: counts by outcome and model, and the duration histogram, as counted by hand;
    a span ended twice counts once, and the provider's flush delivers."""
    client = OutcomeClient(exporter_url, flush_interval=60, strict=True)
    processor = OutcomeSpanProcessor(
        client,
        catalog=catalog_of(SPEC),
        on_error="timeout",
        dimensions={"gen_ai.request.model": "model", "gen_ai.system": "system"},
    )
    traced = Traced(processor)
    small = {"gen_ai.request.model": "triage-small", "gen_ai.system": "openai"}
    traced.run(seconds=0.25, children=("chat", "execute_tool"), **small)
    traced.run(seconds=0.75, **small)
    traced.run(seconds=2, **small)
    traced.run(seconds=40, error=True, children=("chat",), **small)
    traced.run(
        seconds=3, **{"gen_ai.request.model": "triage-large", "agent_slo.outcome": "wrong_queue"}
    )
    traced.run(seconds=1, **{"agent_slo.outcome": "escalated"})
    processor.on_end(traced.agent_spans()[0])  # the first run again: same id
    assert traced.provider.force_flush() is True
    scraped = _scrape(exporter_url)
    client.close()

    def outcomes(outcome: str, model: str) -> float:
        labels = {"workflow": "support-triage", "outcome": outcome, "model": model}
        return scraped[("agent_outcomes_total", tuple(sorted(labels.items())))]

    def duration(suffix: str, model: str, **extra: str) -> float:
        labels = {"workflow": "support-triage", "model": model, **extra}
        return scraped[(f"agent_run_duration_seconds_{suffix}", tuple(sorted(labels.items())))]

    assert outcomes("success", "triage-small") == 3
    assert outcomes("timeout", "triage-small") == 1
    assert outcomes("wrong_queue", "triage-large") == 1
    assert outcomes("escalated", "unknown") == 1
    assert outcomes("rejected", "unknown") == 0  # pre-initialised, never recorded
    total = sum(v for (name, _), v in scraped.items() if name == "agent_outcomes_total")
    assert total == 6
    assert duration("count", "triage-small") == 4
    assert duration("sum", "triage-small") == 43.0
    assert duration("bucket", "triage-small", le="0.5") == 1
    assert duration("bucket", "triage-small", le="1.0") == 2
    assert duration("bucket", "triage-small", le="30.0") == 3
    assert duration("bucket", "triage-small", le="60.0") == 4
    assert client.sent == 7  # the duplicate was sent, and the exporter counted it once
