"""One agent run as a framework hook sees it unfold, and the recording of its outcome.

The LangChain handler and the Agents SDK processor both learn about a run from events
(start, a tool error, a hand-off, a guardrail, the end or an exception) and record it once
it ends. What they share lives here: which event decides the outcome when several happen
in one run, which outcomes and dimensions a workflow accepts, and a ``record`` call that
never raises into the framework (a broken recorder must not break the agent).
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable, Collection, Hashable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

from exporter.catalog import OTHER, Catalog
from exporter.recorder import Recorder
from exporter.wire import EventError, check_fields
from rulegen.taxonomy import DEFAULT_OUTCOMES

__all__ = ["RECORD_ARGUMENTS", "Mark", "RunRecorder", "WarnOnce", "WatchedRun", "label_value"]

#: The arguments of ``Recorder.record`` that a dimension cannot be named after.
RECORD_ARGUMENTS: Final = frozenset({"workflow", "outcome", "count", "duration_seconds", "id"})
#: How many distinct problems are logged before the rest are only counted.
_MAX_LOGGED: Final = 1_000


class WarnOnce:
    """Warn the first time a problem (by key) is seen; later ones pass silently, and past
    a thousand distinct keys nothing more is logged (a hook must not flood the log)."""

    def __init__(self, log: logging.Logger) -> None:
        self.log = log
        self._lock = threading.Lock()
        self._seen: set[Hashable] = set()

    def __call__(self, key: Hashable, message: str, *args: object) -> None:
        with self._lock:
            if key in self._seen or len(self._seen) >= _MAX_LOGGED:
                return
            self._seen.add(key)
        self.log.warning("agent-slo: " + message, *args)


class Mark(enum.IntEnum):
    """What happened during a run, lowest precedence first: when several happen, the
    highest decides the outcome. A bad event outranks a good one (a run that called a tool
    wrongly and then escalated still called it wrongly), and the specific causes outrank
    the exception that may have followed from them."""

    ESCALATED = 1
    FAILED = 2
    TOOL_ERROR = 3
    GUARDRAIL = 4


@dataclass
class WatchedRun:
    """A run being watched: its id, dimensions, start and what has happened so far."""

    id: str
    dimensions: dict[str, str]
    counted: bool = True
    started: float = field(default_factory=time.monotonic)
    marks: dict[Mark, str] = field(default_factory=dict)

    def mark(self, mark: Mark, outcome: str | None) -> None:
        """Note that ``mark`` happened; ``None`` (an event configured away) notes nothing.
        The first outcome of a kind stays."""
        if outcome is not None:
            self.marks.setdefault(mark, outcome)

    def outcome(self, success: str) -> str:
        """The outcome of the highest mark, or ``success``."""
        return self.marks[max(self.marks)] if self.marks else success


class RunRecorder:
    """Records the finished runs of one workflow through any :class:`Recorder`.

    ``catalog`` (from :func:`exporter.catalog.load_catalog` over the exporter's specs)
    checks the configured outcomes and dimensions against the workflow's own; without it,
    outcomes are checked against the default taxonomy plus ``extra_outcomes``.
    ``recorded`` counts the runs recorded and ``errors`` the failures kept from the
    framework (each kind logged once).
    """

    def __init__(
        self,
        recorder: Recorder,
        workflow: str,
        *,
        catalog: Catalog | None,
        extra_outcomes: Collection[str],
        log: logging.Logger,
    ) -> None:
        self.recorder = recorder
        self.workflow = workflow
        self.log = log
        self.outcomes = frozenset(DEFAULT_OUTCOMES) | frozenset(extra_outcomes)
        self.declared: frozenset[str] | None = None
        if catalog is not None:
            spec = catalog.workflows.get(workflow)
            if spec is None:
                known = sorted(catalog.workflows)
                raise ValueError(f"workflow {workflow!r} is not in the catalog (known: {known})")
            self.outcomes, self.declared = frozenset(spec.outcomes), frozenset(spec.dimensions)
        self.recorded = 0
        self.errors = 0
        self._lock = threading.Lock()
        #: Warn the first time a problem is seen; later ones pass silently.
        self.warn_once = WarnOnce(log)

    # -- configuration: programmer errors, raised at construction ------------------------

    def check(
        self,
        outcomes: Mapping[str, str | None],
        errors: Mapping[str, str],
        dimensions: Collection[str | None],
    ) -> None:
        """Raise ``ValueError`` for the first configured outcome the workflow does not
        accept (``outcomes`` maps each argument to its outcome, ``errors`` each error to
        its outcome), or a dimension name ``record()`` cannot take or (with a catalog) the
        workflow does not declare; ``None`` stands for an event or dimension left out."""
        named = dict(outcomes) | {f"errors[{k!r}]": v for k, v in errors.items()}
        for where, outcome in named.items():
            if outcome is not None and outcome not in self.outcomes:
                raise ValueError(
                    f"{where}: {outcome!r} is not an outcome of workflow {self.workflow!r} "
                    f"(known: {sorted(self.outcomes)})"
                )
        names = {d for d in dimensions if d is not None}
        reserved = sorted(names & RECORD_ARGUMENTS)
        if reserved:
            raise ValueError(f"dimensions: {reserved} name arguments of record(), not labels")
        if self.declared is not None and not names <= self.declared:
            raise ValueError(
                f"dimensions: {sorted(names - self.declared)} not declared by workflow "
                f"{self.workflow!r} (declared: {sorted(self.declared)})"
            )

    # -- recording -----------------------------------------------------------------------

    def label(self, dimension: str, value: object) -> str | None:
        """``value`` as a label value the exporter accepts, or ``None`` (logged once): a
        value it would refuse would lose the whole run, so it is left out instead and the
        run counts under ``unknown``."""
        text, why_not = label_value(value)
        if text is None:
            self.warn_once(
                f"value:{dimension}",
                "left dimension %r out (exported as unknown): %r is no label value: %s",
                dimension,
                value,
                why_not,
            )
        return text

    def dimensions(
        self, given: Mapping[str, str], renamed: Mapping[str, str], source: Mapping[str, Any]
    ) -> dict[str, str]:
        """A run's first dimensions: ``given``, and the keys of ``source`` (the run's
        metadata) that ``renamed`` maps to dimension names."""
        out = dict(given)
        for key, dimension in renamed.items():
            if key in source:
                value = self.label(dimension, source[key])
                if value is not None:
                    out[dimension] = value
        return out

    def finish(self, run: WatchedRun, success: str) -> None:
        """Record ``run`` with its outcome and duration; failures are logged, never raised."""
        if not run.counted:
            return
        # Dimensions are keyword arguments beside count, duration and id, whose names they
        # cannot take (refused at construction).
        record: Callable[..., None] = self.recorder.record
        with self.shielded("record"):
            record(
                self.workflow,
                run.outcome(success),
                duration_seconds=max(0.0, time.monotonic() - run.started),
                id=run.id,
                **run.dimensions,
            )
            with self._lock:
                self.recorded += 1

    def flush(self, timeout: float | None) -> bool:
        """Deliver what the recorder holds; ``False`` if it could not (in time)."""
        with self.shielded("flush"):
            return self.recorder.flush(timeout)
        return False

    @contextmanager
    def shielded(self, where: str) -> Iterator[None]:
        """Run a hook's body; an exception is counted in ``errors`` and logged once per
        kind instead of reaching the framework."""
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - the agent must not fail for its SLO
            with self._lock:
                self.errors += 1
            self.warn_once(
                f"{where}:{type(exc).__name__}",
                "could not %s a run of %r: %r",
                where,
                self.workflow,
                exc,
            )


def label_value(value: object) -> tuple[str | None, str]:
    """``value`` (a string, number or boolean) as a label value the exporter accepts,
    checked by the exporter's own rules; else ``None`` and the reason."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str | int | float):
        text = str(value)
    elif isinstance(value, list | tuple):
        return None, "a list, which no one label value stands for"
    else:
        return None, f"{type(value).__name__} is not a string, number or boolean"
    if text == OTHER:
        return None, f"{OTHER!r} is reserved by the exporter"
    try:
        check_fields({"workflow": "-", "outcome": "-", "dimensions": {"value": text}})
    except EventError as exc:
        return None, exc.reason
    return text, ""
