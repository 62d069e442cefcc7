"""The exporter's HTTP server under hostile clients: every resource a client can hold has a
bound, and a normal client keeps getting answers. Real sockets on loopback, each case
bounded in time."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import resource
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from exporter.http import HttpLimits, HttpServer, Request, Response

GET = b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"


class Gate:
    """An application answering at once, or (on /block) once the test opens the gate."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.refused: list[str] = []

    def head(self, request: Request) -> Response | None:
        return None

    def handle(self, request: Request) -> Response | asyncio.Future[Response]:
        answer = Response(200, json.dumps({"path": request.path}).encode())
        if request.path != "/block":
            return answer
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Response] = loop.create_future()

        def wait() -> None:
            self.gate.wait(30)
            loop.call_soon_threadsafe(future.set_result, answer)

        threading.Thread(target=wait, daemon=True).start()
        return future

    def refuse(self, client: str, status: int, reason: str, message: str) -> Response:
        self.refused.append(reason)
        return Response(status, json.dumps({"error": message, "reason": reason}).encode())


@contextlib.contextmanager
def serving(**limits: float) -> Iterator[tuple[HttpServer, Gate]]:
    app = Gate()
    server = HttpServer(app, "127.0.0.1", 0, HttpLimits(**limits))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, app
    finally:
        app.gate.set()
        server.shutdown()
        server.server_close()
        thread.join()


def connect(server: HttpServer, timeout: float = 5.0) -> socket.socket:
    return socket.create_connection(server.server_address, timeout=timeout)


def answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            data += chunk
    return data


def get(server: HttpServer, path: str = "/ok") -> int:
    """A normal client: a new connection, one request, the status."""
    host, port = server.server_address
    with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=5) as response:
        return int(response.status)


def test_slow_clients_past_the_cap_do_not_lock_out_a_normal_client() -> None:
    """Three times the cap of connections dribbling headers or bodies: the server never
    holds more than the cap, closes the slowest for newcomers, and answers every request
    of a normal client meanwhile."""
    with serving(max_connections=20, request_timeout=3) as (server, app):
        stop = threading.Event()
        held: list[int] = []
        open_at_end: list[bool] = []

        def attacker(first: bytes, dribble: bytes) -> None:
            socks = []
            for _ in range(30):
                with contextlib.suppress(OSError):
                    sock = connect(server)
                    sock.sendall(first)
                    socks.append(sock)
            while not stop.is_set():
                held.append(len(server.connections))
                for sock in socks:
                    with contextlib.suppress(OSError):
                        sock.send(dribble)
                time.sleep(0.1)
            for sock in socks:
                sock.setblocking(False)
                try:
                    sock.recv(65536, socket.MSG_PEEK)  # a refusal, or the end: closed
                    still_open = False
                except BlockingIOError:
                    still_open = True
                except OSError:
                    still_open = False
                open_at_end.append(still_open)
                sock.close()

        body = b"POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"
        attackers = [
            threading.Thread(target=attacker, args=(b"GET /ok HTTP/1.1\r\n", b"X-A: b\r\n")),
            threading.Thread(target=attacker, args=(body, b"x")),
        ]
        for thread in attackers:
            thread.start()
        time.sleep(0.5)
        statuses = []
        for _ in range(30):
            statuses.append(get(server))
            time.sleep(0.05)
        stop.set()
        for thread in attackers:
            thread.join()
    assert statuses == [200] * 30
    assert held
    assert max(held) <= 20
    assert len(open_at_end) == 60
    assert sum(open_at_end) <= 20  # the server closed the others for room
    assert "evicted" in app.refused


def test_a_request_must_arrive_whole_within_the_deadline() -> None:
    """Headers or a body still incomplete at the deadline get 408 and the connection
    closes, however steadily the bytes trickle in."""
    with (
        serving(request_timeout=0.5) as (server, app),
        connect(server) as slow_headers,
        connect(server) as slow_body,
    ):
        slow_headers.sendall(b"GET /ok HTTP/1.1\r\n")
        slow_body.sendall(b"POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n123")
        for _ in range(3):  # a byte every 0.25 s: each read is quick, the request is not
            time.sleep(0.25)
            with contextlib.suppress(OSError):
                slow_headers.send(b"X")
                slow_body.send(b"4")
        headers_reply, body_reply = answer(slow_headers), answer(slow_body)
    assert headers_reply.startswith(b"HTTP/1.1 408 ")
    assert body_reply.startswith(b"HTTP/1.1 408 ")
    assert b"Connection: close" in body_reply
    assert app.refused == ["timeout", "timeout"]


def test_an_idle_keep_alive_connection_is_closed() -> None:
    with serving(idle_timeout=0.5) as (server, _), connect(server) as sock:
        sock.sendall(GET)
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 ")
        assert answer(sock) == b""  # then closed, with nothing more said


