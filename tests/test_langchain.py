"""The LangChain/LangGraph callback handler, driven by real LangGraph graphs and LangChain's
fake chat models, offline: which runs count, the outcome each event gives, dimensions, ids
and a recorder that fails."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Annotated, Any, TypedDict

import pytest
from exporters import TRIAGE, catalog_of
from langchain_core.language_models.fake_chat_models import (
    FakeListChatModel,
    GenericFakeChatModel,
)
from langchain_core.messages import AIMessage, AnyMessage
from langchain_core.runnables import RunnableConfig, RunnableLambda
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.errors import GraphRecursionError
from langgraph.graph import END, START, StateGraph, add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.types import Command, interrupt
from prometheus_client import CollectorRegistry

from exporter.inprocess import InProcessRecorder
from exporter.integrations.langchain import OutcomeCallbackHandler
from exporter.testing import FakeRecorder, Recorded

WORKFLOW = "support-triage"


class TriageModel(GenericFakeChatModel):
    """A fake chat model that names its model, as provider models do."""

    model: str = "triage-small"


class State(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


@tool
def lookup_order(order: int) -> str:
    """Look up an order by number."""
    if order == 404:
        raise LookupError(f"no order {order}")
    return f"order {order}: shipped"


def call(order: object, call_id: str = "c1") -> AIMessage:
    """The model asking for ``lookup_order``."""
    return AIMessage(
        content="", tool_calls=[{"name": "lookup_order", "args": {"order": order}, "id": call_id}]
    )


def agent_graph(*replies: AIMessage) -> CompiledStateGraph[Any, Any, Any, Any]:
    """A tool-calling agent: the model, then its tool calls, until it answers."""
    model = TriageModel(messages=iter(replies))

    def agent(state: State) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    graph = StateGraph(State)
    graph.add_node("agent", agent)
    graph.add_node("tools", ToolNode([lookup_order]))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", tools_condition)
    graph.add_edge("tools", "agent")
    return graph.compile()


def review_graph() -> CompiledStateGraph[Any, Any, Any, Any]:
    """A draft, then a human review that interrupts the graph until resumed."""

    def draft(state: State) -> dict[str, Any]:
        return {"messages": [AIMessage(content="Refund approved")]}

    def review(state: State) -> dict[str, Any]:
        verdict = interrupt({"draft": state["messages"][-1].content})
        return {"messages": [AIMessage(content=f"reviewed: {verdict}")]}

    graph = StateGraph(State)
    graph.add_node("draft", draft)
    graph.add_node("review", review)
    graph.add_edge(START, "draft")
    graph.add_edge("draft", "review")
    graph.add_edge("review", END)
    return graph.compile(checkpointer=InMemorySaver())


def ask(text: str = "Where is my order?") -> dict[str, Any]:
    return {"messages": [("user", text)]}


@pytest.fixture
def fake() -> Iterator[FakeRecorder]:
    yield FakeRecorder()


def test_a_graph_run_is_one_success_with_its_model_metadata_and_id(fake: FakeRecorder) -> None:
    """A graph run with a model call and a tool call records one success, named by its
    run id, with the model and the metadata dimensions; the nested runs record nothing."""
    handler = OutcomeCallbackHandler(
        fake,
        WORKFLOW,
        model_dimension="model",
        metadata_dimensions={"prompt": "prompt_version"},
        dimensions={"queue": "billing"},
    )
    run_id = uuid.uuid4()
    graph = agent_graph(call(7), AIMessage(content="It shipped."))
    config: RunnableConfig = {
        "callbacks": [handler],
        "run_id": run_id,
        "metadata": {"prompt": "v3", "ignored": "x"},
    }
    result = graph.invoke(ask(), config)
    assert result["messages"][-1].content == "It shipped."
    [event] = fake.events
    assert event.duration_seconds is not None
    assert event.duration_seconds >= 0
    assert event == Recorded(
        WORKFLOW,
        "success",
        duration_seconds=event.duration_seconds,
        id=f"langchain-{run_id}",
        dimensions={"queue": "billing", "prompt_version": "v3", "model": "triage-small"},
    )


def test_a_tool_error_the_agent_recovers_from_is_wrong_tool_args(fake: FakeRecorder) -> None:
    """Arguments the tool refuses (ToolNode hands the error back to the model, which then
    answers) make the run ``wrong_tool_args``; with ``on_tool_error=None`` it is a success."""
    replies = (call("order seven"), AIMessage(content="Sorry, which order?"))
    for on_tool_error, expected in (("wrong_tool_args", "wrong_tool_args"), (None, "success")):
        handler = OutcomeCallbackHandler(fake, WORKFLOW, on_tool_error=on_tool_error)
        agent_graph(*replies).invoke(ask(), {"callbacks": [handler]})
        assert fake.outcomes()[-1] == expected
    assert len(fake.events) == 2


def test_a_tool_error_that_ends_the_run_is_wrong_tool_args(fake: FakeRecorder) -> None:
    """A tool that raises through the graph ends the run with the exception: the tool error
    decides the outcome; without it, the exception's (``on_error``)."""
    for on_tool_error, expected in (("wrong_tool_args", "wrong_tool_args"), (None, "qa_failure")):
        handler = OutcomeCallbackHandler(
            fake, WORKFLOW, on_tool_error=on_tool_error, on_error="qa_failure"
        )
        with pytest.raises(LookupError, match="no order 404"):
            agent_graph(call(404)).invoke(ask(), {"callbacks": [handler]})
        assert fake.outcomes()[-1] == expected
    assert len(fake.events) == 2


