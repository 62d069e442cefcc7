"""Benchmark: the exporter under attack, against the same exporter unattacked.

Run: .venv/bin/python -m benchmarks.exporter_attack [--files 1024] [--slow 3000]

`agent-slo serve` runs in its own process under an open-file limit of ``--files`` (1,024, a
common default). Four writers POST one durable event after another on keep-alive
connections, first with nothing else going on (the baseline), then while an attacker holds
``--slow`` connections that dribble a header line every second and never finish a request,
reopening every connection the server closes so that the pressure never drops. Reported:
the writers' throughput and latency under attack against the baseline, how many writer
requests failed, the most connections and descriptors the exporter held, its threads and
memory, how many slow connections the server closed; then every attacking connection is
reset at once, and the time until the exporter's open connections are back to the writers'
is measured. At the end the exporter's counter must equal the events acknowledged.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import platform
import resource
import selectors
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.http_stacks import free_port, proc_status

WRITERS = 4
SPEC = """\
apiVersion: agent-slo/v1
workflow: bench
slos:
  - name: bench-success
    sli: {outcomes: {}}
"""
BODY = json.dumps({"workflow": "bench", "outcome": "success"}).encode()
LINGER_RESET = struct.pack("ii", 1, 0)


@dataclass
class Writes:
    """What the writers saw."""

    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def write(port: int, seconds: float) -> Writes:
    """WRITERS threads POST one event after another; a failed request is counted and the
    writer reconnects."""
    out = Writes()
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def writer() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.monotonic() < stop:
            started = time.perf_counter()
            try:
                conn.request("POST", "/v1/outcomes", BODY, {"Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                ok = False
            with lock:
                if ok:
                    out.latencies.append(time.perf_counter() - started)
                else:
                    out.failures += 1
        conn.close()

    threads = [threading.Thread(target=writer) for _ in range(WRITERS)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.seconds = time.monotonic() - started
    return out


class Attacker:
    """Holds ``count`` slow connections on one thread, reopening those the server closes."""

    def __init__(self, port: int, count: int) -> None:
        self.port = port
        self.count = count
        self.closed_by_server = 0
        self.selector = selectors.DefaultSelector()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _open(self) -> None:
        with contextlib.suppress(OSError):
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=2)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
            sock.sendall(b"POST /v1/outcomes HTTP/1.1\r\nHost: x\r\n")
            sock.setblocking(False)
            self.selector.register(sock, selectors.EVENT_READ)

    def _close(self, sock: socket.socket) -> None:
        self.selector.unregister(sock)
        sock.close()

    def _run(self) -> None:
        for _ in range(self.count):
            self._open()
        next_dribble = time.monotonic() + 1
        while not self.stop.is_set():
            for key, _ in self.selector.select(timeout=0.1):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    while sock.recv(65536):  # the server's refusal, then its close
                        pass
                except BlockingIOError:
                    continue
                except OSError:
                    pass
                self.closed_by_server += 1
                self._close(sock)
                self._open()
            if time.monotonic() >= next_dribble:
                next_dribble += 1
                for key in list(self.selector.get_map().values()):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    with contextlib.suppress(BlockingIOError):
                        try:
                            sock.send(b"X-Slow: 1\r\n")
                        except OSError:
                            self._close(sock)

    def start(self) -> None:
        self.thread.start()

    def reset_all(self) -> None:
        """Stop, and reset every connection at once."""
        self.stop.set()
        self.thread.join()
        for key in list(self.selector.get_map().values()):
            self._close(key.fileobj)  # type: ignore[arg-type]


def metric(port: int, prefix: str) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line.rsplit(" ", 1)[1])
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1024, help="the exporter's open-file limit")
    parser.add_argument("--slow", type=int, default=3000, help="slow connections to hold")
    parser.add_argument("--seconds", type=float, default=15.0, help="per measure")
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the attacker needs many
    work = Path(tempfile.mkdtemp(prefix="agent-slo-attack-"))
    (work / "spec.yaml").write_text(SPEC)
    port = free_port()

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (args.files, args.files))

    cli = [str(Path(sys.executable).parent / "agent-slo"), "serve", "--port", str(port)]
    with (work / "serve.log").open("wb") as log:
        proc = subprocess.Popen(
            [*cli, "--specs", str(work / "spec.yaml"), "--state", str(work / "state.db")],
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=limit,  # noqa: PLW1509 - nothing else runs in this process yet
        )
    try:
        for _ in range(200):
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            time.sleep(0.05)
        quiet = write(port, args.seconds)
        attacker = Attacker(port, args.slow)
        attacker.start()
        time.sleep(3)  # the attack in full swing
        peak = [0, 0, 0.0, 0.0]
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.wait(0.5):
                fds = len(list(Path(f"/proc/{proc.pid}/fd").iterdir()))
                threads, rss = proc_status(proc.pid)
                conns = metric(port, "agent_slo_exporter_open_connections")
                peak[:] = [
                    max(peak[0], fds),
                    max(peak[1], threads),
                    max(peak[2], rss),
                    max(peak[3], conns),
                ]

        sampler = threading.Thread(target=sample)
        sampler.start()
        attacked = write(port, args.seconds)
        sampling.set()
        sampler.join()
        closed = attacker.closed_by_server
        attacker.reset_all()
        reset_at = time.monotonic()
        while metric(port, "agent_slo_exporter_open_connections") > 1:
            time.sleep(0.05)
        recovered = time.monotonic() - reset_at
        counted = metric(port, 'agent_outcomes_total{outcome="success",workflow="bench"}')
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    log_text = (work / "serve.log").read_text()
    shutil.rmtree(work, ignore_errors=True)
    acknowledged = len(quiet.latencies) + len(attacked.latencies)
    print(
        f"{platform.machine()}, Python {platform.python_version()}; exporter open-file limit "
        f"{args.files}; {WRITERS} writers, {args.seconds:.0f} s per measure; "
        f"{args.slow} slow connections"
    )
    print("| measure | no attack (baseline) | under attack | vs baseline |")
    print("|---|---:|---:|---:|")
    print(
        f"| writes answered /s | {quiet.rate:,.0f} | {attacked.rate:,.0f} "
        f"| {attacked.rate / quiet.rate:.2f} |"
    )
    for q in (0.5, 0.99):
        print(
            f"| latency p{int(q * 100)} ms | {quiet.percentile(q):.2f} "
            f"| {attacked.percentile(q):.2f} | {attacked.percentile(q) / quiet.percentile(q):.2f} |"
        )
    print(f"| writes failed | {quiet.failures} | {attacked.failures} | |")
    print(f"| exporter: most connections open / descriptors | | {peak[3]:.0f} / {peak[0]} | |")
    print(f"| exporter: threads / resident MB | | {peak[1]} / {peak[2]:.0f} | |")
    print(f"| slow connections closed by the exporter | | {closed:,} | |")
    print(f"| back to the writers' connections after a mass reset, s | | {recovered:.2f} | |")
    print(
        f"| events acknowledged / counted by the exporter | | {acknowledged:,} / {counted:,.0f} | |"
    )
    print(f"(log lines 'Too many open files': {log_text.count('Too many open files')})")


if __name__ == "__main__":
    main()