def test_when_every_connection_is_busy_a_newcomer_gets_503_with_retry_after() -> None:
    with serving(max_connections=2) as (server, app):
        busy = [connect(server), connect(server)]
        for sock in busy:
            sock.sendall(b"GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)
        with connect(server) as newcomer:
            refused = answer(newcomer)
        app.gate.set()
        answered = [sock.recv(65536) for sock in busy]
        for sock in busy:
            sock.close()
    assert refused.startswith(b"HTTP/1.1 503 ")
    assert b"Retry-After: 1\r\n" in refused
    assert b"Connection: close\r\n" in refused
    assert all(reply.startswith(b"HTTP/1.1 200 ") for reply in answered)
    assert app.refused == ["full"]


def test_requests_past_the_cap_in_progress_get_503() -> None:
    with (
        serving(max_requests=1) as (server, app),
        connect(server) as first,
        connect(server) as second,
    ):
        first.sendall(b"GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)
        second.sendall(b"GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
        refused = second.recv(65536)
        app.gate.set()
        answered = first.recv(65536)
    assert refused.startswith(b"HTTP/1.1 503 ")
    assert b"Retry-After: 1\r\n" in refused
    assert answered.startswith(b"HTTP/1.1 200 ")
    assert app.refused == ["busy"]


def test_pipelined_requests_are_answered_in_order() -> None:
    with serving() as (server, _), connect(server) as sock:
        sock.sendall(
            b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        replies = answer(sock)
    assert replies.count(b"HTTP/1.1 200 ") == 3
    assert replies.index(b'"/a"') < replies.index(b'"/b"') < replies.index(b'"/c"')


def test_oversized_headers_and_malformed_requests_are_refused() -> None:
    with serving(max_header_bytes=1024) as (server, app):
        with connect(server) as sock:
            sock.sendall(b"GET /ok HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 4096 + b"\r\n\r\n")
            too_large = answer(sock)
        with connect(server) as sock:
            sock.sendall(b"GET /ok HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n")
            malformed = answer(sock)
    assert too_large.startswith(b"HTTP/1.1 431 ")
    assert malformed.startswith(b"HTTP/1.1 400 ")
    assert app.refused == ["headers_too_large", "bad_request"]


def test_a_body_past_the_limit_is_refused_whatever_the_application_says() -> None:
    """The server bounds bodies itself, also for an application that reads any."""
    with serving(max_body_bytes=1000) as (server, app), connect(server) as sock:
        sock.sendall(b"POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n")
        with contextlib.suppress(OSError):
            sock.sendall(b"x" * 5000)
        reply = answer(sock)
    assert reply.startswith(b"HTTP/1.1 413 ")
    assert app.refused == ["too_large"]


def test_shutdown_answers_requests_in_flight_and_closes_idle_connections() -> None:
    with (
        serving(drain_timeout=10) as (server, app),
        connect(server) as idle,
        connect(server) as busy,
    ):
        idle.sendall(GET)
        assert idle.recv(65536).startswith(b"HTTP/1.1 200 ")
        busy.sendall(b"GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)
        stopping = threading.Thread(target=server.shutdown)
        stopping.start()
        assert answer(idle) == b""  # closed at once
        time.sleep(0.2)
        with pytest.raises(OSError):
            connect(server, timeout=1)  # no longer accepting
        assert stopping.is_alive()  # waits for the request in flight
        app.gate.set()
        reply = answer(busy)
        stopping.join()
    assert reply.startswith(b"HTTP/1.1 200 ")
    assert b"Connection: close\r\n" in reply


def test_a_mass_close_leaves_the_server_answering_and_the_log_quiet(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """1,000 connections, in every state of a request, reset at once."""
    caplog.set_level(logging.DEBUG)
    request = b"POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
    with serving(max_connections=2000) as (server, _):
        socks = []
        for i in range(1000):
            sock = connect(server)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.sendall(request[: i % (len(request) + 1)])
            socks.append(sock)
        time.sleep(0.3)
        for sock in socks:
            sock.close()
        statuses = [get(server) for _ in range(5)]
        for _ in range(50):  # the server notices the resets as it reads them
            if len(server.connections) == 0:
                break
            time.sleep(0.1)
        left = len(server.connections)
    assert statuses == [200] * 5
    assert left == 0
    assert [r for r in caplog.records if r.exc_info or r.levelno >= logging.WARNING] == []


SPEC = """\
apiVersion: agent-slo/v1
workflow: triage
slos:
  - name: triage-success
    sli: {outcomes: {}}
"""


def _limit_files() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))


def test_the_exporter_under_a_low_open_file_limit_keeps_counting(tmp_path: Path) -> None:
    """`agent-slo serve` with 256 open files: it caps itself at 160 connections and says
    so; 600 slow connections never exhaust its descriptors, and every POST of a normal
    client meanwhile is answered and counted."""
    (tmp_path / "spec.yaml").write_text(SPEC)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with (tmp_path / "serve.log").open("wb") as log:
        proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "agent-slo"),
                *("serve", "--specs", str(tmp_path / "spec.yaml"), "--port", str(port)),
                *("--state", str(tmp_path / "state.db"), "--request-timeout", "5"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_limit_files,  # noqa: PLW1509 - no threads in this process fork it
        )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            with contextlib.suppress(OSError):
                urllib.request.urlopen(url + "/readyz", timeout=1).close()
                break
            time.sleep(0.1)
        socks = []
        for i in range(600):
            with contextlib.suppress(OSError):
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                sock.sendall(b"POST /v1/outcomes HTTP/1.1\r\nHost: x\r\n"[: 10 + i % 20])
                socks.append(sock)
        fds = len(list(Path(f"/proc/{proc.pid}/fd").iterdir()))
        body = json.dumps({"workflow": "triage", "outcome": "rejected"}).encode()
        statuses = []
        for _ in range(20):
            request = urllib.request.Request(url + "/v1/outcomes", data=body, method="POST")
            with urllib.request.urlopen(request, timeout=5) as response:
                statuses.append(response.status)
        with urllib.request.urlopen(url + "/metrics", timeout=5) as response:
            metrics = response.read().decode()
        for sock in socks:
            sock.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    text = (tmp_path / "serve.log").read_text()
    assert "at most 160 connections (not 1000)" in text
    assert "Too many open files" not in text
    assert fds <= 256
    assert statuses == [200] * 20
    assert 'agent_outcomes_total{outcome="rejected",workflow="triage"} 20.0' in metrics
    (gauge,) = [
        line for line in metrics.splitlines() if line.startswith("agent_slo_exporter_open_")
    ]
    assert float(gauge.split()[-1]) <= 160
