"""The agents' client, the in-process recorder and the fake, against a real exporter."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from exporters import TRIAGE, catalog_of
from prometheus_client import CollectorRegistry

from exporter.catalog import Catalog
from exporter.client import OutcomeClient, OutcomeError
from exporter.inprocess import InProcessRecorder
from exporter.server import make_server
from exporter.store import Store
from exporter.testing import FakeRecorder


def _catalog() -> Catalog:
    return catalog_of(TRIAGE)


class Running:
    """An exporter on a fixed loopback port that can be started late or restarted."""

    def __init__(self, tmp_path: Path, port: int) -> None:
        self.tmp_path = tmp_path
        self.port = port
        self.store: Store | None = None
        self._server: object = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.store = Store(self.tmp_path / "state.db", _catalog())
        server = make_server(self.store, "127.0.0.1", self.port)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        server = self._server
        if server is not None:
            server.shutdown()  # type: ignore[attr-defined]
            server.server_close()  # type: ignore[attr-defined]
            assert self._thread is not None
            self._thread.join()
            self._server = None
        if self.store is not None:
            self.store.close()
            self.store = None

    def total(self) -> int:
        assert self.store is not None
        return sum(self.store.snapshot().counters.values())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def exporter(tmp_path: Path) -> Iterator[Running]:
    """A running exporter."""
    running = Running(tmp_path, _free_port())
    running.start()
    yield running
    running.stop()


def test_records_in_batches(exporter: Running) -> None:
    """Thousands of record() calls arrive, batched, after flush()."""
    with OutcomeClient(exporter.url, batch_size=200, strict=True) as client:
        for i in range(2_000):
            client.record("triage", "success" if i % 10 else "rejected", model=f"m{i % 3}")
        assert client.flush(10)
    assert exporter.total() == 2_000
    assert client.sent == 2_000


def test_retries_until_the_exporter_is_back(tmp_path: Path) -> None:
    """Events recorded while the exporter is down are delivered once it starts, once each."""
    running = Running(tmp_path, _free_port())
    client = OutcomeClient(running.url, batch_size=50, flush_interval=0.05, max_retries=20)
    try:
        for _ in range(120):
            client.record("triage", "success")
        time.sleep(0.3)
        running.start()
        assert client.flush(20)
        assert running.total() == 120
    finally:
        client.close()
        running.stop()


def test_never_raises_by_default(exporter: Running) -> None:
    """A refused event is logged and counted, not raised into the agent."""
    client = OutcomeClient(exporter.url)
    client.record("ghost", "success")
    assert client.flush(10)
    assert client.refused == 1
    client.close()


def test_strict_mode_raises(exporter: Running) -> None:
    """In strict mode, flush() raises the exporter's reason for a refused event."""
    client = OutcomeClient(exporter.url, strict=True)
    client.record("triage", "ghost")
    with pytest.raises(OutcomeError, match="unknown outcome 'ghost'"):
        client.flush(10)
    client.close()


def test_memory_is_bounded() -> None:
    """With nowhere to send, the queue keeps the newest events and counts the dropped ones."""
    client = OutcomeClient(
        f"http://127.0.0.1:{_free_port()}", max_queue=100, flush_interval=60, batch_size=10_000
    )
    for _ in range(1_000):
        client.record("triage", "success")
    assert client.dropped == 900
    client.close(timeout=0.5)


def test_run_times_and_maps_exceptions(exporter: Running) -> None:
    """run() records the outcome set in the block, or on_error when the block raises."""
    with OutcomeClient(exporter.url, strict=True) as client:
        with client.run("triage", model="m1") as run:
            run.outcome = "escalated"
        with pytest.raises(TimeoutError), client.run("triage", on_error="timeout"):
            raise TimeoutError

        @client.timed("triage", on_error="rejected")
        def handle(ok: bool) -> str:
            if not ok:
                raise ValueError("bad ticket")
            return "done"

        assert handle(True) == "done"
        with pytest.raises(ValueError, match="bad ticket"):
            handle(False)
        assert client.flush(10)
    assert exporter.store is not None
    counters = {k: v for k, v in exporter.store.snapshot().counters.items() if v}
    assert counters == {
        ("triage", "escalated", (("model", "m1"),)): 1,
        ("triage", "timeout", (("model", "unknown"),)): 1,
        ("triage", "success", (("model", "unknown"),)): 1,
        ("triage", "rejected", (("model", "unknown"),)): 1,
    }
    hist = exporter.store.snapshot().histograms[("triage", (("model", "unknown"),))]
    assert hist.count == 3


def test_in_process_recorder_uses_the_same_names() -> None:
    """The in-process recorder exposes agent_outcomes_total and the duration histogram."""
    registry = CollectorRegistry()
    recorder = InProcessRecorder(registry, dimensions=("model",), buckets=(1, 30))
    recorder.record("triage", "success", model="m1", count=3)
    with recorder.run("triage") as run:
        run.outcome = "rejected"
    value = registry.get_sample_value(
        "agent_outcomes_total", {"workflow": "triage", "outcome": "success", "model": "m1"}
    )
    assert value == 3
    assert (
        registry.get_sample_value(
            "agent_run_duration_seconds_count", {"workflow": "triage", "model": "unknown"}
        )
        == 1
    )
    with pytest.raises(ValueError, match="undeclared dimension"):
        recorder.record("triage", "success", region="eu")


def test_fake_recorder_remembers() -> None:
    """The fake records outcomes in order for users' own tests."""
    fake = FakeRecorder()
    fake.record("triage", "success", model="m1")
    with pytest.raises(KeyError), fake.run("triage", on_error="recovery_failure"):
        raise KeyError
    assert fake.outcomes("triage") == ["success", "recovery_failure"]
    assert fake.events[0].dimensions == {"model": "m1"}