def test_exceptions_map_to_outcomes_by_class(fake: FakeRecorder) -> None:
    """An exception records the outcome its class (or a base class) maps to in ``errors``,
    else ``on_error``; LangGraph's recursion limit is a ``timeout`` by default."""

    def fail(state: State) -> dict[str, Any]:
        raise ConnectionResetError("provider hung up")

    graph = StateGraph(State)
    graph.add_node("fail", fail)
    graph.add_edge(START, "fail")
    failing = graph.compile()
    for errors, expected in (
        ({}, "rejected"),
        ({"OSError": "recovery_failure"}, "recovery_failure"),
    ):
        handler = OutcomeCallbackHandler(fake, WORKFLOW, errors=errors)
        with pytest.raises(ConnectionResetError):
            failing.invoke(ask(), {"callbacks": [handler]})
        assert fake.outcomes()[-1] == expected
    looping = agent_graph(*(call(n, f"c{n}") for n in range(10)))
    with pytest.raises(GraphRecursionError):
        looping.invoke(
            ask(), {"callbacks": [OutcomeCallbackHandler(fake, WORKFLOW)], "recursion_limit": 4}
        )
    assert fake.outcomes() == ["rejected", "recovery_failure", "timeout"]


def test_an_interrupt_for_human_review_is_escalated_and_its_resume_not_counted_again(
    fake: FakeRecorder,
) -> None:
    """``interrupt()`` ends the invocation as ``escalated``; resuming it continues that run
    and records nothing, unless ``count_resumes``, which records the resumed part too."""
    graph = review_graph()
    handler = OutcomeCallbackHandler(fake, WORKFLOW)
    config: RunnableConfig = {"callbacks": [handler], "configurable": {"thread_id": "t-1"}}
    paused = graph.invoke(ask(), config)
    assert "__interrupt__" in paused
    assert fake.outcomes() == ["escalated"]
    done = graph.invoke(Command(resume="approved"), config)
    assert done["messages"][-1].content == "reviewed: approved"
    assert fake.outcomes() == ["escalated"]

    counting = OutcomeCallbackHandler(fake, WORKFLOW, count_resumes=True, on_interrupt="minor_fix")
    config = {"callbacks": [counting], "configurable": {"thread_id": "t-2"}}
    graph.invoke(ask(), config)
    graph.invoke(Command(resume="approved"), config)
    assert fake.outcomes() == ["escalated", "minor_fix", "success"]


def test_named_runs_count_each_and_nested_ones_once(fake: FakeRecorder) -> None:
    """With ``runs``, each run of that name counts, wherever it is; one nested inside
    another counted run does not count again. By default only the outermost run counts."""
    inner = RunnableLambda(str.upper, name="triage")

    def triage_again(text: str) -> str:
        return inner.invoke(text)

    outer_of_inner = RunnableLambda(triage_again, name="triage")

    def both(text: str) -> list[str]:
        return [inner.invoke(text), outer_of_inner.invoke(text)]

    pipeline = RunnableLambda(both, name="pipeline")
    assert pipeline.invoke("hi", {"callbacks": [OutcomeCallbackHandler(fake, WORKFLOW)]}) == [
        "HI",
        "HI",
    ]
    assert len(fake.events) == 1
    named = OutcomeCallbackHandler(fake, WORKFLOW, runs=["triage"])
    pipeline.invoke("hi", {"callbacks": [named]})
    assert len(fake.events) == 3
    assert len({e.id for e in fake.events}) == 3


def test_a_model_invoked_alone_is_one_run(fake: FakeRecorder) -> None:
    """A handler given to a bare chat model call records that call as the run, with its
    model from the invocation parameters."""
    model = FakeListChatModel(responses=["Routed to billing."])
    handler = OutcomeCallbackHandler(fake, WORKFLOW, model_dimension="model")
    assert model.invoke("hi", {"callbacks": [handler]}).content == "Routed to billing."
    assert fake.outcomes() == ["success"]
    assert fake.events[0].dimensions == {}  # the fake model names no model
    TriageModel(messages=iter([AIMessage(content="ok")])).invoke("hi", {"callbacks": [handler]})
    assert fake.events[1].dimensions == {"model": "triage-small"}


