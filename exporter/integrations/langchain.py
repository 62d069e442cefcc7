"""Outcomes from LangChain and LangGraph: a callback handler that records every agent run.

One line of setup, where the agent is invoked (requires ``agent-slo[langchain]``):

    from exporter.client import OutcomeClient
    from exporter.integrations.langchain import OutcomeCallbackHandler

    slo = OutcomeCallbackHandler(OutcomeClient("http://127.0.0.1:9464"), "support-triage")
    graph.invoke(inputs, config={"callbacks": [slo]})

How the callbacks become runs:

- which runs: the outermost run the handler sees (the graph, chain or model invoked with
  it); with ``runs``, instead, every run with one of those names (a graph's or chain's
  ``name``, or ``run_name`` in its config) that is not inside another counted run. The
  runs nested in a counted run (nodes, models, tools, retries) are part of it, never runs
  of their own;
- outcome, by precedence when several apply: a tool error during the run (``on_tool_error``,
  ``wrong_tool_args``; whether the agent recovered from it or not), an exception that ends
  the run (the outcome its class, or a base class, maps to in ``errors``, else ``on_error``),
  a LangGraph ``interrupt()`` (``on_interrupt``, ``escalated``: a human review); else
  ``success``. An invocation that resumes an interrupted graph (``Command(resume=...)``)
  continues a run already recorded, so it records nothing unless ``count_resumes``;
- dimensions: ``dimensions`` as given; ``metadata_dimensions`` renames keys of the run's
  metadata (``config={"metadata": {...}}``) to dimensions; ``model_dimension`` names the
  dimension that gets the model of the first chat model or LLM called in the run (its
  ``ls_model_name``, else the ``model`` or ``model_name`` of its invocation parameters);
- duration: from the run's start to its end; id: the run id, so a retry invoked with the
  same ``run_id`` in its config counts once.

The handler never raises into LangChain: a failure is logged once per kind and counted in
``errors``. It is safe to share across threads and concurrent invocations.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Final
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents import Document
from langchain_core.messages import BaseMessage
from langchain_core.outputs import LLMResult

from exporter.catalog import Catalog
from exporter.integrations._runs import Mark, RunRecorder, WatchedRun
from exporter.recorder import Recorder

__all__ = ["DEFAULT_ERRORS", "OutcomeCallbackHandler"]

log = logging.getLogger("agent_slo.langchain")

#: Exception class name → outcome, when none are given: LangGraph's recursion limit (a run
#: stuck in a loop) and timeouts.
DEFAULT_ERRORS: Final[Mapping[str, str]] = {
    "GraphRecursionError": "timeout",
    "TimeoutError": "timeout",
}
#: LangGraph's exception for ``interrupt()``, matched by name: LangGraph is not required.
_INTERRUPT: Final = "GraphInterrupt"


class OutcomeCallbackHandler(BaseCallbackHandler):
    """Records each agent run seen through LangChain's callbacks as one run of ``workflow``.

    ``catalog`` (from :func:`exporter.catalog.load_catalog` over the exporter's specs)
    checks the configured outcomes and dimensions against the workflow's; without it,
    outcomes are checked against the default taxonomy plus ``extra_outcomes``. A mistake
    raises ``ValueError`` here, never during a run.
    """

    raise_error = False
    run_inline = True

    def __init__(
        self,
        recorder: Recorder,
        workflow: str,
        *,
        runs: Collection[str] | None = None,
        success: str = "success",
        on_error: str = "rejected",
        errors: Mapping[str, str] = DEFAULT_ERRORS,
        on_tool_error: str | None = "wrong_tool_args",
        on_interrupt: str | None = "escalated",
        count_resumes: bool = False,
        dimensions: Mapping[str, str] | None = None,
        metadata_dimensions: Mapping[str, str] | None = None,
        model_dimension: str | None = None,
        catalog: Catalog | None = None,
        extra_outcomes: Collection[str] = (),
    ) -> None:
        super().__init__()
        self.runs = None if runs is None else frozenset(runs)
        self.success = success
        self.error_outcome = on_error
        self.errors = dict(errors)
        self.tool_error_outcome = on_tool_error
        self.interrupt_outcome = on_interrupt
        self.count_resumes = count_resumes
        self.dimensions = dict(dimensions or {})
        self.metadata_dimensions = dict(metadata_dimensions or {})
        self.model_dimension = model_dimension
        self.recorder = RunRecorder(
            recorder, workflow, catalog=catalog, extra_outcomes=extra_outcomes, log=log
        )
        self.recorder.check(
            {
                "success": success,
                "on_error": on_error,
                "on_tool_error": on_tool_error,
                "on_interrupt": on_interrupt,
            },
            self.errors,
            [*self.dimensions, *self.metadata_dimensions.values(), model_dimension],
        )
        self._lock = threading.Lock()
        self._runs: dict[UUID, WatchedRun] = {}
        self._root_of: dict[UUID, UUID] = {}  # every run being watched → its counted run

    # -- starts --------------------------------------------------------------------------

    def on_chain_start(
        self,
        serialized: dict[str, Any],
        inputs: dict[str, Any],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """A chain or graph starts: a run of its own, or part of one."""
        with self.recorder.shielded("start"):
            self._start(run_id, parent_run_id, _name(serialized, kwargs), metadata, inputs)

    def on_tool_start(
        self,
        serialized: dict[str, Any],
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """A tool starts."""
        with self.recorder.shielded("start"):
            self._start(run_id, parent_run_id, _name(serialized, kwargs), metadata, inputs)

    def on_retriever_start(
        self,
        serialized: dict[str, Any],
        query: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """A retriever starts."""
        with self.recorder.shielded("start"):
            self._start(run_id, parent_run_id, _name(serialized, kwargs), metadata, None)

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """A chat model is called: the run's model, if it has none yet."""
        with self.recorder.shielded("start"):
            self._model_start(run_id, parent_run_id, serialized, metadata, kwargs)

    def on_llm_start(
        self,
        serialized: dict[str, Any],
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """An LLM is called: the run's model, if it has none yet."""
        with self.recorder.shielded("start"):
            self._model_start(run_id, parent_run_id, serialized, metadata, kwargs)

    # -- ends and errors: the same for every kind of run ---------------------------------

    def on_chain_end(
        self,
        outputs: dict[str, Any],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        """A chain or graph ends."""
        self._end(run_id)

    def on_tool_end(
        self, output: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        """A tool ends."""
        self._end(run_id)

    def on_retriever_end(
        self,
        documents: Sequence[Document],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        """A retriever ends."""
        self._end(run_id)

    def on_llm_end(
        self, response: LLMResult, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        """A model call ends."""
        self._end(run_id)

    def _raised(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        """A run raises (a LangGraph interrupt among them): recorded if it is a counted one."""
        self._error(run_id, error, Mark.FAILED)

    on_chain_error = on_retriever_error = on_llm_error = _raised

    def on_tool_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        """A tool raises: its run called a tool wrongly, recovered or not."""
        self._error(run_id, error, Mark.TOOL_ERROR)

    # -- the runs ------------------------------------------------------------------------

    def _start(
        self,
        run_id: UUID,
        parent_run_id: UUID | None,
        name: str | None,
        metadata: Mapping[str, Any] | None,
        inputs: object,
    ) -> WatchedRun | None:
        """Watch a run that starts; the counted run it belongs to, if any."""
        with self._lock:
            root = self._root_of.get(parent_run_id) if parent_run_id is not None else None
            if root is not None:
                self._root_of[run_id] = root
                return self._runs.get(root)
            if self.runs is not None and name not in self.runs:
                return None
            run = WatchedRun(
                id=f"langchain-{run_id}",
                dimensions=self.recorder.dimensions(
                    self.dimensions, self.metadata_dimensions, metadata or {}
                ),
                counted=self.count_resumes or not _resumes(inputs),
            )
            self._runs[run_id] = run
            self._root_of[run_id] = run_id
            return run

    def _model_start(
        self,
        run_id: UUID,
        parent_run_id: UUID | None,
        serialized: dict[str, Any] | None,
        metadata: Mapping[str, Any] | None,
        kwargs: Mapping[str, Any],
    ) -> None:
        run = self._start(run_id, parent_run_id, _name(serialized, kwargs), metadata, None)
        dimension = self.model_dimension
        if run is None or dimension is None:
            return
        model = _model_name(metadata or {}, kwargs.get("invocation_params") or {})
        with self._lock:
            if dimension in run.dimensions or model is None:
                return
        value = self.recorder.label(dimension, model)
        if value is not None:
            with self._lock:
                run.dimensions.setdefault(dimension, value)

    def _end(self, run_id: UUID) -> None:
        with self.recorder.shielded("end"):
            with self._lock:
                if self._root_of.pop(run_id, None) != run_id:
                    return
                run = self._runs.pop(run_id)
            self.recorder.finish(run, self.success)

    def _error(self, run_id: UUID, error: BaseException, mark: Mark) -> None:
        with self.recorder.shielded("end"):
            with self._lock:
                root = self._root_of.pop(run_id, None)
                run = self._runs.get(root) if root is not None else None
                if run is None:
                    return
                if _is_interrupt(error):
                    run.mark(Mark.ESCALATED, self.interrupt_outcome)
                elif mark is Mark.TOOL_ERROR:
                    run.mark(mark, self.tool_error_outcome)
                if root != run_id:
                    return
                del self._runs[run_id]
                if not _is_interrupt(error):
                    run.mark(Mark.FAILED, self._error_outcome(error))
            self.recorder.finish(run, self.success)

    def _error_outcome(self, error: BaseException) -> str:
        """The outcome of the first class in ``error``'s MRO that ``errors`` names."""
        for cls in type(error).__mro__:
            if cls.__name__ in self.errors:
                return self.errors[cls.__name__]
        return self.error_outcome


def _name(serialized: Mapping[str, Any] | None, kwargs: Mapping[str, Any]) -> str | None:
    """A run's name: the one LangChain passes, else its serialised name."""
    name = kwargs.get("name") or (serialized or {}).get("name")
    return name if isinstance(name, str) else None


def _model_name(metadata: Mapping[str, Any], params: Mapping[str, Any]) -> object:
    """The model a call used, as LangChain reports it (LangSmith's ``ls_model_name``), else
    as its invocation parameters name it."""
    for value in (metadata.get("ls_model_name"), params.get("model"), params.get("model_name")):
        if value:
            return value
    return None


def _is_interrupt(error: BaseException) -> bool:
    return any(cls.__name__ == _INTERRUPT for cls in type(error).__mro__)


def _resumes(inputs: object) -> bool:
    """Whether a run's input resumes an interrupted LangGraph graph."""
    return type(inputs).__name__ == "Command" and getattr(inputs, "resume", None) is not None
