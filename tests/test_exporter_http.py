"""The exporter over real HTTP on loopback: events in, metrics out, bad input refused whole."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from click.testing import CliRunner
from exporters import catalog_of, serving

from agent_slo.cli import main
from exporter import server
from exporter.catalog import Catalog
from exporter.events import Event
from exporter.http import Response
from exporter.server import Limits, RefusalLog, Security, _Commits
from exporter.store import Applied, BatchError, Store, StoreError, Submission

SPEC = """\
apiVersion: agent-slo/v1
workflow: triage
outcomes: {wrong_queue: bad}
dimensions:
  model: {max_values: 3, values: [model-a]}
slos:
  - name: triage-success
    sli: {outcomes: {}}
  - name: triage-latency
    sli: {latency: {threshold: 30s}}
---
apiVersion: agent-slo/v1
workflow: payments
slos:
  - name: payments-success
    sli: {outcomes: {}}
"""


def _catalog() -> Catalog:
    return catalog_of(SPEC)


@dataclass
class Exporter:
    """A running exporter and helpers to talk to it."""

    url: str
    store: Store

    def post(
        self, body: bytes | str | Any, headers: dict[str, str] | None = None, query: str = ""
    ) -> tuple[int, Any]:
        data = (
            body
            if isinstance(body, bytes)
            else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
        )
        request = urllib.request.Request(
            self.url + "/v1/outcomes" + query,
            data=data,
            headers={"Content-Type": "application/json", **(headers or {})},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, json.loads(exc.read() or b"{}")

    def metrics(self, accept: str = "", auth: str | None = None) -> tuple[str, str]:
        headers = {"Accept": accept} if accept else {}
        if auth:
            headers["Authorization"] = auth
        request = urllib.request.Request(self.url + "/metrics", headers=headers)
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.headers["Content-Type"], response.read().decode()

    def counters(self) -> dict[Any, int]:
        return {k: v for k, v in self.store.snapshot().counters.items() if v}


def _start(tmp_path: Path, **kwargs: Any) -> Iterator[Exporter]:
    store = Store(tmp_path / "state.db", _catalog())
    try:
        with serving(store, **kwargs) as url:
            yield Exporter(url, store)
    finally:
        store.close()


@pytest.fixture
def exporter(tmp_path: Path) -> Iterator[Exporter]:
    """An exporter with open writes."""
    yield from _start(tmp_path, limits=Limits(max_body_bytes=64 * 1024, request_timeout=1.0))


EVENT = {"workflow": "triage", "outcome": "rejected", "dimensions": {"model": "model-a"}}
KEY = ("triage", "rejected", (("model", "model-a"),))


def test_one_event_is_counted(exporter: Exporter) -> None:
    """A valid event is acknowledged and counted once."""
    assert exporter.post(EVENT) == (200, {"accepted": 1, "duplicates": 0, "folded": 0})
    assert exporter.counters() == {KEY: 1}


def test_missing_dimension_is_unknown_and_count_applies(exporter: Exporter) -> None:
    """A declared dimension left out is exported as `unknown`; count adds that many runs."""
    assert exporter.post({"workflow": "triage", "outcome": "success", "count": 5})[0] == 200
    assert exporter.counters() == {("triage", "success", (("model", "unknown"),)): 5}


def test_batch_is_all_or_nothing(exporter: Exporter) -> None:
    """One bad event refuses the whole batch, naming it; the good ones are not counted."""
    status, reply = exporter.post([EVENT, EVENT, {**EVENT, "outcome": "nope"}])
    assert status == 400
    assert reply["field"] == "events[2].outcome"
    assert exporter.counters() == {}
    _, text = exporter.metrics()
    assert 'agent_slo_exporter_rejected_events_total{reason="unknown_outcome"} 3.0' in text
    assert exporter.post([EVENT, EVENT])[0] == 200
    assert exporter.counters() == {KEY: 2}


def _rejected(exporter: Exporter) -> dict[str, str]:
    """agent_slo_exporter_rejected_events_total by reason, as /metrics serves it."""
    prefix = 'agent_slo_exporter_rejected_events_total{reason="'
    _, text = exporter.metrics()
    return {
        line[len(prefix) :].split('"', 1)[0]: line.rsplit(" ", 1)[1]
        for line in text.splitlines()
        if line.startswith(prefix)
    }


def test_a_partial_batch_counts_its_good_events_and_names_each_bad_one(
    exporter: Exporter, caplog: pytest.LogCaptureFixture
) -> None:
    """With ?partial=1, the valid events of a batch are counted and each invalid one is
    refused alone: listed with its index, field and reason, counted once by reason, logged
    once."""
    caplog.set_level(logging.INFO, "agent_slo.exporter")
    batch = [
        EVENT,
        {**EVENT, "outcome": "nope"},
        {**EVENT, "count": 3},
        {"workflow": "ghost", "outcome": "success"},
        {**EVENT, "count": 0},
    ]
    status, reply = exporter.post(batch, query="?partial=1")
    assert status == 200
    assert [(r["index"], r["field"], r["reason"]) for r in reply.pop("refused")] == [
        (1, "events[1].outcome", "unknown_outcome"),
        (3, "events[3].workflow", "unknown_workflow"),
        (4, "events[4].count", "bad_count"),
    ]
    assert reply == {"accepted": 2, "duplicates": 0, "folded": 0}
    assert exporter.counters() == {KEY: 4}
    assert _rejected(exporter) == {
        "unknown_outcome": "1.0",
        "unknown_workflow": "1.0",
        "bad_count": "1.0",
    }
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("refused")]
    assert lines == [
        "refused 400 unknown_outcome at events[1].outcome from 127.0.0.1 (1 event)",
        "refused 400 unknown_workflow at events[3].workflow from 127.0.0.1 (1 event)",
        "refused 400 bad_count at events[4].count from 127.0.0.1 (1 event)",
    ]


def test_a_partial_batch_of_bad_events_only_is_answered_event_by_event(
    exporter: Exporter,
) -> None:
    """A ?partial=1 batch whose events are all refused gets 200 with every one named; a
    body that is no batch at all is still refused whole, as without ?partial=1."""
    bad = {**EVENT, "outcome": "nope"}
    status, reply = exporter.post([bad, bad], query="?partial=true")
    assert (status, reply["accepted"], [r["index"] for r in reply["refused"]]) == (200, 0, [0, 1])
    assert exporter.post("[", query="?partial=1")[1]["reason"] == "malformed_json"
    assert exporter.post([], query="?partial=1")[1]["reason"] == "empty_batch"
    status, reply = exporter.post(bad, query="?partial=1")  # one event: all or nothing
    assert (status, reply["field"]) == (400, "outcome")
    assert exporter.post([bad, EVENT], query="?partial=0")[0] == 400
    assert exporter.counters() == {}
    assert _rejected(exporter) == {
        "unknown_outcome": "5.0",  # 2 alone, 1 single event, 2 in a batch refused whole
        "malformed_json": "1.0",
        "empty_batch": "1.0",
    }


def test_a_partial_batch_refuses_alone_what_a_token_may_not_write(tmp_path: Path) -> None:
    """A scoped token's ?partial=1 batch: its workflows are counted, the others refused
    one by one as forbidden (without ?partial=1 the batch gets 403)."""
    for exporter in _start(tmp_path, security=Security({"triage-only": frozenset({"triage"})})):
        auth = {"Authorization": "Bearer triage-only"}
        batch = [{"workflow": "payments", "outcome": "success"}, EVENT]
        assert exporter.post(batch, auth)[0] == 403
        status, reply = exporter.post(batch, auth, "?partial=1")
        assert (status, reply["accepted"]) == (200, 1)
        assert reply["refused"] == [
            {
                "index": 0,
                "field": "events[0].workflow",
                "reason": "forbidden",
                "error": "this token may not write workflow 'payments'",
            }
        ]
        assert exporter.counters() == {KEY: 1}
        assert _rejected(exporter) == {"forbidden": "3.0"}  # 2 of the batch refused whole, 1


def test_a_scraper_that_leaves_early_is_one_debug_line(
    exporter: Exporter, caplog: pytest.LogCaptureFixture
) -> None:
    """A client that reads the start of /metrics and resets (``curl ... | head -1``) costs
    the log one debug line naming it, no traceback and no warning."""
    caplog.set_level(logging.DEBUG)
    assert exporter.post([{**EVENT, "dimensions": {"model": f"m{i}"}} for i in range(3)])[0] == 200
    host, port = exporter.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(16).startswith(b"HTTP/1.1 200")
    lines: list[str] = []
    for _ in range(500):  # until the server has seen the reset
        lines = [r.getMessage() for r in caplog.records if "left while" in r.getMessage()]
        if lines:
            break
        threading.Event().wait(0.01)
    assert len(lines) == 1
    assert lines[0].startswith("client 127.0.0.1 left while the server was ")
    problems = [r for r in caplog.records if r.exc_info or r.levelno >= logging.WARNING]
    assert problems == []


BAD_INPUT = [
    ("{", "malformed_json", ""),
    ("[]", "empty_batch", ""),
    ('"hello"', "bad_type", ""),
    ("[1]", "bad_type", "events[0]"),
    ('{"workflow": "triage"}', "missing_field", "outcome"),
    ('{"workflow": 7, "outcome": "success"}', "bad_type", "workflow"),
    ('{"workflow": "ghost", "outcome": "success"}', "unknown_workflow", "workflow"),
    ('{"workflow": "triage", "outcome": "ghost"}', "unknown_outcome", "outcome"),
    ('{"workflow": "triage", "outcome": "success", "colour": "red"}', "unknown_field", "colour"),
    (
        '{"workflow": "triage", "outcome": "success", "dimensions": {"region": "eu"}}',
        "undeclared_dimension",
        "dimensions.region",
    ),
    (
        '{"workflow": "triage", "outcome": "success", "dimensions": {"model": "a\\"b"}}',
        "bad_value",
        "dimensions.model",
    ),
    (
        '{"workflow": "triage", "outcome": "success", "dimensions": {"model": "a\\nb"}}',
        "bad_value",
        "dimensions.model",
    ),
    (
        '{"workflow": "triage", "outcome": "success", "dimensions": {"model": "a\\u0007"}}',
        "bad_value",
        "dimensions.model",
    ),
    (
        '{"workflow": "triage", "outcome": "success", "dimensions": {"model": 3}}',
        "bad_type",
        "dimensions.model",
    ),
    ('{"workflow": "triage", "outcome": "success", "count": 0}', "bad_count", "count"),
    ('{"workflow": "triage", "outcome": "success", "count": -3}', "bad_count", "count"),
    ('{"workflow": "triage", "outcome": "success", "count": 1.5}', "bad_count", "count"),
    ('{"workflow": "triage", "outcome": "success", "count": 1e12}', "bad_count", "count"),
    ('{"workflow": "triage", "outcome": "success", "count": NaN}', "malformed_json", ""),
    ('{"workflow": "triage", "outcome": "success", "count": "2"}', "bad_type", "count"),
    ('{"workflow": "triage", "outcome": "success", "count": true}', "bad_type", "count"),
    (
        '{"workflow": "triage", "outcome": "success", "duration_seconds": -1}',
        "bad_duration",
        "duration_seconds",
    ),
    (
        '{"workflow": "triage", "outcome": "success", "duration_seconds": 1e308}',
        "bad_duration",
        "duration_seconds",
    ),
    (
        '{"workflow": "triage", "outcome": "success", "dimensions": {"model": "x\\ud800"}}',
        "bad_value",
        "dimensions.model",
    ),
    ('{"workflow": "triage", "outcome": "success", "id": "k\\udfff"}', "bad_value", "id"),
    ('{"workflow": "tri\\udc80age", "outcome": "success"}', "bad_value", "workflow"),
    ("[" * 30_000 + "]" * 30_000, "malformed_json", ""),
    (
        '{"workflow": "triage", "outcome": "bogus", "outcome": "success"}',
        "duplicate_key",
        "outcome",
    ),
    ('{"workflow": "triage", "outcome": "success", "id": ""}', "bad_value", "id"),
    ('{"workflow": "triage", "outcome": "success", "id": 5}', "bad_type", "id"),
]


@pytest.mark.parametrize(("body", "kind", "field"), BAD_INPUT)
def test_bad_input_is_refused_with_a_reason(
    exporter: Exporter, body: str, kind: str, field: str
) -> None:
    """Each malformed request gets a 400 with a JSON reason naming the field; nothing moves."""
    status, reply = exporter.post(body)
    assert status == 400
    assert reply["reason"] == kind
    assert reply.get("field", "") == field
    assert reply["error"]
    assert exporter.counters() == {}
    _, text = exporter.metrics()
    assert f'agent_slo_exporter_rejected_events_total{{reason="{kind}"}} 1.0' in text


def test_oversized_body_is_refused(exporter: Exporter) -> None:
    """A body over the limit gets 413 and nothing is counted."""
    status, reply = exporter.post([EVENT] * 2_000)
    assert status == 413
    assert reply["reason"] == "too_large"
    assert exporter.counters() == {}


def test_slow_client_is_cut_off(exporter: Exporter) -> None:
    """A client that announces a body and stalls gets 408 after the read timeout."""
    host, port = exporter.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(
            b"POST /v1/outcomes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"work'
        )
        reply = sock.recv(4096).decode()
    assert reply.startswith("HTTP/1.1 408")
    assert exporter.counters() == {}


def test_missing_length_is_refused(exporter: Exporter) -> None:
    """A chunked body (no Content-Length) gets 411."""
    host, port = exporter.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(
            b"POST /v1/outcomes HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        )
        reply = sock.recv(4096).decode()
    assert reply.startswith("HTTP/1.1 411")


def _exchange(exporter: Exporter, request: bytes) -> str:
    """Send raw bytes on one connection; everything the server answers until it closes."""
    host, port = exporter.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request)
        replies = b""
        while chunk := sock.recv(65536):
            replies += chunk
    return replies.decode()


BODY = json.dumps(EVENT).encode()


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (b"Content-Length: %d\r\nContent-Length: 5\r\n" % len(BODY), "400"),
        (b"Transfer-Encoding: gzip\r\nContent-Length: %d\r\n" % len(BODY), "411"),
        (b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n" % len(BODY), "411"),
    ],
)
def test_ambiguous_lengths_are_refused(exporter: Exporter, headers: bytes, status: str) -> None:
    """Two Content-Length headers, or one with Transfer-Encoding (request smuggling behind a
    proxy), are refused and the connection closed; nothing is counted."""
    replies = _exchange(
        exporter, b"POST /v1/outcomes HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n" + BODY
    )
    assert replies.startswith(f"HTTP/1.1 {status}")
    assert replies.count("HTTP/1.1 ") == 1
    assert exporter.counters() == {}


def test_an_unread_body_is_never_read_as_a_request(tmp_path: Path) -> None:
    """A 401 or a 404 closes the connection: a body that looks like a request is not served."""
    inner = (
        b"POST /v1/outcomes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n"
        b"Content-Length: %d\r\n\r\n" % len(BODY) + BODY
    )
    for exporter in _start(tmp_path, security=Security({"s3cret": None})):
        for path, status in ((b"/v1/outcomes", "401"), (b"/nope", "404")):
            replies = _exchange(
                exporter,
                b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (path, len(inner))
                + inner,
            )
            assert replies.startswith(f"HTTP/1.1 {status}")
            assert replies.count("HTTP/1.1 ") == 1
        assert exporter.counters() == {}


def test_each_refusal_is_one_log_line_without_the_body(
    exporter: Exporter, caplog: pytest.LogCaptureFixture
) -> None:
    """A refused request logs its status, reason, field and client; never what it sent."""
    caplog.set_level(logging.INFO, "agent_slo.exporter")
    secret = {**EVENT, "outcome": "do-not-log-me"}
    assert exporter.post([secret, EVENT])[0] == 400
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("refused")]
    assert lines == ["refused 400 unknown_outcome at events[0].outcome from 127.0.0.1 (2 events)"]
    assert "do-not-log-me" not in caplog.text


def test_refusals_past_the_burst_are_summed_up_once_a_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Under a flood of bad requests the log holds the burst, then one summary a minute."""
    caplog.set_level(logging.INFO, "agent_slo.exporter")
    now = [0.0]
    refusals = RefusalLog(burst=2, clock=lambda: now[0])
    for _ in range(5):
        refusals.refused(400, "bad_type", "count", "10.0.0.1", 1)
    refusals.refused(401, "unauthorized", "", "10.0.0.2", 1)
    now[0] = 61.0
    refusals.refused(400, "bad_type", "", "10.0.0.1", 1)
    refusals.flush()
    assert [r.getMessage() for r in caplog.records] == [
        "refused 400 bad_type at count from 10.0.0.1 (1 event)",
        "refused 400 bad_type at count from 10.0.0.1 (1 event)",
        "refused 4 more request(s) since 61 s ago: bad_type 3, unauthorized 1",
        "refused 400 bad_type from 10.0.0.1 (1 event)",
    ]


