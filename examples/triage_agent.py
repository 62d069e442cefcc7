"""A support-triage agent on LangGraph whose runs move the ``support-triage`` error budget.

It runs offline: its "model" is a small scripted chat model, so every run has a known
outcome. It answers 22 tickets through a real LangGraph graph (a model node, a tool node
looking up orders, a human-review node that interrupts the graph) and records each run
with :class:`exporter.integrations.langchain.OutcomeCallbackHandler` through the
exporter's client:

- 18 tickets answered (order status, passwords, shipping): ``success``;
- 2 refund requests handed to a human reviewer (``interrupt()``): ``escalated``; the
  reviewer's approval resumes the graph, which continues the same run and counts nothing;
- 1 order number written in words, which the model passes to the tool as it is: the tool
  refuses the arguments, the model asks again: ``wrong_tool_args``;
- 1 order that does not exist: the tool raises and the run fails: ``wrong_tool_args``.

For ``support-triage-success`` (95%, escalations excluded) that is 20 runs, 2 bad: a 10%
error ratio, twice the budget's 5%, so the period's budget reads -1 (spent, and as much
again). See ``examples/README.md`` for the commands.

    python examples/triage_agent.py --url http://127.0.0.1:9464
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections import Counter
from typing import Annotated, Any, TypedDict

from langchain_core.callbacks import BaseCallbackHandler, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph, add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import ToolNode
from langgraph.types import Command, interrupt

from exporter.client import OutcomeClient
from exporter.integrations.langchain import OutcomeCallbackHandler
from exporter.testing import FakeRecorder

WORKFLOW = "support-triage"
PROMPT_VERSION = "v1"

ORDERS = {1001: "shipped on Monday", 1002: "out for delivery", 1003: "delivered", 1004: "packed"}
FAQ = {
    "password": "Use 'Forgot password' on the sign-in page; the link is valid for an hour.",
    "shipping": "Standard shipping takes 3-5 working days; express takes 1-2.",
    "invoice": "Invoices are under Account > Orders, one PDF per order.",
}
TICKETS = [
    *(f"Where is order {n}?" for n in (1001, 1002, 1003, 1004) * 2),  # 8 answered
    *("How do I reset my password?", "I forgot my password") * 2,  # 4 answered
    *("How long does shipping take?", "Can I get an invoice?") * 3,  # 6 answered
    "I want a refund for order 1003, it arrived broken.",  # escalated
    "Refund please: I was charged twice.",  # escalated
    "Where is order one thousand and two?",  # wrong_tool_args: the tool refuses the words
    "Where is order 9999?",  # wrong_tool_args: no such order, the tool raises
]


@tool
def lookup_order(order: int) -> str:
    """The status of an order, by its number."""
    if order not in ORDERS:
        raise LookupError(f"no order {order}")
    return f"Order {order} is {ORDERS[order]}."


class ScriptedTriageModel(BaseChatModel):
    """A chat model that follows a script instead of calling a provider: it hands refunds
    to a human, looks orders up (passing the number as written), and answers from an FAQ
    or from the tool's reply."""

    model: str = "triage-small"

    @property
    def _llm_type(self) -> str:
        return "scripted-triage"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._reply(messages[-1]))])

    @staticmethod
    def _reply(last: BaseMessage) -> AIMessage:
        if isinstance(last, ToolMessage):
            if last.status == "error":
                return AIMessage(content="Could you give me the order number in digits?")
            return AIMessage(content=str(last.content))
        text = str(last.content)
        if "refund" in text.lower():
            return _calling("hand_to_human", {"reason": text})
        order = re.search(r"order (\d+|[a-z ]+)", text)
        if order:
            number = order.group(1)
            return _calling("lookup_order", {"order": int(number) if number.isdigit() else number})
        topic = next((t for t in FAQ if t in text.lower()), None)
        return AIMessage(content=FAQ[topic] if topic else "Let me route you to the right team.")


def _calling(name: str, args: dict[str, Any]) -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": f"call-{name}"}])


class State(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def build_agent() -> CompiledStateGraph[Any, Any, Any, Any]:
    """The graph: the model, its tool calls, and a human review that pauses the graph."""
    model = ScriptedTriageModel()

    def agent(state: State) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    def human_review(state: State) -> dict[str, Any]:
        decision = interrupt({"ticket": state["messages"][0].content})
        return {"messages": [AIMessage(content=f"A person reviewed your request: {decision}.")]}

    def route(state: State) -> str:
        last = state["messages"][-1]
        calls = last.tool_calls if isinstance(last, AIMessage) else []
        if not calls:
            return END
        return "human_review" if calls[0]["name"] == "hand_to_human" else "tools"

    graph = StateGraph(State)
    graph.add_node("agent", agent)
    graph.add_node("tools", ToolNode([lookup_order]))
    graph.add_node("human_review", human_review)
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", route, ["tools", "human_review", END])
    graph.add_edge("tools", "agent")
    graph.add_edge("human_review", END)
    return graph.compile(checkpointer=InMemorySaver())


def handle(
    graph: CompiledStateGraph[Any, Any, Any, Any], n: int, ticket: str, callbacks: list[Any]
) -> str:
    """Run the agent on one ticket (a reviewer approves what it escalates); what happened."""
    config: RunnableConfig = {
        "callbacks": callbacks,
        "configurable": {"thread_id": f"ticket-{n}"},
        "metadata": {"prompt_version": PROMPT_VERSION},
    }
    try:
        result = graph.invoke({"messages": [HumanMessage(ticket)]}, config)
    except LookupError as exc:
        return f"failed: {exc}"
    if "__interrupt__" in result:
        result = graph.invoke(Command(resume="approved"), config)
    return str(result["messages"][-1].content)


def main(argv: list[str] | None = None) -> int:
    """Answer the tickets, record every run, and say what was recorded."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:9464", help="the exporter's URL")
    parser.add_argument("--token", default=os.environ.get("AGENT_SLO_TOKEN"), help="write token")
    parser.add_argument("--dry-run", action="store_true", help="record nothing, only count")
    args = parser.parse_args(argv)

    tally = FakeRecorder()
    callbacks: list[BaseCallbackHandler] = [_handler(tally)]
    client = None if args.dry_run else OutcomeClient(args.url, token=args.token)
    if client is not None:
        callbacks.append(_handler(client))
    graph = build_agent()
    for n, ticket in enumerate(TICKETS):
        answer = handle(graph, n, ticket, callbacks)
        print(f"{tally.events[-1].outcome:16} {ticket!r} -> {answer}")
    counts = Counter(tally.outcomes())
    print("recorded:", ", ".join(f"{outcome} {count}" for outcome, count in sorted(counts.items())))
    if client is None:
        return 0
    delivered = client.flush(30)
    client.close()
    if not delivered:
        print(f"could not deliver every run to {args.url} within 30 s", file=sys.stderr)
        return 1
    print(f"sent to {args.url}")
    return 0


def _handler(recorder: Any) -> OutcomeCallbackHandler:
    """The one line that connects the agent to its SLO."""
    return OutcomeCallbackHandler(
        recorder,
        WORKFLOW,
        model_dimension="model",
        metadata_dimensions={"prompt_version": "prompt_version"},
    )


if __name__ == "__main__":
    sys.exit(main())
