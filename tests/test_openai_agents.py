"""The OpenAI Agents SDK tracing processor, driven by the real SDK's runner with a model
that returns canned responses, offline (the SDK's own trace export is replaced, so nothing
is sent to OpenAI): which traces count, the outcome of guardrails, hand-offs, tool errors
and failed runs, dimensions, ids and a recorder that fails."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from agents import (
    Agent,
    GuardrailFunctionOutput,
    InputGuardrailTripwireTriggered,
    MaxTurnsExceeded,
    Model,
    ModelBehaviorError,
    ModelResponse,
    OutputGuardrailTripwireTriggered,
    RunConfig,
    RunContextWrapper,
    Runner,
    Usage,
    function_tool,
    input_guardrail,
    output_guardrail,
    set_trace_processors,
    trace,
)
from agents.items import TResponseInputItem, TResponseOutputItem, TResponseStreamEvent
from agents.tracing import gen_trace_id, generation_span
from openai.types.responses import (
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
)
from prometheus_client import CollectorRegistry

from exporter.inprocess import InProcessRecorder
from exporter.integrations.openai_agents import OutcomeTracingProcessor
from exporter.testing import FakeRecorder, Recorded

WORKFLOW = "support-triage"


def say(text: str) -> ResponseOutputMessage:
    """The model answering ``text``."""
    return ResponseOutputMessage(
        id="msg",
        type="message",
        role="assistant",
        status="completed",
        content=[ResponseOutputText(type="output_text", text=text, annotations=[])],
    )


def call(tool: str, arguments: object, call_id: str = "c1") -> ResponseFunctionToolCall:
    """The model calling ``tool``; a string is sent as it is (so it can be broken JSON)."""
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return ResponseFunctionToolCall(
        type="function_call", name=tool, arguments=text, call_id=call_id, id=f"fc-{call_id}"
    )


class CannedModel(Model):
    """Answers each model call with the next canned output (or raises it), inside a
    generation span naming the model, as the SDK's own models do."""

    def __init__(self, name: str, *outputs: TResponseOutputItem | Exception) -> None:
        self.name = name
        self.outputs = list(outputs)

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        with generation_span(model=self.name):
            output = self.outputs.pop(0)
            if isinstance(output, Exception):
                raise output
            return ModelResponse(output=[output], usage=Usage(), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[TResponseStreamEvent]:
        raise NotImplementedError("the tests do not stream")


@function_tool
def lookup_order(order: int) -> str:
    """Look up an order by number."""
    if order == 404:
        raise LookupError(f"no order {order}")
    return f"order {order}: shipped"


@input_guardrail
async def no_card_numbers(
    ctx: RunContextWrapper[Any], agent: Agent[Any], text: str | list[TResponseInputItem]
) -> GuardrailFunctionOutput:
    return GuardrailFunctionOutput(output_info=None, tripwire_triggered="4111" in str(text))


@output_guardrail
async def no_promises(
    ctx: RunContextWrapper[Any], agent: Agent[Any], output: str
) -> GuardrailFunctionOutput:
    return GuardrailFunctionOutput(output_info=None, tripwire_triggered="guarantee" in output)


def triage(*outputs: TResponseOutputItem | Exception, **kwargs: Any) -> Agent[Any]:
    """The triage agent, with the order tool, both guardrails and two hand-offs."""
    billing = Agent(name="billing", model=CannedModel("billing-small", say("Refunded.")))
    human = Agent(name="human_review", model=CannedModel("none", say("A person will reply.")))
    return Agent(
        name="triage",
        model=CannedModel("triage-small", *outputs),
        tools=[lookup_order],
        handoffs=[billing, human],
        input_guardrails=[no_card_numbers],
        output_guardrails=[no_promises],
        **kwargs,
    )


def run(agent: Agent[Any], text: str = "Where is order 7?", **kwargs: Any) -> Any:
    """The final output of a run of ``agent``."""
    return asyncio.run(Runner.run(agent, text, **kwargs)).final_output


@pytest.fixture
def fake() -> Iterator[FakeRecorder]:
    yield FakeRecorder()


@pytest.fixture
def tracing() -> Iterator[list[OutcomeTracingProcessor]]:
    """The processors a test installs in place of the SDK's export to OpenAI."""
    installed: list[OutcomeTracingProcessor] = []
    set_trace_processors([])
    yield installed
    set_trace_processors([])


def install(tracing: list[OutcomeTracingProcessor], processor: OutcomeTracingProcessor) -> None:
    tracing.append(processor)
    set_trace_processors(list(tracing))


def test_a_run_is_one_success_with_its_dimensions_and_trace_id(
    fake: FakeRecorder, tracing: list[OutcomeTracingProcessor]
) -> None:
    """A run that calls a tool and answers records one success under its trace id, with
    the metadata, model and starting agent as dimensions."""
    install(
        tracing,
        OutcomeTracingProcessor(
            fake,
            WORKFLOW,
            model_dimension="model",
            agent_dimension="queue",
            metadata_dimensions={"prompt": "prompt_version"},
        ),
    )
    trace_id = gen_trace_id()
    config = RunConfig(trace_id=trace_id, trace_metadata={"prompt": "v3", "other": "x"})
    agent = triage(call("lookup_order", {"order": 7}), say("It shipped."))
    assert run(agent, run_config=config) == "It shipped."
    [event] = fake.events
    assert event.duration_seconds is not None
    assert event.duration_seconds >= 0
    assert event == Recorded(
        WORKFLOW,
        "success",
        duration_seconds=event.duration_seconds,
        id=trace_id,
        dimensions={"prompt_version": "v3", "queue": "triage", "model": "triage-small"},
    )


def test_a_tripped_guardrail_is_a_policy_violation(
    fake: FakeRecorder, tracing: list[OutcomeTracingProcessor]
) -> None:
    """An input or output guardrail whose tripwire fires ends the run as
    ``policy_violation``; with ``on_guardrail=None`` the run only failed (``on_error``)."""
    install(tracing, OutcomeTracingProcessor(fake, WORKFLOW))
    with pytest.raises(InputGuardrailTripwireTriggered):
        run(triage(say("never reached")), "My card is 4111 1111")
    with pytest.raises(OutputGuardrailTripwireTriggered):
        run(triage(say("We guarantee a refund.")))
    assert fake.outcomes() == ["policy_violation", "policy_violation"]
    install(tracing, OutcomeTracingProcessor(fake, "billing", on_guardrail=None))
    with pytest.raises(InputGuardrailTripwireTriggered):
        run(triage(say("never reached")), "My card is 4111 1111")
    assert fake.outcomes("billing") == ["rejected"]


def test_a_hand_off_to_an_escalation_agent_is_escalated(
    fake: FakeRecorder, tracing: list[OutcomeTracingProcessor]
) -> None:
    """A hand-off to an agent in ``escalate_to`` makes the run ``escalated``; a hand-off to
    another agent is routing, and the run a success."""
    install(tracing, OutcomeTracingProcessor(fake, WORKFLOW, escalate_to=["human_review"]))
    assert run(triage(call("transfer_to_human_review", {}))) == "A person will reply."
    assert run(triage(call("transfer_to_billing", {}))) == "Refunded."
    assert fake.outcomes() == ["escalated", "success"]


def test_failed_tool_calls_are_wrong_tool_args_recovered_or_not(
    fake: FakeRecorder, tracing: list[OutcomeTracingProcessor]
) -> None:
    """A tool that raises, arguments that are not JSON and a tool that does not exist make
    the run ``wrong_tool_args``, whether it then answers, fails or escalates; with
    ``on_tool_error=None`` those runs are a success, a success, a failure, an escalation."""
    for on_tool_error, expected in (
        ("wrong_tool_args", ["wrong_tool_args"] * 4),
        (None, ["success", "success", "rejected", "escalated"]),
    ):
        fake.events.clear()
        processor = OutcomeTracingProcessor(
            fake, WORKFLOW, on_tool_error=on_tool_error, escalate_to=["human_review"]
        )
        set_trace_processors([processor])
        answer = run(triage(call("lookup_order", {"order": 404}), say("Not found.")))
        assert answer == "Not found."
        assert run(triage(call("lookup_order", '{"order": '), say("Which?"))) == "Which?"
        with pytest.raises(ModelBehaviorError, match="cancel_order not found"):
            run(triage(call("cancel_order", {"order": 7})))
        escalate = call("transfer_to_human_review", {}, "c2")
        run(triage(call("lookup_order", {"order": 404}), escalate))
        assert fake.outcomes() == expected


def test_a_failed_run_records_the_outcome_its_error_maps_to(
    fake: FakeRecorder, tracing: list[OutcomeTracingProcessor]
) -> None:
    """A run that raises records ``on_error``, or the outcome its error message maps to
    in ``errors``: ``Max turns exceeded`` is a ``timeout`` by default."""
    install(tracing, OutcomeTracingProcessor(fake, WORKFLOW, on_error="recovery_failure"))
    with pytest.raises(ConnectionError):
        run(triage(ConnectionError("provider hung up")))
    with pytest.raises(MaxTurnsExceeded):
        run(triage(*(call("lookup_order", {"order": n}, f"c{n}") for n in range(3))), max_turns=2)
    assert fake.outcomes() == ["recovery_failure", "timeout"]


def test_only_named_workflows_count_and_a_trace_is_one_run(
    fake: FakeRecorder, tracing: list[OutcomeTracingProcessor]
) -> None:
    """With ``workflow_names``, other traces are not recorded; the runs inside one
    ``trace()`` block are one run."""
    install(tracing, OutcomeTracingProcessor(fake, WORKFLOW, workflow_names=["Ticket triage"]))
    run(triage(say("Hello.")), run_config=RunConfig(workflow_name="Other work"))
    assert fake.events == []

    async def two_runs() -> None:
        with trace("Ticket triage"):
            await Runner.run(triage(say("First.")), "one")
            await Runner.run(triage(call("lookup_order", {"order": 404}), say("No.")), "two")

    asyncio.run(two_runs())
    assert fake.outcomes() == ["wrong_tool_args"]


def test_concurrent_runs_are_each_counted(
    fake: FakeRecorder, tracing: list[OutcomeTracingProcessor]
) -> None:
    """Runs interleaved on one event loop are each recorded once, with their own outcome
    and trace id."""
    install(tracing, OutcomeTracingProcessor(fake, WORKFLOW, escalate_to=["human_review"]))

    async def three() -> None:
        await asyncio.gather(
            Runner.run(triage(say("Hello.")), "one"),
            Runner.run(triage(call("transfer_to_human_review", {})), "two"),
            Runner.run(triage(call("lookup_order", {"order": 404}), say("No.")), "three"),
        )

    asyncio.run(three())
    assert sorted(fake.outcomes()) == ["escalated", "success", "wrong_tool_args"]
    assert len({e.id for e in fake.events}) == 3


def test_a_retry_with_the_same_trace_id_counts_once(tracing: list[OutcomeTracingProcessor]) -> None:
    """Run again under the same trace id, a run is recorded under the same id, which a
    recorder counts once."""
    registry = CollectorRegistry()
    install(tracing, OutcomeTracingProcessor(InProcessRecorder(registry), WORKFLOW))
    config = RunConfig(trace_id=gen_trace_id())
    for _ in range(2):
        run(triage(say("Done.")), run_config=config)
    labels = {"workflow": WORKFLOW, "outcome": "success"}
    assert registry.get_sample_value("agent_outcomes_total", labels) == 1.0


class BrokenRecorder(FakeRecorder):
    def record(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("recorder is down")

    def flush(self, timeout: float | None = None) -> bool:
        raise RuntimeError("recorder is down")


def test_a_broken_recorder_never_breaks_the_agent(tracing: list[OutcomeTracingProcessor]) -> None:
    """A recorder that raises leaves the run's result untouched, and flushing from the
    SDK's shutdown raises nothing; the failures are counted."""
    processor = OutcomeTracingProcessor(BrokenRecorder(), WORKFLOW)
    install(tracing, processor)
    assert run(triage(call("lookup_order", {"order": 7}), say("It shipped."))) == "It shipped."
    processor.shutdown()
    assert (processor.recorder.errors, processor.recorder.recorded) == (2, 0)


def test_outcomes_and_dimensions_are_checked_when_the_processor_is_built() -> None:
    """An outcome outside the taxonomy or a dimension ``record()`` cannot take is a
    ``ValueError`` naming it."""
    fake = FakeRecorder()
    with pytest.raises(ValueError, match=r"on_guardrail: 'blocked' is not an outcome"):
        OutcomeTracingProcessor(fake, WORKFLOW, on_guardrail="blocked")
    OutcomeTracingProcessor(fake, WORKFLOW, on_guardrail="blocked", extra_outcomes=["blocked"])
    with pytest.raises(ValueError, match=r"\['count'\] name arguments of record"):
        OutcomeTracingProcessor(fake, WORKFLOW, agent_dimension="count")