def test_clients_gone_mid_request_leave_no_traceback(
    exporter: Exporter, caplog: pytest.LogCaptureFixture
) -> None:
    """Clients that reset their connection before, while or after sending a request (200 of
    them at once) leave no traceback and no error in the log; the server answers the next
    client, and only the complete requests are counted."""
    caplog.set_level(logging.DEBUG)
    host, port = exporter.url.removeprefix("http://").split(":")
    request = b"POST /v1/outcomes HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(BODY)
    cuts = [0, 10, len(request), len(request) + 5, len(request) + len(BODY)]
    socks = []
    for i in range(200):
        sock = socket.create_connection((host, int(port)), timeout=5)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.sendall((request + BODY)[: cuts[i % len(cuts)]])
        socks.append(sock)
    for sock in socks:
        sock.close()  # a reset: linger on, zero seconds
    status, _ = exporter.post(EVENT)
    assert status == 200
    problems = [r for r in caplog.records if r.exc_info or r.levelno >= logging.WARNING]
    assert problems == []
    # 40 complete requests may or may not have been taken before their reset; the one after
    # them certainly was.
    assert 1 <= sum(exporter.counters().values()) <= 41


def test_retries_with_the_same_id_count_once(exporter: Exporter) -> None:
    """An event retried with its idempotency key is counted once, even within one batch."""
    event = {**EVENT, "id": "run-42"}
    assert exporter.post(event)[1] == {"accepted": 1, "duplicates": 0, "folded": 0}
    assert exporter.post(event)[1] == {"accepted": 0, "duplicates": 1, "folded": 0}
    assert exporter.post([event, {**EVENT, "id": "run-43"}, {**EVENT, "id": "run-43"}])[1] == {
        "accepted": 1,
        "duplicates": 2,
        "folded": 0,
    }
    assert exporter.counters() == {KEY: 2}