def test_concurrent_and_async_runs_are_each_counted(fake: FakeRecorder) -> None:
    """``batch`` runs invocations on threads and ``ainvoke`` on the event loop; each
    invocation is one run with its own id."""
    handler = OutcomeCallbackHandler(fake, WORKFLOW)
    graph = review_graph()
    configs: list[RunnableConfig] = [
        {"callbacks": [handler], "configurable": {"thread_id": f"b-{n}"}} for n in range(4)
    ]
    graph.batch([ask()] * 4, configs)
    asyncio.run(graph.ainvoke(ask(), {"callbacks": [handler], "configurable": {"thread_id": "a"}}))
    assert fake.outcomes() == ["escalated"] * 5
    assert len({e.id for e in fake.events}) == 5


def test_a_retry_with_the_same_run_id_counts_once() -> None:
    """Invoked again under the same ``run_id``, a run is recorded under the same id, which
    a recorder counts once."""
    registry = CollectorRegistry()
    recorder = InProcessRecorder(registry)
    handler = OutcomeCallbackHandler(recorder, WORKFLOW)
    run_id = uuid.uuid4()
    for _ in range(2):
        agent_graph(AIMessage(content="done")).invoke(
            ask(), {"callbacks": [handler], "run_id": run_id}
        )
    labels = {"workflow": WORKFLOW, "outcome": "success"}
    assert registry.get_sample_value("agent_outcomes_total", labels) == 1.0


class BrokenRecorder(FakeRecorder):
    def record(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("recorder is down")


def test_a_broken_recorder_never_breaks_the_agent() -> None:
    """A recorder that raises leaves the graph's result untouched; the failure is counted."""
    handler = OutcomeCallbackHandler(BrokenRecorder(), WORKFLOW)
    result = agent_graph(AIMessage(content="done")).invoke(ask(), {"callbacks": [handler]})
    assert result["messages"][-1].content == "done"
    with pytest.raises(LookupError):
        agent_graph(call(404)).invoke(ask(), {"callbacks": [handler]})
    assert (handler.recorder.errors, handler.recorder.recorded) == (2, 0)


def test_outcomes_and_dimensions_are_checked_when_the_handler_is_built() -> None:
    """An outcome outside the taxonomy (or the workflow's spec) or an undeclared dimension
    is a ``ValueError`` naming it, before any run."""
    fake = FakeRecorder()
    with pytest.raises(ValueError, match=r"on_interrupt: 'handed_off' is not an outcome"):
        OutcomeCallbackHandler(fake, WORKFLOW, on_interrupt="handed_off")
    with pytest.raises(ValueError, match=r"errors\['KeyError'\]: 'oops'"):
        OutcomeCallbackHandler(fake, WORKFLOW, errors={"KeyError": "oops"})
    catalog = catalog_of(TRIAGE.replace("slos:", "outcomes: {wrong_queue: bad}\nslos:"))
    OutcomeCallbackHandler(fake, "triage", on_error="wrong_queue", catalog=catalog)
    with pytest.raises(ValueError, match=r"\['queue'\] not declared by workflow 'triage'"):
        OutcomeCallbackHandler(fake, "triage", dimensions={"queue": "billing"}, catalog=catalog)
    with pytest.raises(ValueError, match="'support-triage' is not in the catalog"):
        OutcomeCallbackHandler(fake, WORKFLOW, catalog=catalog)
    with pytest.raises(ValueError, match=r"\['id'\] name arguments of record"):
        OutcomeCallbackHandler(fake, WORKFLOW, metadata_dimensions={"ticket": "id"})


def test_a_value_the_exporter_would_refuse_is_left_out_and_the_run_counts(
    fake: FakeRecorder,
) -> None:
    """Metadata values that are no label value (quotes, over 128 characters, empty) are left
    out of the dimensions; numbers and booleans are written as text; the run is recorded."""
    handler = OutcomeCallbackHandler(
        fake,
        WORKFLOW,
        metadata_dimensions={"a": "quoted", "b": "long", "c": "empty", "d": "number", "e": "flag"},
    )
    metadata = {"a": 'say "hi"', "b": "x" * 129, "c": "", "d": 3, "e": True}
    agent_graph(AIMessage(content="done")).invoke(
        ask(), {"callbacks": [handler], "metadata": metadata}
    )
    assert fake.events[0].outcome == "success"
    assert fake.events[0].dimensions == {"number": "3", "flag": "true"}
