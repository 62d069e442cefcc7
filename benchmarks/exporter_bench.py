"""Benchmark: the exporter's durable ingestion, single-event latency, and scrape at 10,000 series.

Run: .venv/bin/python benchmarks/exporter_bench.py [--seconds S]

The exporter runs as its own process (`agent-slo serve`, SQLite state, synchronous=FULL);
the load comes from client threads in this process over keep-alive HTTP on loopback.
Baselines measured in the same run:
- "counter-inc": a bare prometheus_client Counter.inc() loop, the ceiling of any Python
  exporter (nothing durable, no HTTP);
- "noop-http": a do-nothing handler on the same server stack (http.server's
  ThreadingHTTPServer, HTTP/1.1), the ceiling of requests per second here.
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

REPO = Path(__file__).resolve().parent.parent
CLIENTS = 8
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
        body = b'{"accepted":1,"duplicates":0,"folded":0}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


def noop_server(port: int) -> None:
    """Serve the do-nothing handler until killed."""
    server = ThreadingHTTPServer(("127.0.0.1", port), NoopHandler)
    server.daemon_threads = True
    server.serve_forever()


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


def post_load(port: int, bodies: list[bytes], seconds: float) -> tuple[int, list[float]]:
    """CLIENTS threads post ``bodies`` in turn for ``seconds``; requests done and latencies."""
    latencies: list[list[float]] = [[] for _ in range(CLIENTS)]
    stop = time.monotonic() + seconds

    def client(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Content-Type": "application/json"}
        n = i
        while time.monotonic() < stop:
            body = bodies[n % len(bodies)]
            n += CLIENTS
            start = time.perf_counter()
            conn.request("POST", "/v1/outcomes", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            latencies[i].append(time.perf_counter() - start)
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}")
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
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
    args = parser.parse_args()
    if args.noop_server:
        noop_server(args.noop_server)
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
        noop_port = free_port()
        procs.append(subprocess.Popen([sys.executable, __file__, "--noop-server", str(noop_port)]))
        wait_ready(port)
        wait_ready(noop_port, "/")

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
        noop_n, noop_lat = post_load(noop_port, single, args.seconds)
        single_n, single_lat = post_load(port, single, args.seconds)
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

        noop_rps = noop_n / args.seconds
        single_rps = single_n / args.seconds
        events = batch_n * BATCH / args.seconds
        print(f"{'measure':<52} {'value':>14} {'vs baseline':>12}")
        print(f"{'counter-inc baseline (Counter.inc() per s)':<52} {inc:>14,.0f} {'1.00':>12}")
        print(
            f"{'batched ingestion, durable (events/s)':<52} {events:>14,.0f} {events / inc:>12.3f}"
        )
        print(f"{'noop-http baseline (requests/s)':<52} {noop_rps:>14,.0f} {'1.00':>12}")
        print(
            f"{'single-event requests, durable (requests/s)':<52} {single_rps:>14,.0f} "
            f"{single_rps / noop_rps:>12.2f}"
        )
        print(
            f"{'  noop-http latency p50 / p99 (ms)':<52} "
            f"{pct(noop_lat, 0.5):>6.2f} / {pct(noop_lat, 0.99):<6.2f}"
        )
        print(
            f"{'  single-event latency p50 / p99 (ms)':<52} "
            f"{pct(single_lat, 0.5):>6.2f} / {pct(single_lat, 0.99):<6.2f}"
        )
        print(f"{'scrape: agent_outcomes_total series':<52} {series:>14,}")
        print(f"{'scrape: all samples':<52} {all_series:>14,}")
        print(
            f"{'scrape time median / max (ms)':<52} "
            f"{statistics.median(scrape_times) * 1000:>6.1f} / {max(scrape_times) * 1000:<6.1f}"
        )
        print(f"{'exporter resident memory (MB)':<52} {rss_mb(procs[0].pid):>14.1f}")
        print(
            f"(load: {CLIENTS} client threads, keep-alive, {args.seconds:.0f} s per measure; "
            f"batches of {BATCH}; {os.cpu_count()} cores shared by load and server)"
        )
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=20)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