def test_cardinality_cap_folds_a_flood(exporter: Exporter) -> None:
    """Beyond max_values distinct values (3, one known), new values are folded into `other`."""
    flood = [
        {"workflow": "triage", "outcome": "success", "dimensions": {"model": f"m{i}"}}
        for i in range(500)
    ]
    status, reply = exporter.post(flood)
    assert status == 200
    assert reply == {"accepted": 500, "duplicates": 0, "folded": 498}
    counters = exporter.counters()
    assert counters == {
        ("triage", "success", (("model", "m0"),)): 1,
        ("triage", "success", (("model", "m1"),)): 1,
        ("triage", "success", (("model", "other"),)): 498,
    }
    _, text = exporter.metrics()
    assert (
        'agent_slo_exporter_folded_values_total{dimension="model",workflow="triage"} 498.0' in text
    )


def test_metrics_pass_promtool_in_both_formats(exporter: Exporter, promtool: str) -> None:
    """/metrics is Prometheus text by default and OpenMetrics on request; promtool accepts it."""
    exporter.post([EVENT, {"workflow": "triage", "outcome": "success", "duration_seconds": 31}])
    content_type, text = exporter.metrics()
    assert content_type.startswith("text/plain; version=0.0.4")
    assert 'agent_outcomes_total{model="model-a",outcome="rejected",workflow="triage"} 1.0' in text
    assert (
        'agent_run_duration_seconds_bucket{le="30.0",model="unknown",workflow="triage"} 0.0' in text
    )
    assert 'agent_run_duration_seconds_count{model="unknown",workflow="triage"} 1.0' in text
    # pre-initialised: every known series is there at 0 from the start
    assert 'agent_outcomes_total{outcome="timeout",workflow="payments"} 0.0' in text
    check = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    content_type, text = exporter.metrics("application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text")
    assert text.endswith("# EOF\n")


