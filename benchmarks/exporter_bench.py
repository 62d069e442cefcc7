"""Benchmark: the exporter's durable ingestion, single-event latency, and scrape at 10,000 series.

Run: .venv/bin/python -m benchmarks.exporter_bench [--seconds S] [--repeat N]

The exporter runs as its own process (`agent-slo serve`, SQLite state, synchronous=FULL);
the load comes from one thread of this process driving every writer's keep-alive
connection on loopback through a selector (closed loop: a writer sends its next request
once its answer is in), so that the load takes as little as it can of the cores it shares
with the server. The same load, in the same run, drives every server measured; with
--repeat N each writer-count measure runs N times, interleaved, and the table shows the
median rate and the spread of the ratio. The CPU each server thread spends on a request
is read from /proc (thread names from py-spy, when installed).
Baselines measured in the same run:
- "counter-inc": a bare prometheus_client Counter.inc() loop, the ceiling of any Python
  exporter (nothing durable, no HTTP);
- "noop-http": a do-nothing handler on the same server stack (exporter.http.HttpServer:
  asyncio and h11, with the exporter's bounds), the ceiling of requests per second here;
- "noop http.server": the same do-nothing handler on the standard library's
  ThreadingHTTPServer (a thread per connection), the exporter's stack until 2026-12.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from exporter.http import HttpLimits, HttpServer, Request, Response

REPO = Path(__file__).resolve().parent.parent
CLIENTS = 8
WRITERS = (8, 32)  # concurrent single-event writers
BATCH = 1_000

SPEC = """\
apiVersion: agent-slo/v1
workflow: bench
dimensions:
  model: {max_values: 100, values: [%s]}
  task: {max_values: 100, values: [%s]}
slos:
  - name: bench-success
    sli: {outcomes: {}}
"""


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class NoopHandler(BaseHTTPRequestHandler):
    """Reads the body and answers 200 with a small JSON: the HTTP stack and nothing else."""

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(NOOP_BODY)))
        self.end_headers()
        self.wfile.write(NOOP_BODY)

    def log_message(self, format: str, *args: Any) -> None:
        return


NOOP_BODY = b'{"accepted":1,"duplicates":0,"folded":0}'


class NoopApp:
    """The do-nothing handler on the exporter's own server."""

    def head(self, request: Request) -> Response | None:
        return None

    def handle(self, request: Request) -> Response:
        return Response(200, NOOP_BODY)

    def refuse(self, client: str, status: int, reason: str, message: str) -> Response:
        return Response(status, json.dumps({"error": message, "reason": reason}).encode())


def noop_server(port: int, stack: str) -> None:
    """Serve the do-nothing handler until killed."""
    if stack == "http.server":
        server = ThreadingHTTPServer(("127.0.0.1", port), NoopHandler)
        server.daemon_threads = True
        server.serve_forever()
    else:
        HttpServer(NoopApp(), "127.0.0.1", port, HttpLimits()).serve_forever()


def wait_ready(port: int, path: str = "/readyz") -> None:
    """Wait until something answers on ``port``."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", path)
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing answers on port {port}")


class _Writer:
    """One keep-alive connection of the load: the request being sent, the answer being read."""

    def __init__(self, port: int, first: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.n = first  # index of the body being sent
        self.out = memoryview(b"")
        self.inbox = bytearray()
        self.start = 0.0


def _request(body: bytes) -> bytes:
    """The whole request, as http.client would send it (minus Accept-Encoding)."""
    return (
        b"POST /v1/outcomes HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


def _answer_length(inbox: bytearray) -> int:
    """The length of the first complete answer in ``inbox`` (0: not complete yet); raise
    unless it is a 200 on a connection kept open."""
    end = inbox.find(b"\r\n\r\n")
    if end < 0:
        return 0
    head = bytes(inbox[:end]).decode("latin-1").lower().split("\r\n")
    if not head[0].startswith("http/1.1 200 "):
        raise RuntimeError(f"answer {bytes(inbox[:200])!r}")
    fields = dict(line.split(":", 1) for line in head[1:])
    if fields.get("connection", "").strip() == "close":
        raise RuntimeError("the server closed a keep-alive connection")
    total = end + 4 + int(fields["content-length"])
    return total if len(inbox) >= total else 0


def post_load(
    port: int, bodies: list[bytes], seconds: float, clients: int = CLIENTS
) -> tuple[int, list[float]]:
    """``clients`` closed-loop writers post ``bodies`` in turn for ``seconds``, each on its
    own keep-alive connection, all driven by one thread with a selector: the load spends
    as little of the shared CPU as a Python client can. Requests done and latencies."""
    requests = [_request(body) for body in bodies]
    latencies: list[float] = []
    selector = selectors.DefaultSelector()
    writers = [_Writer(port, i) for i in range(clients)]

    def send(writer: _Writer) -> None:
        writer.out = memoryview(requests[writer.n % len(requests)])
        writer.start = time.perf_counter()
        flush(writer)

    def flush(writer: _Writer) -> None:
        with contextlib.suppress(BlockingIOError):
            while writer.out:
                writer.out = writer.out[writer.sock.send(writer.out) :]
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if writer.out else 0)
        selector.modify(writer.sock, events, writer)

    for writer in writers:
        selector.register(writer.sock, selectors.EVENT_READ, writer)
        send(writer)
    stop = time.monotonic() + seconds
    while writers:
        for key, mask in selector.select(timeout=30):
            writer = key.data
            if mask & selectors.EVENT_WRITE:
                flush(writer)
            if not mask & selectors.EVENT_READ:
                continue
            try:
                data = writer.sock.recv(256 * 1024)
            except ConnectionResetError as exc:
                raise RuntimeError(f"the server on port {port} reset a connection") from exc
            if not data:
                raise RuntimeError(f"the server on port {port} closed a connection")
            writer.inbox += data
            length = _answer_length(writer.inbox)
            if not length:
                continue
            latencies.append(time.perf_counter() - writer.start)
            del writer.inbox[:length]
            if time.monotonic() >= stop:
                selector.unregister(writer.sock)
                writer.sock.close()
                writers.remove(writer)
                continue
            writer.n += clients
            send(writer)
    return len(latencies), latencies


def thread_cpu(pid: int) -> dict[int, tuple[float, float]]:
    """User and system CPU seconds of each thread of a process."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):  # the thread ended
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            out[int(task.name)] = (int(fields[11]) / tick, int(fields[12]) / tick)
    return out


