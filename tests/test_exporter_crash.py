"""Durability: kill -9 under concurrent load loses no acknowledged event, and restarts resume."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

SPEC = """\
apiVersion: agent-slo/v1
workflow: crashy
slos:
  - name: crashy-success
    sli: {outcomes: {}}
"""
WRITERS = 4
BATCHES = 300
BATCH = 25


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(tmp_path: Path, port: int) -> subprocess.Popen[bytes]:
    cli = Path(sys.executable).parent / "agent-slo"
    with (tmp_path / "serve.log").open("ab") as log:
        proc = subprocess.Popen(
            [
                str(cli),
                "serve",
                "--specs",
                str(tmp_path / "spec.yaml"),
                "--port",
                str(port),
                "--state",
                str(tmp_path / "state.db"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1):
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise AssertionError((tmp_path / "serve.log").read_text())


def _post(port: int, events: list[dict[str, object]]) -> bool:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/outcomes",
        data=json.dumps(events).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status == 200
    except (OSError, urllib.error.HTTPError):
        return False


def _exported(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("agent_outcomes_total{")
    )


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_stop_under_load_loses_no_acknowledged_event(
    tmp_path: Path, stop: signal.Signals
) -> None:
    """Writers hammer the exporter, it is stopped (SIGKILL, or SIGTERM which drains), then
    restarted, and clients retry what was not acknowledged (same ids): the totals equal
    every event, none twice."""
    (tmp_path / "spec.yaml").write_text(SPEC)
    port = _free_port()
    proc = _start(tmp_path, port)
    acked = [0] * WRITERS
    pending: list[list[list[dict[str, object]]]] = [[] for _ in range(WRITERS)]

    def writer(w: int) -> None:
        for b in range(BATCHES):
            batch: list[dict[str, object]] = [
                {"workflow": "crashy", "outcome": "success", "id": f"w{w}-b{b}-e{e}"}
                for e in range(BATCH)
            ]
            if _post(port, batch):
                acked[w] += len(batch)
            else:
                pending[w].append(batch)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while sum(acked) < WRITERS * BATCHES * BATCH // 4 and time.monotonic() < deadline:
            time.sleep(0.005)
        os.kill(proc.pid, stop)
        assert proc.wait(timeout=30) == (0 if stop == signal.SIGTERM else -signal.SIGKILL)
        for t in threads:
            t.join()
        if stop == signal.SIGTERM:
            assert "still in flight" not in (tmp_path / "serve.log").read_text()
        killed_mid_load = sum(len(p) for p in pending)
        assert killed_mid_load > 0, "the kill came after all writes: nothing was tested"
        assert sum(acked) > 0, "the kill came before any write: nothing was tested"

        proc = _start(tmp_path, port)
        exported = _exported(port)
        assert exported >= sum(acked), "an acknowledged event was lost"
        for w in range(WRITERS):
            for batch in pending[w]:
                assert _post(port, batch)
        assert _exported(port) == WRITERS * BATCHES * BATCH
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert proc.returncode == 0, "SIGTERM should stop the exporter cleanly"

    proc = _start(tmp_path, port)
    try:
        assert _exported(port) == WRITERS * BATCHES * BATCH, "counters went backwards"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_sigterm_answers_a_request_in_flight(tmp_path: Path) -> None:
    """A request whose body is still arriving when SIGTERM comes is answered and counted;
    then the exporter exits 0, and a new connection is no longer served."""
    (tmp_path / "spec.yaml").write_text(SPEC)
    port = _free_port()
    proc = _start(tmp_path, port)
    body = json.dumps([{"workflow": "crashy", "outcome": "success", "id": "late"}]).encode()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(
                b"POST /v1/outcomes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body) + body[:10]
            )
            time.sleep(0.5)  # the handler is reading the body now
            proc.send_signal(signal.SIGTERM)
            time.sleep(1.0)
            sock.sendall(body[10:])
            reply = b""
            while chunk := sock.recv(65536):
                reply += chunk
        assert reply.startswith(b"HTTP/1.1 200"), reply
        assert b'"accepted":1' in reply
        assert b"Connection: close" in reply
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = (tmp_path / "serve.log").read_text()
    assert "stopping: answering requests in flight (up to 15 s)" in log
    assert "still in flight" not in log
    proc = _start(tmp_path, port)
    try:
        assert _exported(port) == 1
    finally:
        proc.terminate()
        proc.wait(timeout=20)