def test_tokens_guard_writes(tmp_path: Path) -> None:
    """With tokens, writes need one; a scoped token writes only its workflows."""
    security = Security({"all-secret": None, "triage-only": frozenset({"triage"})})
    for exporter in _start(tmp_path, security=security):
        assert exporter.post(EVENT)[0] == 401
        assert exporter.post(EVENT, {"Authorization": "Bearer wrong"})[0] == 401
        payments = {"workflow": "payments", "outcome": "success"}
        status, reply = exporter.post(payments, {"Authorization": "Bearer triage-only"})
        assert (status, reply["field"]) == (403, "workflow")
        assert exporter.post(EVENT, {"Authorization": "Bearer triage-only"})[0] == 200
        assert exporter.post(payments, {"Authorization": "Bearer all-secret"})[0] == 200
        assert len(exporter.counters()) == 2


def test_metrics_basic_auth(tmp_path: Path) -> None:
    """With basic auth configured, /metrics answers 401 without the credentials."""
    for exporter in _start(tmp_path, security=Security(metrics_basic_auth=("prom", "s3cret"))):
        with pytest.raises(urllib.error.HTTPError) as info:
            exporter.metrics()
        info.value.close()
        assert info.value.code == 401
        good = "Basic " + base64.b64encode(b"prom:s3cret").decode()
        assert "agent_outcomes_total" in exporter.metrics(auth=good)[1]


