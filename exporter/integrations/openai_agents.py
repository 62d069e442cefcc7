"""Outcomes from the OpenAI Agents SDK: a tracing processor that records every agent run.

One line of setup beside the SDK's own exporter (requires ``agent-slo[openai-agents]``):

    from agents import add_trace_processor
    from exporter.client import OutcomeClient
    from exporter.integrations.openai_agents import OutcomeTracingProcessor

    client = OutcomeClient("http://127.0.0.1:9464")
    add_trace_processor(OutcomeTracingProcessor(client, "support-triage"))

(``set_trace_processors([...])`` instead keeps traces from being sent to OpenAI.)

How traces become runs:

- which runs: every trace (one ``Runner.run``, or every run inside one ``with trace(...)``
  block); with ``workflow_names``, only traces of those names (``RunConfig.workflow_name``);
- outcome, by precedence when several apply: a guardrail whose tripwire fired, input or
  output (``on_guardrail``, ``policy_violation``); a tool call that failed (``on_tool_error``,
  ``wrong_tool_args``: the tool raised or refused its arguments, the model named a tool
  that does not exist or sent arguments that are not JSON; whether the run recovered or
  not); an error that ended the run (the outcome its message maps to in ``errors``, such as
  ``Max turns exceeded`` to ``timeout``, else ``on_error``); a hand-off to one of the agents
  in ``escalate_to`` (``on_escalation``, ``escalated``); else ``success``. Other hand-offs
  are the agent's own routing and change nothing;
- dimensions: ``dimensions`` as given; ``metadata_dimensions`` renames keys of the trace's
  metadata (``RunConfig.trace_metadata``) to dimensions; ``model_dimension`` names the
  dimension that gets the model of the run's first model call, and ``agent_dimension`` the
  one that gets the name of the agent the run started with;
- duration: from the trace's start to its end; id: the trace id, so a retry run with the
  same ``RunConfig.trace_id`` counts once.

Runs with tracing disabled (``RunConfig(tracing_disabled=True)``, ``set_tracing_disabled``,
``OPENAI_AGENTS_DISABLE_TRACING``) reach no processor, so they are not recorded.

The processor never raises into the SDK: a failure is logged once per kind and counted in
``errors``. It is safe to share across threads and concurrent runs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Mapping
from typing import Any, Final

from agents.tracing import (
    AgentSpanData,
    FunctionSpanData,
    GenerationSpanData,
    GuardrailSpanData,
    HandoffSpanData,
    ResponseSpanData,
    Span,
    Trace,
    TracingProcessor,
    TurnSpanData,
)

from exporter.catalog import Catalog
from exporter.integrations._runs import Mark, RunRecorder, WatchedRun
from exporter.recorder import Recorder

__all__ = ["DEFAULT_ERRORS", "OutcomeTracingProcessor"]

log = logging.getLogger("agent_slo.openai_agents")

#: A run-ending error's message (as the SDK attaches it to the agent span) → outcome, when
#: none are given: a run that kept turning without an answer.
DEFAULT_ERRORS: Final[Mapping[str, str]] = {"Max turns exceeded": "timeout"}
#: Error messages the SDK gives a tool call the model got wrong, on whichever span.
_TOOL_CALL_ERRORS: Final = ("tool not found", "invalid json provided")


class OutcomeTracingProcessor(TracingProcessor):
    """Records each Agents SDK trace as one run of ``workflow``.

    ``catalog`` (from :func:`exporter.catalog.load_catalog` over the exporter's specs)
    checks the configured outcomes and dimensions against the workflow's; without it,
    outcomes are checked against the default taxonomy plus ``extra_outcomes``. A mistake
    raises ``ValueError`` here, never during a run.
    """

    def __init__(
        self,
        recorder: Recorder,
        workflow: str,
        *,
        workflow_names: Collection[str] | None = None,
        success: str = "success",
        on_error: str = "rejected",
        errors: Mapping[str, str] = DEFAULT_ERRORS,
        on_tool_error: str | None = "wrong_tool_args",
        on_guardrail: str | None = "policy_violation",
        escalate_to: Collection[str] = (),
        on_escalation: str = "escalated",
        dimensions: Mapping[str, str] | None = None,
        metadata_dimensions: Mapping[str, str] | None = None,
        model_dimension: str | None = None,
        agent_dimension: str | None = None,
        catalog: Catalog | None = None,
        extra_outcomes: Collection[str] = (),
    ) -> None:
        self.workflow_names = None if workflow_names is None else frozenset(workflow_names)
        self.success = success
        self.error_outcome = on_error
        self.errors = dict(errors)
        self.tool_error_outcome = on_tool_error
        self.guardrail_outcome = on_guardrail
        self.escalate_to = frozenset(escalate_to)
        self.escalation_outcome = on_escalation
        self.dimensions = dict(dimensions or {})
        self.metadata_dimensions = dict(metadata_dimensions or {})
        self.model_dimension = model_dimension
        self.agent_dimension = agent_dimension
        self.recorder = RunRecorder(
            recorder, workflow, catalog=catalog, extra_outcomes=extra_outcomes, log=log
        )
        self.recorder.check(
            {
                "success": success,
                "on_error": on_error,
                "on_tool_error": on_tool_error,
                "on_guardrail": on_guardrail,
                "on_escalation": on_escalation,
            },
            self.errors,
            [
                *self.dimensions,
                *self.metadata_dimensions.values(),
                model_dimension,
                agent_dimension,
            ],
        )
        self._lock = threading.Lock()
        self._runs: dict[str, WatchedRun] = {}

    # -- the SDK's callbacks -------------------------------------------------------------

    def on_trace_start(self, trace: Trace) -> None:
        """A run starts: watch it, if it is one of ``workflow_names``."""
        with self.recorder.shielded("start"):
            if self.workflow_names is not None and trace.name not in self.workflow_names:
                return
            metadata = (trace.export() or {}).get("metadata") or {}
            dimensions = self.recorder.dimensions(
                self.dimensions, self.metadata_dimensions, metadata
            )
            run = WatchedRun(id=trace.trace_id, dimensions=dimensions)
            with self._lock:
                self._runs[trace.trace_id] = run

    def on_trace_end(self, trace: Trace) -> None:
        """A run ends: record it."""
        with self.recorder.shielded("end"):
            with self._lock:
                run = self._runs.pop(trace.trace_id, None)
            if run is not None:
                self.recorder.finish(run, self.success)

    def on_span_start(self, span: Span[Any]) -> None:
        """The first agent of a run names it (``agent_dimension``)."""
        with self.recorder.shielded("start"):
            data = span.span_data
            if self.agent_dimension is not None and isinstance(data, AgentSpanData):
                self._dimension(span.trace_id, self.agent_dimension, data.name)

    def on_span_end(self, span: Span[Any]) -> None:
        """What a finished step says about its run: guardrails, hand-offs, errors, model."""
        with self.recorder.shielded("span"):
            data = span.span_data
            if isinstance(data, GenerationSpanData | ResponseSpanData):
                model = data.model if isinstance(data, GenerationSpanData) else None
                if isinstance(data, ResponseSpanData) and data.response is not None:
                    model = data.response.model
                if self.model_dimension is not None and model:
                    self._dimension(span.trace_id, self.model_dimension, model)
            with self._lock:
                run = self._runs.get(span.trace_id)
                if run is None:
                    return
                if isinstance(data, GuardrailSpanData) and data.triggered:
                    run.mark(Mark.GUARDRAIL, self.guardrail_outcome)
                if isinstance(data, HandoffSpanData) and data.to_agent in self.escalate_to:
                    run.mark(Mark.ESCALATED, self.escalation_outcome)
                if span.error is not None:
                    self._failed(run, data, span.error.get("message") or "")

    def shutdown(self) -> None:
        """Deliver what the recorder holds; it is left open, since it may be shared."""
        self.recorder.flush(None)

    def force_flush(self) -> None:
        """Deliver what the recorder holds."""
        self.recorder.flush(None)

    # -- from spans to the run's outcome and dimensions ----------------------------------

    def _failed(self, run: WatchedRun, data: object, message: str) -> None:
        """A step failed: a tool call, the run itself, or both. The SDK attaches a run's
        fatal error to its agent's span or to the turn that raised it (a tool the model
        named that does not exist, a guardrail), never to the trace."""
        if isinstance(data, FunctionSpanData) or message.lower().endswith(_TOOL_CALL_ERRORS):
            run.mark(Mark.TOOL_ERROR, self.tool_error_outcome)
        if isinstance(data, AgentSpanData | TurnSpanData):
            run.mark(Mark.FAILED, self.errors.get(message, self.error_outcome))

    def _dimension(self, trace_id: str, dimension: str, value: object) -> None:
        """Set a dimension of the run the first time it is seen."""
        with self._lock:
            run = self._runs.get(trace_id)
            if run is None or dimension in run.dimensions:
                return
        label = self.recorder.label(dimension, value)
        if label is not None:
            with self._lock:
                run.dimensions.setdefault(dimension, label)
