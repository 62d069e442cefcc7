"""The agents' client, the in-process recorder and the fake, against a real exporter."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from exporters import TRIAGE, catalog_of, serving
from prometheus_client import CollectorRegistry

from exporter.catalog import Catalog
from exporter.client import EventError, OutcomeClient, OutcomeError
from exporter.inprocess import InProcessRecorder
from exporter.server import Limits, Security, make_server
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

    def counters(self) -> dict[tuple[str, str, tuple[tuple[str, str], ...]], int]:
        assert self.store is not None
        return {k: v for k, v in self.store.snapshot().counters.items() if v}

    def rejected(self) -> dict[str, float]:
        """agent_slo_exporter_rejected_events_total by reason, as /metrics serves it."""
        with urllib.request.urlopen(self.url + "/metrics", timeout=10) as response:
            text = response.read().decode()
        prefix = 'agent_slo_exporter_rejected_events_total{reason="'
        return {
            line[len(prefix) :].split('"', 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(prefix)
        }

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


#: Seven events queued together: four good ones between three that only the exporter's
#: catalog can refuse (an unknown workflow, an unknown outcome, an undeclared dimension).
MIXED: list[tuple[str, str, dict[str, str]]] = [
    ("triage", "success", {"model": "m1"}),
    ("ghost", "success", {}),
    ("triage", "rejected", {"model": "m1"}),
    ("triage", "bogus", {}),
    ("triage", "success", {"model": "m1"}),
    ("triage", "success", {"region": "eu"}),
    ("triage", "escalated", {}),
]


def _queue_mixed(client: OutcomeClient) -> None:
    for workflow, outcome, dimensions in MIXED:
        client.record(workflow, outcome, **dimensions)


def test_a_bad_event_costs_only_itself(exporter: Running, caplog: pytest.LogCaptureFixture) -> None:
    """Four good and three bad events sent in one batch: the four are counted, the three
    refused with their reasons, and the exporter's counters say exactly that."""
    caplog.set_level(logging.INFO, "agent_slo.exporter")
    client = OutcomeClient(exporter.url, flush_interval=60)  # one batch, sent by flush()
    _queue_mixed(client)
    assert client.flush(10)
    client.close()
    assert exporter.counters() == {
        ("triage", "success", (("model", "m1"),)): 2,
        ("triage", "rejected", (("model", "m1"),)): 1,
        ("triage", "escalated", (("model", "unknown"),)): 1,
    }
    assert (client.sent, client.refused, client.dropped) == (4, 3, 0)
    assert [(r.workflow, r.outcome, r.field, r.kind) for r in client.refusals] == [
        ("ghost", "success", "workflow", "unknown_workflow"),
        ("triage", "bogus", "outcome", "unknown_outcome"),
        ("triage", "success", "dimensions.region", "undeclared_dimension"),
    ]
    assert "unknown outcome 'bogus'" in client.refusals[1].reason
    assert exporter.rejected() == {
        "unknown_workflow": 1.0,
        "unknown_outcome": 1.0,
        "undeclared_dimension": 1.0,
    }
    # One request: the exporter names each refused event by its place in that batch.
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("refused")]
    assert lines == [
        "refused 400 unknown_workflow at events[1].workflow from 127.0.0.1 (1 event)",
        "refused 400 unknown_outcome at events[3].outcome from 127.0.0.1 (1 event)",
        "refused 400 undeclared_dimension at events[5].dimensions.region from 127.0.0.1 (1 event)",
    ]


class _AllOrNothingClient(OutcomeClient):
    """The client as exporters from before ``?partial=1`` answer it: a batch with a bad
    event is refused whole."""

    _QUERY = ""


def test_a_batch_refused_whole_is_narrowed_to_its_bad_events(exporter: Running) -> None:
    """When the exporter refuses a batch whole, naming its first bad event, the client
    refuses that one and sends the rest again, until the good four are counted once each."""
    client = _AllOrNothingClient(exporter.url, flush_interval=60)
    _queue_mixed(client)
    assert client.flush(10)
    client.close()
    assert sum(exporter.counters().values()) == 4
    assert (client.sent, client.refused) == (4, 3)
    assert [r.kind for r in client.refusals] == [
        "unknown_workflow",
        "unknown_outcome",
        "undeclared_dimension",
    ]
    # Whole-batch refusals count every event of each refused request: 7, then 6, then 5.
    assert exporter.rejected() == {
        "unknown_workflow": 7.0,
        "unknown_outcome": 6.0,
        "undeclared_dimension": 5.0,
    }


def test_strict_mode_raises_a_bad_event_at_record(exporter: Running) -> None:
    """A mistake the rules catch without the specs raises at the record() call that made
    it, naming the field; nothing of it is queued."""
    client = OutcomeClient(exporter.url, strict=True)
    with pytest.raises(EventError, match="count: must be between 1 and 1000000") as caught:
        client.record("triage", "success", count=0)
    assert (caught.value.field, caught.value.kind) == ("count", "bad_count")
    with pytest.raises(EventError, match=r"dimensions\.model: must not contain quotes"):
        client.record("triage", "success", model='say "hi"')
    with pytest.raises(ValueError, match="outcome: must not be empty"):
        client.record("triage", "")
    client.record("triage", "success")
    assert client.flush(10)
    client.close()
    assert exporter.total() == 1
    assert client.refused == 3