def test_a_refused_surrogate_leaves_writes_working(exporter: Exporter) -> None:
    """A lone surrogate is refused at parse time with a reason; the next write is counted."""
    status, reply = exporter.post(
        '{"workflow": "triage", "outcome": "rejected", "dimensions": {"model": "\\ud800"}}'
    )
    assert (status, reply["field"]) == (400, "dimensions.model")
    assert "\\ud800" in reply["error"]
    assert exporter.post(EVENT)[0] == 200
    assert exporter.counters() == {KEY: 1}


def _stored(path: Path) -> dict[Any, int]:
    """The non-zero counters a state file holds, as a restarted exporter would load them."""
    store = Store(path, _catalog())
    try:
        return {k: v for k, v in store.snapshot().counters.items() if v}
    finally:
        store.close()


def test_the_committer_outlives_a_batch_it_cannot_store(tmp_path: Path) -> None:
    """A batch the database refuses for what it holds fails alone, with a BatchError; the
    batches committed with it and after it are recorded."""
    first = threading.Event()

    def slow_clock() -> float:
        # The first commit waits, so the next three batches queue up and commit as a group.
        if not first.is_set():
            first.set()
            threading.Event().wait(0.5)
        return 1_800_000_000.0

    store = Store(tmp_path / "state.db", _catalog(), clock=slow_clock)
    try:
        good = Event("triage", "rejected", (("model", "model-a"),), 1, None, None)
        # Built without the parser, as a value that slipped past it: SQLite cannot bind it.
        poison = Event("triage", "success", (("model", "x\ud800"),), 1, None, None)
        warm_up = store.submit([good])
        assert first.wait(5)
        futures = [store.submit([good]), store.submit([poison]), store.submit([good, good])]
        assert warm_up.result(10).applied == 1
        assert futures[0].result(10).applied == 1
        with pytest.raises(BatchError, match="cannot be stored"):
            futures[1].result(10)
        assert futures[2].result(10).applied == 2
        assert store.errors == 0  # a batch the sender must change is not a storage error
        assert store.ready()
        assert store.apply([good], timeout=10).applied == 1
        counters = {k: v for k, v in store.snapshot().counters.items() if v}
        assert counters == {KEY: 5}
    finally:
        store.close()
    assert _stored(tmp_path / "state.db") == {KEY: 5}


