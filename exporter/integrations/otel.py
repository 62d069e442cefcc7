"""Outcomes from OpenTelemetry: every finished agent span becomes one recorded run.

Agents that already emit the GenAI semantic conventions (an ``invoke_agent`` span around
each run, ``chat`` and ``execute_tool`` spans inside it) get their error budgets by adding
one span processor, without touching their code paths:

    from exporter.client import OutcomeClient
    from exporter.integrations.otel import OutcomeSpanProcessor

    provider.add_span_processor(OutcomeSpanProcessor(OutcomeClient("http://127.0.0.1:9464")))

How a span becomes a run:

- which spans: those whose ``gen_ai.operation.name`` is ``invoke_agent`` (``operations``);
  the ``chat`` and ``execute_tool`` spans inside a run are not runs of their own;
- workflow: the ``gen_ai.agent.name`` attribute (``workflow_attribute``), or
  ``default_workflow``; a span with neither is skipped, counted in ``skipped`` and logged
  once;
- outcome: the ``agent_slo.outcome`` attribute when the agent set one; else, for a span
  whose status is an error, the outcome its ``error.type`` (else its last recorded
  exception's type) maps to in ``error_types``, or ``on_error``; else ``success``. An
  outcome outside the taxonomy (or the workflow's spec) is recorded as ``unknown_outcome``
  (``rejected`` by default: a run whose outcome nobody can read was not a success), or
  skipped if that is ``None``, and logged once per value;
- dimensions: span attributes renamed by ``dimensions`` (``gen_ai.request.model`` to
  ``model`` by default); numbers and booleans are written as text, values the exporter
  would refuse (empty, too long, quotes, control characters, lists) are left out, so the
  run still counts (under ``unknown``);
- duration: the span's own, in seconds; id: the trace and span ids, so a span that reaches
  the processor twice counts once.

The processor never raises into the SDK (a broken recorder must not break the agent): a
failure is logged once per kind and counted in ``errors``. Only spans the SDK records reach
a span processor, so a sampler that drops traces would drop runs: wrap it in
:class:`RecordAgentSpans`, which records every agent span (exporting only what the wrapped
sampler samples).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Final

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import StatusCode

from exporter.catalog import Catalog
from exporter.integrations._runs import RECORD_ARGUMENTS, WarnOnce, label_value
from exporter.recorder import Recorder
from rulegen.taxonomy import DEFAULT_OUTCOMES

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.trace import Link, SpanKind, TraceState
    from opentelemetry.util.types import Attributes, AttributeValue

__all__ = [
    "AGENT_OPERATIONS",
    "DEFAULT_DIMENSIONS",
    "ERROR_TYPE_ATTRIBUTE",
    "EXCEPTION_TYPE_ATTRIBUTE",
    "OPERATION_ATTRIBUTE",
    "OUTCOME_ATTRIBUTE",
    "WORKFLOW_ATTRIBUTE",
    "OutcomeSpanProcessor",
    "RecordAgentSpans",
]

log = logging.getLogger("agent_slo.otel")

#: The GenAI semantic conventions' operation of a span, and the one that is an agent run.
OPERATION_ATTRIBUTE: Final = "gen_ai.operation.name"
AGENT_OPERATIONS: Final = ("invoke_agent",)
#: The GenAI attribute naming the agent: the workflow by default.
WORKFLOW_ATTRIBUTE: Final = "gen_ai.agent.name"
#: Where an agent states its run's outcome: ``span.set_attribute(OUTCOME_ATTRIBUTE, "escalated")``.
OUTCOME_ATTRIBUTE: Final = "agent_slo.outcome"
#: The semantic conventions' error class, looked up in ``error_types``; else the type of
#: the last exception recorded on the span (what the SDK records for an exception that
#: leaves ``start_as_current_span``).
ERROR_TYPE_ATTRIBUTE: Final = "error.type"
EXCEPTION_TYPE_ATTRIBUTE: Final = "exception.type"
#: Span attribute → dimension, when none are given.
DEFAULT_DIMENSIONS: Final[Mapping[str, str]] = {"gen_ai.request.model": "model"}


class OutcomeSpanProcessor(SpanProcessor):
    """Records every finished agent span as one run through any :class:`Recorder`.

    ``catalog`` (from :func:`exporter.catalog.load_catalog` over the exporter's specs)
    checks each span against its workflow's own outcomes and dimensions, so that nothing
    the exporter would refuse is sent; without it, outcomes are checked against the default
    taxonomy plus ``extra_outcomes``, and every mapped dimension is sent.

    ``recorded``, ``skipped`` (by reason) and ``errors`` (recorder failures) count what
    happened to the spans seen.
    """

    def __init__(
        self,
        recorder: Recorder,
        *,
        workflow_attribute: str = WORKFLOW_ATTRIBUTE,
        default_workflow: str | None = None,
        outcome_attribute: str = OUTCOME_ATTRIBUTE,
        on_error: str = "rejected",
        error_types: Mapping[str, str] | None = None,
        unknown_outcome: str | None = "rejected",
        dimensions: Mapping[str, str] = DEFAULT_DIMENSIONS,
        operations: Collection[str] = AGENT_OPERATIONS,
        select: Callable[[ReadableSpan], bool] | None = None,
        catalog: Catalog | None = None,
        extra_outcomes: Collection[str] = (),
    ) -> None:
        self.recorder = recorder
        self.workflow_attribute = workflow_attribute
        self.default_workflow = default_workflow
        self.outcome_attribute = outcome_attribute
        self.on_error = on_error
        self.error_types = dict(error_types or {})
        self.unknown_outcome = unknown_outcome
        self.dimensions = dict(dimensions)
        self.operations = frozenset(operations)
        self.select = select or self._is_agent_span
        self.catalog = catalog
        self.outcomes = frozenset(DEFAULT_OUTCOMES) | frozenset(extra_outcomes)
        self.recorded = 0
        self.skipped: Counter[str] = Counter()
        self.errors = 0
        self._lock = threading.Lock()
        self._warn_once = WarnOnce(log)
        self._check_configuration()

    def _check_configuration(self) -> None:
        """Mistakes in the configuration are programmer errors: raise now, not per span."""
        known = self.outcomes
        if self.catalog is not None:
            known = frozenset(o for wf in self.catalog.workflows.values() for o in wf.outcomes)
        named = {"on_error": self.on_error, "unknown_outcome": self.unknown_outcome}
        named.update({f"error_types[{k!r}]": v for k, v in self.error_types.items()})
        for where, outcome in named.items():
            if outcome is not None and outcome not in known:
                raise ValueError(f"{where}: unknown outcome {outcome!r} (known: {sorted(known)})")
        catalog = self.catalog
        default = self.default_workflow
        if default is not None and catalog is not None and default not in catalog.workflows:
            raise ValueError(
                f"default_workflow: {self.default_workflow!r} is not a workflow of the "
                f"catalog (known: {sorted(catalog.workflows)})"
            )
        clashes = [d for d, n in Counter(self.dimensions.values()).items() if n > 1]
        if clashes:
            raise ValueError(f"dimensions: several attributes map to {sorted(clashes)}")
        reserved = sorted(set(self.dimensions.values()) & RECORD_ARGUMENTS)
        if reserved:
            raise ValueError(f"dimensions: {reserved} name arguments of record(), not labels")

    # -- the SDK's callbacks -------------------------------------------------------------

    def on_end(self, span: ReadableSpan) -> None:
        """Record the span if it is an agent run; never raises."""
        try:
            if self.select(span):
                self._record(span)
        except Exception as exc:  # noqa: BLE001 - the agent must not fail for its SLO
            with self._lock:
                self.errors += 1
            self._log_once(
                "error", type(exc).__name__, "could not record span %r: %r", span.name, exc
            )

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Deliver what the recorder holds; ``False`` if it could not in time."""
        try:
            return self.recorder.flush(timeout_millis / 1000)
        except Exception as exc:  # noqa: BLE001 - called from the SDK's shutdown hooks
            self._log_once("error", "flush", "could not flush the recorder: %r", exc)
            return False

    def shutdown(self) -> None:
        """Flush the recorder; it is left open, since it may be shared with other code."""
        self.force_flush()

    # -- from span to run ----------------------------------------------------------------

    def _is_agent_span(self, span: ReadableSpan) -> bool:
        return (span.attributes or {}).get(OPERATION_ATTRIBUTE) in self.operations

    def _record(self, span: ReadableSpan) -> None:
        attributes = span.attributes or {}
        workflow = self._workflow(span.name, attributes)
        if workflow is None:
            return
        known = self.outcomes
        declared: Collection[str] | None = None
        if self.catalog is not None:
            spec = self.catalog.workflows[workflow]
            known, declared = frozenset(spec.outcomes), spec.dimensions
        outcome = self._outcome(span, attributes, workflow, known)
        if outcome is None:
            return
        dimensions = self._dimensions(attributes, declared)
        duration = None
        if span.start_time is not None and span.end_time is not None:
            duration = max(0, span.end_time - span.start_time) / 1e9
        context = span.get_span_context()
        run_id = None
        if context is not None and context.is_valid:
            run_id = f"otel-{context.trace_id:032x}-{context.span_id:016x}"
        # Dimensions are keyword arguments beside count, duration and id, whose names they
        # cannot take (refused at construction).
        record: Callable[..., None] = self.recorder.record
        record(workflow, outcome, duration_seconds=duration, id=run_id, **dimensions)
        with self._lock:
            self.recorded += 1

    def _workflow(self, name: str, attributes: Mapping[str, AttributeValue]) -> str | None:
        value = attributes.get(self.workflow_attribute)
        workflow = value if isinstance(value, str) and value else self.default_workflow
        if workflow is None:
            self._skip(
                "missing_workflow",
                "",
                "skipped agent span %r: no %s attribute and no default_workflow",
                name,
                self.workflow_attribute,
            )
            return None
        if self.catalog is not None and workflow not in self.catalog.workflows:
            self._skip(
                "unknown_workflow",
                workflow,
                "skipped agent spans of workflow %r: not in the specs (known: %s)",
                workflow,
                ", ".join(sorted(self.catalog.workflows)),
            )
            return None
        return workflow

    def _outcome(
        self,
        span: ReadableSpan,
        attributes: Mapping[str, AttributeValue],
        workflow: str,
        known: Collection[str],
    ) -> str | None:
        stated = attributes.get(self.outcome_attribute)
        if stated is None:
            if span.status.status_code is not StatusCode.ERROR:
                return "success"
            stated = self.error_types.get(_error_type(span, attributes) or "", self.on_error)
        if isinstance(stated, str) and stated in known:
            return stated
        if self.unknown_outcome is None or self.unknown_outcome not in known:
            self._skip(
                "unknown_outcome",
                f"{workflow}/{stated!r}",
                "skipped runs of %r with outcome %r: not an outcome of the workflow (known: %s)",
                workflow,
                stated,
                ", ".join(sorted(known)),
            )
            return None
        self._log_once(
            "unknown_outcome",
            f"{workflow}/{stated!r}",
            "runs of %r with outcome %r are recorded as %r: not an outcome of the workflow "
            "(known: %s)",
            workflow,
            stated,
            self.unknown_outcome,
            ", ".join(sorted(known)),
        )
        return self.unknown_outcome

    def _dimensions(
        self, attributes: Mapping[str, AttributeValue], declared: Collection[str] | None
    ) -> dict[str, str]:
        out = {}
        for attribute, dimension in self.dimensions.items():
            if attribute not in attributes or (declared is not None and dimension not in declared):
                continue
            value, why_not = label_value(attributes[attribute])
            if value is None:
                self._log_once(
                    "bad_dimension",
                    attribute,
                    "left dimension %r out (exported as unknown): attribute %s holds %r: %s",
                    dimension,
                    attribute,
                    attributes[attribute],
                    why_not,
                )
                continue
            out[dimension] = value
        return out

    # -- telling the user, once ----------------------------------------------------------

    def _skip(self, reason: str, key: str, message: str, *args: object) -> None:
        with self._lock:
            self.skipped[reason] += 1
        self._log_once(reason, key, message, *args)

    def _log_once(self, reason: str, key: str, message: str, *args: object) -> None:
        """Warn the first time a problem is seen; later ones are only counted."""
        self._warn_once((reason, key), message, *args)


def _error_type(span: ReadableSpan, attributes: Mapping[str, AttributeValue]) -> str | None:
    """The failed span's error class: ``error.type``, else its last exception's type."""
    error_type = attributes.get(ERROR_TYPE_ATTRIBUTE)
    if isinstance(error_type, str):
        return error_type
    for event in reversed(span.events):
        exception_type = (event.attributes or {}).get(EXCEPTION_TYPE_ATTRIBUTE)
        if event.name == "exception" and isinstance(exception_type, str):
            return exception_type
    return None


class RecordAgentSpans(Sampler):
    """A sampler that records every agent span, whatever ``sampler`` decides for export.

    Span processors only see recorded spans, so sampling traces would lose runs from the
    error budget. Agent spans (``gen_ai.operation.name`` in ``operations``, given when the
    span starts) that ``sampler`` drops are recorded without being sampled: the processor
    counts them, exporters do not send them. The GenAI conventions ask for the operation
    name at span creation for that reason.
    """

    def __init__(self, sampler: Sampler, operations: Collection[str] = AGENT_OPERATIONS) -> None:
        self.sampler = sampler
        self.operations = frozenset(operations)

    def should_sample(  # noqa: PLR0917 - the SDK's Sampler signature
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        """The wrapped sampler's decision, raised to record-only for a dropped agent span."""
        result = self.sampler.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )
        if (
            result.decision is Decision.DROP
            and (attributes or {}).get(OPERATION_ATTRIBUTE) in self.operations
        ):
            return SamplingResult(Decision.RECORD_ONLY, attributes, result.trace_state)
        return result

    def get_description(self) -> str:
        """The wrapped sampler's description, marked."""
        return f"RecordAgentSpans{{{self.sampler.get_description()}}}"