def test_by_default_a_bad_event_is_logged_at_record(
    exporter: Running, caplog: pytest.LogCaptureFixture
) -> None:
    """Without strict, a bad event is logged with its reason and listed, never raised nor
    sent; the good events around it go."""
    caplog.set_level(logging.WARNING, "agent_slo.recorder")
    client = OutcomeClient(exporter.url)
    client.record("triage", "success", duration_seconds=-1.0)
    client.record("triage", "success")
    assert [r.getMessage() for r in caplog.records] == [
        "agent-slo: event not counted: triage/success: bad_duration at duration_seconds: "
        "must be between 0 and 2592000 seconds, got -1.0"
    ]
    assert client.flush(10)
    client.close()
    assert (exporter.total(), client.sent, client.refused) == (1, 1, 1)


def test_asyncio_agents_record_without_a_thread_per_call(exporter: Running) -> None:
    """From a coroutine: record(), arun() and atimed() on 200 concurrent tasks, then
    aclose(); every run is counted and no thread was started for any of them."""

    async def main() -> None:
        async with OutcomeClient(exporter.url, strict=True) as client:
            threads = set(threading.enumerate())

            @client.atimed("triage", on_error="timeout", model="m2")
            async def handle(i: int) -> int:
                await asyncio.sleep(0)
                if i % 4 == 0:
                    raise TimeoutError
                return i

            async def one(i: int) -> None:
                async with client.arun("triage", model="m1") as run:
                    await asyncio.sleep(0)
                    if i % 2:
                        run.outcome = "escalated"
                with contextlib.suppress(TimeoutError):
                    await handle(i)
                client.record("triage", "rejected", model="m3")

            await asyncio.gather(*(one(i) for i in range(200)))
            # The exporter under test runs in this process: its two parse workers may start.
            new = {t.name for t in set(threading.enumerate()) - threads}
            assert new <= {"agent-slo-work_0", "agent-slo-work_1"}

    asyncio.run(main())
    assert exporter.counters() == {
        ("triage", "success", (("model", "m1"),)): 100,
        ("triage", "escalated", (("model", "m1"),)): 100,
        ("triage", "success", (("model", "m2"),)): 150,
        ("triage", "timeout", (("model", "m2"),)): 50,
        ("triage", "rejected", (("model", "m3"),)): 200,
    }


def test_aflush_leaves_the_event_loop_free() -> None:
    """While aflush() waits for an exporter that is not there, other tasks run; it
    returns False at its timeout."""

    async def main() -> tuple[bool, int]:
        client = OutcomeClient(f"http://127.0.0.1:{_free_port()}", max_retries=50)
        client.record("triage", "success")
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        ticker = asyncio.create_task(tick())
        flushed = await client.aflush(timeout=0.3)
        ticker.cancel()
        await client.aclose(timeout=0.1)
        return flushed, ticks

    flushed, ticks = asyncio.run(main())
    assert flushed is False
    assert ticks > 1


def test_a_refusal_of_every_event_is_one_line_and_raised_in_strict_mode(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A wrong token refuses the whole batch: each event is counted as refused, the log
    holds one line for them all, and a strict flush() raises the exporter's reason."""
    caplog.set_level(logging.WARNING, "agent_slo")
    store = Store(tmp_path / "state.db", _catalog())
    with serving(store, security=Security({"s3cret": None})) as url:
        client = OutcomeClient(url, token="wrong", strict=True, flush_interval=60)  # noqa: S106
        for _ in range(5):
            client.record("triage", "success")
        with pytest.raises(OutcomeError, match=r"refused 5 event\(s\) with HTTP 401"):
            client.flush(10)
        client.close()
    store.close()
    assert (client.refused, client.sent) == (5, 0)
    assert {r.kind for r in client.refusals} == {"unauthorized"}
    # ("exporter refused": a client of an earlier test may still log "Connection refused")
    assert [r.getMessage() for r in caplog.records if "exporter refused" in r.getMessage()] == [
        "agent-slo: exporter refused 5 event(s) with HTTP 401 (unauthorized): "
        "a valid bearer token is required"
    ]


def test_a_batch_too_large_for_the_exporter_is_halved_until_it_fits(tmp_path: Path) -> None:
    """An exporter that takes at most 2,000 bytes a request (413 beyond) gets the 60 queued
    events (about 100 bytes each) in halves of halves: all 60 counted once, none refused."""
    store = Store(tmp_path / "state.db", _catalog())
    with serving(store, limits=Limits(max_body_bytes=2_000)) as url:
        client = OutcomeClient(url, flush_interval=60)  # one batch of 60, sent by flush()
        for i in range(60):
            client.record("triage", "success", model=f"m{i % 2}")
        assert client.flush(10)
        client.close()
    assert sum(store.snapshot().counters.values()) == 60
    store.close()
    assert (client.sent, client.refused, client.dropped) == (60, 0, 0)
