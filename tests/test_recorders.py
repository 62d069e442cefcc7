"""The three recorders (the exporter's client, the in-process recorder and the fake for
tests) offer the same calls, with the same signatures, and keep the same promises, so agent
code runs with any: events are checked with the exporter's rules at ``record()``, a bad one
is never counted (raised when strict, listed otherwise), and runs are timed from threads or
from ``asyncio`` alike."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from exporters import TRIAGE, catalog_of, serving
from prometheus_client import CollectorRegistry

from exporter.client import OutcomeClient
from exporter.inprocess import InProcessRecorder
from exporter.recorder import Recorder, RecorderBase
from exporter.store import Store
from exporter.testing import FakeRecorder
from exporter.wire import EventError

METHODS = ("record", "run", "timed", "arun", "atimed", "flush", "close", "aflush", "aclose")
ASYNC = ("aflush", "aclose")
RECORDERS = (OutcomeClient, InProcessRecorder, FakeRecorder)


def _signature(cls: type, name: str) -> list[tuple[str, object, object]]:
    parameters = inspect.signature(getattr(cls, name)).parameters.values()
    return [(p.name, p.kind, p.default) for p in parameters]


@pytest.mark.parametrize("cls", RECORDERS, ids=lambda c: c.__name__)
def test_every_recorder_has_the_protocols_calls(cls: type) -> None:
    """Each recorder's calls have the protocol's parameters, names, kinds and defaults."""
    for name in METHODS:
        assert _signature(cls, name) == _signature(Recorder, name), name
        assert inspect.iscoroutinefunction(getattr(cls, name)) == (name in ASYNC), name


def test_every_recorder_is_a_recorder() -> None:
    """isinstance(..., Recorder) holds for the three."""
    client = OutcomeClient("http://127.0.0.1:9", flush_interval=0.01, max_retries=0)
    try:
        for recorder in (
            client,
            InProcessRecorder(CollectorRegistry(), dimensions=("model",)),
            FakeRecorder(),
        ):
            assert isinstance(recorder, Recorder)
    finally:
        client.close(timeout=1)


@dataclass
class Made:
    """A recorder under test and how many runs it has counted so far."""

    recorder: RecorderBase
    counted: Callable[[], float]


@pytest.fixture
def url(tmp_path: Path) -> Iterator[tuple[str, Store]]:
    """A real exporter for the client: its URL and store."""
    store = Store(tmp_path / "state.db", catalog_of(TRIAGE))
    with serving(store) as base:
        yield base, store
    store.close()


def _make(kind: str, exporter: tuple[str, Store], *, strict: bool) -> Made:
    if kind == "client":
        base, store = exporter
        client = OutcomeClient(base, strict=strict)

        def sent() -> float:
            assert client.flush(10)
            return sum(store.snapshot().counters.values())

        return Made(client, sent)
    if kind == "in-process":
        registry = CollectorRegistry()
        recorder = InProcessRecorder(registry, dimensions=("model",), strict=strict)

        def counted() -> float:
            return sum(
                s.value
                for m in registry.collect()
                for s in m.samples
                if s.name == "agent_outcomes_total"
            )

        return Made(recorder, counted)
    fake = FakeRecorder(strict=strict)
    return Made(fake, lambda: sum(e.count for e in fake.events))


KINDS = ("client", "in-process", "fake")

#: Events every recorder refuses before anything is queued or counted: the arguments of
#: record(), then the field and reason code the exporter would have answered.
OK: dict[str, object] = {"workflow": "triage", "outcome": "success"}
BAD: list[tuple[dict[str, object], str, str]] = [
    ({**OK, "count": 0}, "count", "bad_count"),
    ({**OK, "count": 2.5}, "count", "bad_count"),
    ({**OK, "count": "3"}, "count", "bad_type"),
    ({**OK, "duration_seconds": float("nan")}, "duration_seconds", "bad_duration"),
    ({**OK, "outcome": ""}, "outcome", "bad_value"),
    ({**OK, "workflow": "t" * 129}, "workflow", "bad_value"),
    ({**OK, "model": "a\nb"}, "dimensions.model", "bad_value"),
    ({**OK, "model": 7}, "dimensions.model", "bad_type"),
    ({**OK, "model": "x\udc80"}, "dimensions.model", "bad_value"),
    ({**OK, "id": "i" * 201}, "id", "bad_value"),
]


@pytest.mark.parametrize("kind", KINDS)
def test_a_strict_recorder_raises_the_exporters_reason_at_record(
    kind: str, url: tuple[str, Store]
) -> None:
    """Strict, each bad event raises EventError (a ValueError) naming the field and the
    reason code the exporter would give; only the good event after them is counted."""
    made = _make(kind, url, strict=True)
    for arguments, field, reason in BAD:
        with pytest.raises(EventError) as caught:
            made.recorder.record(**arguments)  # type: ignore[arg-type]
        assert (caught.value.field, caught.value.kind) == (field, reason), arguments
    made.recorder.record("triage", "success", model="m1")
    assert made.counted() == 1
    assert made.recorder.refused == len(BAD)
    made.recorder.close()


@pytest.mark.parametrize("kind", KINDS)
def test_a_lenient_recorder_lists_a_bad_event_and_goes_on(
    kind: str, url: tuple[str, Store], caplog: pytest.LogCaptureFixture
) -> None:
    """Not strict, each bad event is logged, listed in refusals and passed to on_refused,
    never raised nor counted."""
    made = _make(kind, url, strict=False)
    seen: list[str] = []
    made.recorder.on_refused = lambda refusal: seen.append(refusal.field)
    for arguments, _, _ in BAD:
        made.recorder.record(**arguments)  # type: ignore[arg-type]
    made.recorder.record("triage", "success", count=2)
    assert made.counted() == 2
    assert [(r.field, r.kind) for r in made.recorder.refusals] == [(f, k) for _, f, k in BAD]
    assert seen == [f for _, f, _ in BAD]
    warnings = [r for r in caplog.records if r.name == "agent_slo.recorder"]
    assert len(warnings) == len(BAD)
    made.recorder.close()


@pytest.mark.parametrize("kind", KINDS)
def test_runs_are_timed_from_asyncio(kind: str, url: tuple[str, Store]) -> None:
    """arun() and atimed() record from coroutines as run() and timed() do from threads,
    on_error when the block raises or its task is cancelled; aclose() delivers."""
    made = _make(kind, url, strict=True)
    recorder = made.recorder

    @recorder.atimed("triage", on_error="timeout", model="m1")
    async def handle(ok: bool) -> str:
        """Handle a ticket."""
        await asyncio.sleep(0)
        if not ok:
            raise RuntimeError("boom")
        return "done"

    async def main() -> None:
        assert await handle(True) == "done"
        with pytest.raises(RuntimeError):
            await handle(False)
        async with recorder.arun("triage", model="m1") as run:
            run.outcome = "escalated"
        stuck = asyncio.Event()

        async def forever() -> None:
            async with recorder.arun("triage", on_error="timeout"):
                stuck.set()
                await asyncio.Event().wait()

        task = asyncio.create_task(forever())
        await stuck.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await recorder.aflush(10) is True
        await recorder.aclose()

    asyncio.run(main())
    assert (handle.__name__, handle.__doc__) == ("handle", "Handle a ticket.")
    assert made.counted() == 4


@pytest.mark.parametrize(
    "make",
    [lambda: InProcessRecorder(CollectorRegistry(), dimensions=("model",)), FakeRecorder],
    ids=["in-process", "fake"],
)
def test_timed_keeps_the_functions_name_and_records_its_outcome(make: type) -> None:
    """timed() wraps the function without hiding its name or docstring."""
    recorder = make()

    @recorder.timed("triage", on_error="timeout", model="m")
    def handle(ok: bool) -> str:
        """Handle a ticket."""
        if not ok:
            raise RuntimeError("boom")
        return "done"

    assert (handle.__name__, handle.__doc__) == ("handle", "Handle a ticket.")
    assert handle(True) == "done"
    with pytest.raises(RuntimeError):
        handle(False)
    assert recorder.flush() is True


def test_the_in_process_recorder_counts_an_id_once() -> None:
    """Ids seen among the last remember_ids count once."""
    registry = CollectorRegistry()
    recorder = InProcessRecorder(registry, dimensions=("model",), remember_ids=2)
    for run_id in ("a", "a", "b", "a", "c", "a"):
        recorder.record("triage", "success", id=run_id, model="m")
    labels = {"workflow": "triage", "outcome": "success", "model": "m"}
    # a, b, c counted; the fourth "a" is a repeat; the last one comes after "a" was
    # forgotten (only the last 2 ids are kept), so it counts again.
    assert registry.get_sample_value("agent_outcomes_total", labels) == 4
