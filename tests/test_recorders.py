"""The three recorders (the exporter's client, the in-process recorder and the fake for
tests) offer the same calls, with the same signatures, so agent code runs with any."""

from __future__ import annotations

import inspect

import pytest
from prometheus_client import CollectorRegistry

from exporter.client import OutcomeClient
from exporter.inprocess import InProcessRecorder
from exporter.recorder import Recorder
from exporter.testing import FakeRecorder

METHODS = ("record", "run", "timed", "flush", "close")
RECORDERS = (OutcomeClient, InProcessRecorder, FakeRecorder)


def _signature(cls: type, name: str) -> list[tuple[str, object, object]]:
    parameters = inspect.signature(getattr(cls, name)).parameters.values()
    return [(p.name, p.kind, p.default) for p in parameters]


@pytest.mark.parametrize("cls", RECORDERS, ids=lambda c: c.__name__)
def test_every_recorder_has_the_protocols_calls(cls: type) -> None:
    for name in METHODS:
        assert _signature(cls, name) == _signature(Recorder, name), name


def test_every_recorder_is_a_recorder() -> None:
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


@pytest.mark.parametrize(
    "make",
    [lambda: InProcessRecorder(CollectorRegistry(), dimensions=("model",)), FakeRecorder],
    ids=["in-process", "fake"],
)
def test_timed_keeps_the_functions_name_and_records_its_outcome(make: type) -> None:
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
    registry = CollectorRegistry()
    recorder = InProcessRecorder(registry, dimensions=("model",), remember_ids=2)
    for run_id in ("a", "a", "b", "a", "c", "a"):
        recorder.record("triage", "success", id=run_id, model="m")
    labels = {"workflow": "triage", "outcome": "success", "model": "m"}
    # a, b, c counted; the fourth "a" is a repeat; the last one comes after "a" was
    # forgotten (only the last 2 ids are kept), so it counts again.
    assert registry.get_sample_value("agent_outcomes_total", labels) == 4
