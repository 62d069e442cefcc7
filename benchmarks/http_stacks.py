"""HTTP stacks for the exporter, side by side: throughput, latency, and slow clients.

Each candidate serves a do-nothing ``POST /v1/outcomes`` (read the body, answer a small JSON)
in a process of its own on loopback. Two measures per stack:

- single-event load: ``--clients`` threads, each on one keep-alive connection, POST one
  small event after another for ``--seconds``; requests a second and latency percentiles;
- slow clients: ``--slow`` connections that send a request line and then one header line
  every 2 s, never finishing; meanwhile one normal client POSTs every 0.25 s. Reported: how
  many of its requests were answered within 2 s, the slowest answer, the server's threads
  and resident memory while the slow connections are held, and how many of them the server
  had closed by the end (a deadline for a whole request closes them all).

The baseline is the standard library's ``http.server`` (a thread per connection), which the
exporter ran on until 2026-12; ``agent-slo (asyncio + h11)`` is the exporter's own bounded
server (exporter/http.py) with its default limits. ``--files N`` runs each server under an
open-file limit of N (1,024 is a common default). After the slow phase every slow
connection is reset at once, and the time until a normal request is answered is reported.
Run: ``.venv/bin/python -m benchmarks.http_stacks`` (the candidates come from
``pip install -e '.[bench-http]'``).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import importlib.util
import platform
import resource
import socket
import struct
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

BODY = b'{"workflow":"code-review","outcome":"success"}'
REPLY = b'{"accepted":1,"duplicates":0,"folded":0}'

SERVERS = {
    "http.server": (
        None,
        """
        import socket
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def setup(self):
                super().setup()  # as the exporter: no Nagle delay between headers and body
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(REPLY)))
                self.end_headers()
                self.wfile.write(REPLY)
            def log_message(self, *args):
                pass
        class S(ThreadingHTTPServer):
            daemon_threads = True
        S(("127.0.0.1", PORT), H).serve_forever()
        """,
    ),
    "agent-slo (asyncio + h11)": (
        None,
        """
        from exporter.http import HttpLimits, HttpServer, Response
        class App:
            def head(self, request):
                return None
            def handle(self, request):
                return Response(200, REPLY)
            def refuse(self, client, status, reason, message):
                return Response(status, b"{}")
        HttpServer(App(), "127.0.0.1", PORT, HttpLimits()).serve_forever()
        """,
    ),
    "waitress": (
        "waitress",
        """
        import waitress
        def app(environ, start_response):
            environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            start_response("200 OK", [("Content-Type", "application/json"),
                                      ("Content-Length", str(len(REPLY)))])
            return [REPLY]
        waitress.serve(app, host="127.0.0.1", port=PORT, threads=8, _quiet=True)
        """,
    ),
    "uvicorn (h11)": (
        "uvicorn",
        """
        import uvicorn
        async def app(scope, receive, send):
            if scope["type"] != "http":
                return
            more = True
            while more:
                message = await receive()
                more = message.get("more_body", False)
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(REPLY)).encode())]})
            await send({"type": "http.response.body", "body": REPLY})
        uvicorn.run(app, host="127.0.0.1", port=PORT, http="h11", log_level="error",
                    lifespan="off", limit_concurrency=1000)
        """,
    ),
    "aiohttp": (
        "aiohttp",
        """
        from aiohttp import web
        async def post(request):
            await request.read()
            return web.Response(body=REPLY, content_type="application/json")
        app = web.Application()
        app.router.add_post("/v1/outcomes", post)
        web.run_app(app, host="127.0.0.1", port=PORT, print=None, access_log=None)
        """,
    ),
}


@dataclass
class Load:
    requests: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000


@dataclass
class Slow:
    held: int
    answered: int
    asked: int
    slowest: float
    threads: int
    rss_mb: float
    cut: int  # slow connections the server had closed by the end
    after_close: float  # seconds until a normal request is answered once all are reset


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serving(name: str, files: int) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    _, code = SERVERS[name]
    port = free_port()
    source = f"PORT = {port}\nREPLY = {REPLY!r}\n" + textwrap.dedent(code)

    def limit() -> None:
        if files:
            resource.setrlimit(resource.RLIMIT_NOFILE, (files, files))

    process = subprocess.Popen([sys.executable, "-c", source], preexec_fn=limit)  # noqa: PLW1509
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            time.sleep(0.05)
        yield port, process
    finally:
        process.kill()
        process.wait()


def post(conn: http.client.HTTPConnection) -> None:
    conn.request("POST", "/v1/outcomes", BODY, {"Content-Type": "application/json"})
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        raise RuntimeError(f"status {response.status}")


def load(port: int, clients: int, seconds: float) -> Load:
    latencies: list[list[float]] = [[] for _ in range(clients)]
    stop = time.monotonic() + seconds

    def client(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.monotonic() < stop:
            started = time.perf_counter()
            post(conn)
            latencies[i].append(time.perf_counter() - started)
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    flat = [x for per in latencies for x in per]
    return Load(len(flat), time.monotonic() - started, flat)


def proc_status(pid: int) -> tuple[int, float]:
    threads, rss = 0, 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            threads = int(line.split()[1])
        elif line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
    return threads, rss


def slow(port: int, pid: int, connections: int, seconds: float) -> Slow:
    socks: list[socket.socket] = []
    stop = threading.Event()
    for _ in range(connections):
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=2)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.sendall(b"POST /v1/outcomes HTTP/1.1\r\nHost: x\r\n")
            socks.append(sock)
        except OSError:
            break

    def dribble() -> None:
        while not stop.wait(2):
            for sock in socks:
                with contextlib.suppress(OSError):
                    sock.sendall(b"X-Slow: 1\r\n")

    dribbler = threading.Thread(target=dribble, daemon=True)
    dribbler.start()
    asked = answered = 0
    slowest = 0.0
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            asked += 1
            started = time.perf_counter()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                post(conn)
                conn.close()
                answered += 1
                slowest = max(slowest, time.perf_counter() - started)
            except (OSError, http.client.HTTPException, RuntimeError):
                slowest = max(slowest, time.perf_counter() - started)
            time.sleep(0.25)
        threads, rss = proc_status(pid)
        cut = sum(1 for sock in socks if closed_by_peer(sock))
    finally:
        stop.set()
        for sock in socks:
            sock.close()  # a reset: linger on, zero seconds
    return Slow(len(socks), answered, asked, slowest, threads, rss, cut, first_answer(port))


def first_answer(port: int, give_up: float = 60.0) -> float:
    """Seconds until a normal request is answered (NaN if not within ``give_up``)."""
    started = time.monotonic()
    while time.monotonic() - started < give_up:
        with contextlib.suppress(OSError, http.client.HTTPException, RuntimeError):
            post(http.client.HTTPConnection("127.0.0.1", port, timeout=2))
            return time.monotonic() - started
    return float("nan")


def closed_by_peer(sock: socket.socket) -> bool:
    """Whether the server has closed (or reset) a connection we still hold."""
    sock.setblocking(False)
    try:
        while sock.recv(65536):  # an answer (408, 503...) may come before the end
            pass
    except BlockingIOError:
        return False
    except OSError:
        return True
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--slow", type=int, default=900, help="slow connections to hold")
    parser.add_argument("--slow-seconds", type=float, default=10.0)
    parser.add_argument(
        "--files", type=int, default=0, help="open-file limit of each server (0: inherited)"
    )
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the load side needs many
    missing = [
        name
        for name, (module, _) in SERVERS.items()
        if module and importlib.util.find_spec(module) is None
    ]
    if missing:
        sys.exit(f"not installed: {', '.join(missing)}; run: pip install -e '.[bench-http]'")
    print(
        f"{platform.processor() or platform.machine()}, {platform.python_version()}, "
        f"{args.clients} clients x {args.seconds:.0f} s; {args.slow} slow connections; "
        f"open-file limit of the servers: {args.files or soft}"
    )
    results: dict[str, tuple[Load, Slow]] = {}
    for name in SERVERS:
        with serving(name, args.files) as (port, process):
            post(http.client.HTTPConnection("127.0.0.1", port, timeout=10))  # warm-up
            results[name] = (
                load(port, args.clients, args.seconds),
                slow(port, process.pid, args.slow, args.slow_seconds),
            )
        print(f"  {name}: done", file=sys.stderr)
    base = results["http.server"][0].rate
    print(
        "| stack | requests/s | vs http.server | p50 ms | p99 ms | slow held "
        "| slow closed by the server | normal answered within 2 s | slowest s | threads "
        "| RSS MB | answered after a mass reset, s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, (ld, sl) in results.items():
        print(
            f"| {name} | {ld.rate:,.0f} | {ld.rate / base:.2f} | {ld.percentile(0.5):.2f} "
            f"| {ld.percentile(0.99):.2f} | {sl.held} | {sl.cut} | {sl.answered} of {sl.asked} "
            f"| {sl.slowest:.2f} | {sl.threads} | {sl.rss_mb:.0f} | {sl.after_close:.2f} |"
        )


if __name__ == "__main__":
    main()