def test_healthz_fails_when_the_committer_stops(exporter: Exporter) -> None:
    """A liveness probe sees a committer that no longer runs: /healthz and /readyz 503."""
    exporter.store._queue.put(None)
    exporter.store._thread.join(5)
    for path in ("/healthz", "/readyz"):
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(exporter.url + path, timeout=5)
        with info.value:
            assert info.value.code == 503
            assert json.loads(info.value.read())["status"] != "ok"


def _get_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        with exc:
            return int(exc.code)


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_a_deleted_or_replaced_state_file_stops_acknowledging(
    tmp_path: Path, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Once the state file is gone, nothing more is acknowledged (503, probes fail, one log
    line), and what was acknowledged before is saved beside it, ready to be moved back."""
    state = tmp_path / "state.db"
    with contextlib.ExitStack() as stack:
        exporter = stack.enter_context(contextlib.contextmanager(_start)(tmp_path))
        assert exporter.post(EVENT)[0] == 200
        if how == "deleted":
            state.unlink()
        else:
            other = Store(tmp_path / "other.db", _catalog())
            other.close()
            (tmp_path / "other.db").replace(state)
        status, reply = exporter.post(EVENT)
        assert status == 503
        assert f"the state file {state} was {how}" in reply["error"]
        assert exporter.post(EVENT)[0] == 503
        assert _get_status(exporter.url + "/readyz") == 503
        assert _get_status(exporter.url + "/healthz") == 503
    logged = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(logged) == 1
    assert f"saved in {state}.recovered" in logged[0]
    assert _stored(tmp_path / "state.db.recovered") == {KEY: 1}
    with pytest.raises(StoreError, match=f"move it to {state}, removing any state.db-wal"):
        Store(state, _catalog())  # a restart does not start from zero in silence
    (tmp_path / "state.db.recovered").replace(state)
    assert _stored(state) == {KEY: 1}


def test_a_full_store_fails_the_probes_until_it_writes_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """SQLite's own "database or disk is full" (the file may not grow): the batch gets a
    503, /healthz and /readyz fail with one log line; once there is room, the same batch
    is recorded and the probes pass again."""
    batch = [{**EVENT, "id": f"{i:04d}" + "x" * 150} for i in range(2_000)]
    for exporter in _start(tmp_path, limits=Limits(max_body_bytes=4 * 1024 * 1024)):
        assert exporter.post(EVENT)[0] == 200
        db = exporter.store._db
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {pages}")
        status, reply = exporter.post(batch)
        assert status == 503
        assert "database or disk is full" in reply["error"]
        assert _get_status(exporter.url + "/healthz") == 503
        assert _get_status(exporter.url + "/readyz") == 503
        db.execute("PRAGMA max_page_count = 1073741823")
        assert exporter.post(batch) == (200, {"accepted": 2_000, "duplicates": 0, "folded": 0})
        assert _get_status(exporter.url + "/healthz") == 200
        assert exporter.counters() == {KEY: 2_001}
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert errors == [
        f"the state file {tmp_path / 'state.db'} cannot be written: database or disk is full"
    ]


@contextlib.contextmanager
def _tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A small tmpfs mounted at ``path`` (the test needs root, as in CI)."""
    path.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def test_a_full_disk_fails_the_probes_until_there_is_room(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The state file on a 1 MiB tmpfs that another file fills up: the batch gets a 503,
    the probes fail with one log line, nothing of it is counted; once the other file is
    gone, the same batch is recorded once and the probes pass again."""
    batch = [{**EVENT, "id": f"{i:04d}" + "x" * 150} for i in range(2_000)]
    with _tmpfs(tmp_path / "disk", "1m") as disk:
        for exporter in _start(disk, limits=Limits(max_body_bytes=4 * 1024 * 1024)):
            assert exporter.post(EVENT)[0] == 200
            filler = disk / "filler"
            with contextlib.suppress(OSError), filler.open("wb", buffering=0) as out:
                while True:
                    out.write(b"\0" * 4096)
            status, reply = exporter.post(batch)
            assert status == 503
            assert "disk is full" in reply["error"]
            assert _get_status(exporter.url + "/healthz") == 503
            assert _get_status(exporter.url + "/readyz") == 503
            assert exporter.counters() == {KEY: 1}
            filler.unlink()
            assert exporter.post(batch) == (200, {"accepted": 2_000, "duplicates": 0, "folded": 0})
            assert _get_status(exporter.url + "/healthz") == 200
            assert exporter.counters() == {KEY: 2_001}
        assert _stored(disk / "state.db") == {KEY: 2_001}
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1
    assert errors[0].startswith(f"the state file {disk / 'state.db'} cannot be written: ")


def test_start_up_errors_name_the_path_and_the_fix(tmp_path: Path) -> None:
    """A state file that cannot be opened: one line with the path and what to do."""
    missing = tmp_path / "nowhere" / "state.db"
    with pytest.raises(StoreError, match=f"create the directory {tmp_path / 'nowhere'}"):
        Store(missing, _catalog())
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"not a database " * 100)
    with pytest.raises(StoreError, match=f"{corrupt}: file is not a database; .*move it aside"):
        Store(corrupt, _catalog())
    spec = tmp_path / "specs"
    spec.mkdir()
    (spec / "spec.yaml").write_text(SPEC)
    result = CliRunner().invoke(
        main, ["serve", "--specs", str(spec), "--state", str(missing)], catch_exceptions=False
    )
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: the exporter did not start: cannot open the state file {missing}: unable to "
        f"open database file; create the directory {tmp_path / 'nowhere'}"
    ]


def test_a_second_exporter_on_the_same_state_file_is_refused(tmp_path: Path) -> None:
    """Two exporters counting into one file would each write their own totals over the
    other's: the second (a real `agent-slo serve`) refuses to start, in one line, and the
    first goes on counting."""
    state = tmp_path / "state.db"
    store = Store(state, _catalog())
    spec = tmp_path / "specs"
    spec.mkdir()
    (spec / "spec.yaml").write_text(SPEC)
    try:
        second = subprocess.run(
            [
                str(Path(sys.executable).parent / "agent-slo"),
                "serve",
                "--specs",
                str(spec),
                "--state",
                str(state),
                "--port",
                "0",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert second.returncode == 1
        assert second.stdout == ""
        assert second.stderr.strip().splitlines() == [
            f"Error: the exporter did not start: cannot open the state file {state}: database "
            "is locked; another process holds it (an exporter already running on it?): stop "
            "that one first"
        ]
        store.apply([Event("triage", "rejected", (("model", "model-a"),), 1, None, None)])
        assert store.snapshot().counters[KEY] == 1
    finally:
        store.close()
    assert _stored(state) == {KEY: 1}


def test_health_endpoints(exporter: Exporter) -> None:
    """/healthz and /readyz answer 200; unknown paths 404 with JSON."""
    for path in ("/healthz", "/readyz"):
        with urllib.request.urlopen(exporter.url + path, timeout=5) as response:
            assert response.status == 200
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(exporter.url + "/nope", timeout=5)
    info.value.close()
    assert info.value.code == 404


def test_fast_text_matches_prometheus_client(exporter: Exporter) -> None:
    """The cached text rendering equals prometheus_client's own, sample for sample."""
    from prometheus_client import generate_latest  # noqa: PLC0415 - the reference only here

    from exporter.metrics import build_registry  # noqa: PLC0415

    exporter.post(
        [EVENT, {"workflow": "triage", "outcome": "success", "duration_seconds": 0.25, "count": 3}]
    )
    exposition = build_registry(exporter.store)
    reference = generate_latest(exposition.registry).decode().splitlines()
    fast = exposition.text().decode().splitlines()
    assert sorted(fast) == sorted(reference)
    # the lines kept from that rendering follow the values that change after it
    exporter.post([EVENT, {"workflow": "triage", "outcome": "success", "duration_seconds": 7.0}])
    again = exposition.text().decode().splitlines()
    assert again != fast
    assert sorted(again) == sorted(generate_latest(exposition.registry).decode().splitlines())


def test_a_store_that_does_not_answer_in_time_gets_503_and_retries_count_once(
    tmp_path: Path,
) -> None:
    """The committer stalls (here: its in-memory update is held up after the commit). The
    batch it had taken is durable but unanswered, and the one still queued is withdrawn:
    both get 503 within the commit timeout, saying to retry with the same ids. The retries
    count each event exactly once."""
    for exporter in _start(tmp_path, limits=Limits(commit_timeout=0.5)):
        first, second = {**EVENT, "id": "run-1"}, {**EVENT, "id": "run-2"}
        with exporter.store._lock:
            taken = exporter.post(first)
            queued = exporter.post(second)
        for status, reply in (taken, queued):
            assert status == 503
            assert reply["error"].startswith("the store did not answer within 0.5 s")
            assert "retry it with the same ids" in reply["error"]
        assert exporter.post(first)[1] == {"accepted": 0, "duplicates": 1, "folded": 0}
        assert exporter.post(second)[1] == {"accepted": 1, "duplicates": 0, "folded": 0}
        assert exporter.counters() == {KEY: 2}


def test_writes_sent_while_others_wait_get_their_own_503(tmp_path: Path) -> None:
    """Two writes sent apart while the committer stalls: the later one, sent while the
    first waits, is answered 503 at its own deadline too (one watchdog serves every
    write in turn), and its retry is counted once."""
    for exporter in _start(tmp_path, limits=Limits(commit_timeout=1.0)):
        first, second = {**EVENT, "id": "run-1"}, {**EVENT, "id": "run-2"}
        with exporter.store._lock, ThreadPoolExecutor(1) as pool:
            earlier = pool.submit(exporter.post, first)
            time.sleep(0.4)  # the first is waiting for the store
            later = exporter.post(second)
            for status, reply in (earlier.result(10), later):
                assert status == 503
                assert reply["error"].startswith("the store did not answer within 1 s")
        assert exporter.post(second)[1] == {"accepted": 1, "duplicates": 0, "folded": 0}
        assert exporter.counters() == {KEY: 2}


class _RecordingStore:
    """A store that commits at once in the caller's thread and remembers each commit's size."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def commit_here(self, submission: Submission) -> bool:
        self.sizes.append(len(submission.pending))
        for pending in submission.pending:
            pending.outcome = Applied(len(pending.events), 0, 0)
        submission.finish()
        return True


def test_a_commit_waits_for_the_writers_the_last_one_answered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Three writes committed together; of the three writers answered, one writes again:
    its commit waits for the other two (one flush to disk for the three), but no longer
    than WAVE_HOLD, and not at all once the last commit is older than the window in which
    its writers come back."""
    event = Event("triage", "rejected", (("model", "model-a"),), 1, None, None)
    store = _RecordingStore()
    answered: list[Response | BaseException] = []

    def write(commits: _Commits) -> None:
        commits.submit([event], lambda outcome: Response(200)).bind(answered.append)

    async def run() -> None:
        commits = _Commits(cast(Store, store), timeout=30)
        for _ in range(3):
            write(commits)
        await asyncio.sleep(0)  # the end of the loop iteration: nobody else to wait for
        assert store.sizes == [3]
        write(commits)
        for _ in range(5):
            await asyncio.sleep(0)
        assert store.sizes == [3]  # held
        write(commits)
        write(commits)
        await asyncio.sleep(0)
        assert store.sizes == [3, 3]
        monkeypatch.setattr(server, "WAVE_HOLD", 0.05)
        write(commits)
        await asyncio.sleep(0.01)
        assert store.sizes == [3, 3]
        await asyncio.sleep(0.1)
        assert store.sizes == [3, 3, 1]  # the others did not come: held WAVE_HOLD at most
        monkeypatch.setattr(server, "WAVE_HOLD", 10.0)
        monkeypatch.setattr(server, "_WAVE_WINDOW", 0.05)
        for _ in range(2):
            write(commits)
        await asyncio.sleep(0)
        assert store.sizes == [3, 3, 1, 2]
        await asyncio.sleep(0.1)  # past the window: its writers are not coming back
        write(commits)
        await asyncio.sleep(0)
        assert store.sizes == [3, 3, 1, 2, 1]

    monkeypatch.setattr(
        server, "WAVE_HOLD", 10.0
    )  # until said otherwise, arrivals alone end a hold
    asyncio.run(run())
    assert len(answered) == 10
    assert all(isinstance(a, Response) and a.status == 200 for a in answered)
