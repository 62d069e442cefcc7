"""Benchmark: the exporter's durable ingestion, single-event latency, and scrape at 10,000 series.

Run: .venv/bin/python -m benchmarks.exporter_bench [--seconds S]

The exporter runs as its own process (`agent-slo serve`, SQLite state, synchronous=FULL);
the load comes from client threads in this process over keep-alive HTTP on loopback.
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
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
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


def post_load(
    port: int, bodies: list[bytes], seconds: float, clients: int = CLIENTS
) -> tuple[int, list[float]]:
    """``clients`` threads post ``bodies`` in turn for ``seconds``; requests done and
    latencies."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    stop = time.monotonic() + seconds

    def client(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Content-Type": "application/json"}
        n = i
        while time.monotonic() < stop:
            body = bodies[n % len(bodies)]
            n += clients
            start = time.perf_counter()
            conn.request("POST", "/v1/outcomes", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            latencies[i].append(time.perf_counter() - start)
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}")
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    flat = [x for per in latencies for x in per]
    return len(flat), flat


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


def main() -> None:
    """Run every measurement and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
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
        requests = {}
        for writers in WRITERS:
            for name, target in (("noop", noop_port), ("stdlib", stdlib_port), ("single", port)):
                requests[name, writers] = post_load(target, single, args.seconds, writers)
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
            noop_n = len(requests["noop", writers][1])
            noop_rps = noop_n / args.seconds
            row(f"{writers} writers: noop-http baseline (requests/s)", f"{noop_rps:,.0f}", "1.00")
            for name, label in (("stdlib", "noop on http.server"), ("single", "single-event")):
                n = len(requests[name, writers][1])
                rps = n / args.seconds
                row(
                    f"{writers} writers: {label} (requests/s)",
                    f"{rps:,.0f}",
                    f"{rps / noop_rps:.2f}",
                )
            for name, label in (
                ("noop", "noop-http"),
                ("stdlib", "noop on http.server"),
                ("single", "single-event"),
            ):
                _, lat = requests[name, writers]
                row(
                    f"{writers} writers: {label} latency p50 / p99 (ms)",
                    f"{pct(lat, 0.5):.2f} / {pct(lat, 0.99):.2f}",
                )
        row("scrape: agent_outcomes_total series", f"{series:,}")
        row("scrape: all samples", f"{all_series:,}")
        row(
            "scrape time median / max (ms)",
            f"{statistics.median(scrape_times) * 1000:.1f} / {max(scrape_times) * 1000:.1f}",
        )
        row("exporter resident memory (MB)", f"{rss_mb(procs[0].pid):.1f}")
        print(
            f"(load: client threads on keep-alive connections, {args.seconds:.0f} s per "
            f"measure; batches of {BATCH} from {CLIENTS} writers; {os.cpu_count()} cores "
            "shared by load and server)"
        )
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=20)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