def thread_names(pid: int) -> dict[int, str]:
    """Python thread names by native id, from py-spy (empty without it: ids are shown)."""
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        return {}
    dump = subprocess.run(
        [spy, "dump", "--pid", str(pid)], capture_output=True, text=True, check=False
    ).stdout
    return {int(tid): name for tid, name in re.findall(r'Thread (\d+) \(\w+\): "([^"]+)"', dump)}


Cpu = dict[str, tuple[float, float]]  # thread -> (user, system) microseconds a request


def process_cpu(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of a whole process, ended threads included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def measured(
    pid: int, port: int, bodies: list[bytes], seconds: float, clients: int
) -> tuple[int, list[float], Cpu]:
    """:func:`post_load` with the CPU each thread of the server (and the load) spent on
    a request; what threads ended meanwhile spent (http.server's thread per connection)
    is shown as "other threads"."""
    names = thread_names(pid)
    before, load_before, whole_before = thread_cpu(pid), os.times(), process_cpu(pid)
    n, latencies = post_load(port, bodies, seconds, clients)
    after, load_after, whole_after = thread_cpu(pid), os.times(), process_cpu(pid)
    cpu: dict[str, list[float]] = {}
    named = [0.0, 0.0]
    for tid, (user, system) in after.items():
        if tid not in names and tid != pid:
            continue
        user0, system0 = before.get(tid, (0.0, 0.0))
        total = cpu.setdefault(names.get(tid, "MainThread"), [0.0, 0.0])
        for i, spent in enumerate((user - user0, system - system0)):
            total[i] += spent * 1e6 / n
            named[i] += spent * 1e6 / n
    cpu["other threads"] = [(whole_after[i] - whole_before[i]) * 1e6 / n - named[i] for i in (0, 1)]
    cpu = {k: v for k, v in cpu.items() if sum(v) >= 1}
    cpu["load generator"] = [
        (load_after.user - load_before.user) * 1e6 / n,
        (load_after.system - load_before.system) * 1e6 / n,
    ]
    return n, latencies, {k: (v[0], v[1]) for k, v in cpu.items()}


def pct(values: list[float], q: float) -> float:
    """The q-quantile in milliseconds."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def counter_baseline(n: int = 2_000_000) -> float:
    """Counter.inc() calls per second on one labelled child."""
    counter = Counter("x", "x", ["workflow", "outcome"], registry=CollectorRegistry())
    child = counter.labels("bench", "success")
    start = time.perf_counter()
    for _ in range(n):
        child.inc()
    return n / (time.perf_counter() - start)


def report_writers(
    writers: int,
    runs: dict[tuple[str, int], list[tuple[int, list[float], Cpu]]],
    seconds: float,
    row: Callable[..., None],
) -> None:
    """The rows for one writer count: rates (median of the runs, and the spread of the
    ratio), latencies and CPU a request by thread (of the median run)."""
    rates = {
        name: [n / seconds for n, _, _ in runs[name, writers]]
        for name in ("noop", "stdlib", "single")
    }
    noop = statistics.median(rates["noop"])
    row(f"{writers} writers: noop-http baseline (requests/s)", f"{noop:,.0f}", "1.00")
    for name, label in (("stdlib", "noop on http.server"), ("single", "single-event")):
        ratios = [x / n for x, n in zip(rates[name], rates["noop"], strict=True)]
        spread = f" ({min(ratios):.2f}-{max(ratios):.2f})" if len(ratios) > 1 else ""
        row(
            f"{writers} writers: {label} (requests/s)",
            f"{statistics.median(rates[name]):,.0f}",
            f"{statistics.median(ratios):.2f}{spread}",
        )
    for name, label in (
        ("noop", "noop-http"),
        ("stdlib", "noop on http.server"),
        ("single", "single-event"),
    ):
        ordered = sorted(runs[name, writers], key=lambda run: run[0])
        _, lat, cpu = ordered[len(ordered) // 2]
        row(
            f"{writers} writers: {label} latency p50 / p99 (ms)",
            f"{pct(lat, 0.5):.2f} / {pct(lat, 0.99):.2f}",
        )
        for thread, (user, system) in sorted(cpu.items()):
            row(f"  CPU a request, {thread} (user / sys us)", f"{user:.0f} / {system:.0f}")


def main() -> None:
    """Run every measurement and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of each single-event measure (median shown)"
    )
    parser.add_argument("--noop-server", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--stack", default="exporter", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.noop_server:
        noop_server(args.noop_server, args.stack)
        return
    work = Path(tempfile.mkdtemp(prefix="agent-slo-exporter-bench-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        models = ", ".join(f"m{i}" for i in range(24))
        tasks = ", ".join(f"t{i}" for i in range(25))
        (work / "spec.yaml").write_text(SPEC % (models, tasks))
        port = free_port()
        cli = Path(sys.executable).parent / "agent-slo"
        log = (work / "serve.log").open("wb")
        procs.append(
            subprocess.Popen(
                [
                    str(cli),
                    "serve",
                    "--specs",
                    str(work / "spec.yaml"),
                    "--port",
                    str(port),
                    "--state",
                    str(work / "state.db"),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        noop_port, stdlib_port = free_port(), free_port()
        for noop, stack in ((noop_port, "exporter"), (stdlib_port, "http.server")):
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        *("-m", "benchmarks.exporter_bench"),
                        *("--noop-server", str(noop), "--stack", stack),
                    ],
                    cwd=REPO,
                )
            )
        wait_ready(port)
        wait_ready(noop_port, "/")
        wait_ready(stdlib_port, "/")

        single = [
            json.dumps(
                {
                    "workflow": "bench",
                    "outcome": "success",
                    "dimensions": {"model": f"m{i % 24}", "task": f"t{i % 25}"},
                }
            ).encode()
            for i in range(1_000)
        ]
        batch = [
            json.dumps(
                [
                    {
                        "workflow": "bench",
                        "outcome": "success" if e % 20 else "rejected",
                        "dimensions": {"model": f"m{(b + e) % 24}", "task": f"t{e % 25}"},
                    }
                    for e in range(BATCH)
                ]
            ).encode()
            for b in range(20)
        ]

        inc = counter_baseline()
        pids = {"noop": procs[1].pid, "stdlib": procs[2].pid, "single": procs[0].pid}
        ports = {"noop": noop_port, "stdlib": stdlib_port, "single": port}
        runs: dict[tuple[str, int], list[tuple[int, list[float], Cpu]]] = {}
        for _ in range(args.repeat):  # interleaved, so that a noisy minute hits all three
            for writers in WRITERS:
                for name in ("noop", "stdlib", "single"):
                    runs.setdefault((name, writers), []).append(
                        measured(pids[name], ports[name], single, args.seconds, writers)
                    )
        batch_n, _ = post_load(port, batch, args.seconds)

        scrape_times = []
        for _ in range(20):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            start = time.perf_counter()
            conn.request("GET", "/metrics")
            text = conn.getresponse().read()
            scrape_times.append(time.perf_counter() - start)
            conn.close()
        series = sum(
            1 for line in text.decode().splitlines() if line.startswith("agent_outcomes_total{")
        )
        all_series = sum(1 for line in text.decode().splitlines() if line and line[0] != "#")

        def row(label: str, value: str, ratio: str = "") -> None:
            print(f"{label:<56} {value:>16} {ratio:>12}")

        events = batch_n * BATCH / args.seconds
        row("measure", "value", "vs baseline")
        row("counter-inc baseline (Counter.inc() per s)", f"{inc:,.0f}", "1.00")
        row("batched ingestion, durable (events/s)", f"{events:,.0f}", f"{events / inc:.3f}")
        for writers in WRITERS:
            report_writers(writers, runs, args.seconds, row)
        row("scrape: agent_outcomes_total series", f"{series:,}")
        row("scrape: all samples", f"{all_series:,}")
        row(
            "scrape time median / max (ms)",
            f"{statistics.median(scrape_times) * 1000:.1f} / {max(scrape_times) * 1000:.1f}",
        )
        row("exporter resident memory (MB)", f"{rss_mb(procs[0].pid):.1f}")
        print(
            f"(load: one client thread driving keep-alive connections, {args.seconds:.0f} s "
            f"per measure, {args.repeat} run(s) of each single-event measure; batches of "
            f"{BATCH} from {CLIENTS} writers; {os.cpu_count()} cores shared by load and server)"
        )
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=20)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
