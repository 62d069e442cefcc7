"""Helpers for tests that run real services: child processes, a webhook receiver for
Alertmanager, the example Alertmanager routing pointed at it, and scrape targets serving
known series."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "alertmanager" / "alertmanager.yml"


class Webhook:
    """Collects what Alertmanager posts: (path, alert labels) for every firing alert."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, str]]] = []
        self.lock = threading.Lock()
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with webhook.lock:
                    for alert in body["alerts"]:
                        if alert["status"] == "firing":
                            webhook.received.append((self.path, alert["labels"]))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def alerts(self, name: str) -> list[tuple[str, dict[str, str]]]:
        with self.lock:
            return [(p, labels) for p, labels in self.received if labels["alertname"] == name]

    def wait_for(self, name: str, timeout: float) -> tuple[str, dict[str, str]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.alerts(name)
            if found:
                return found[0]
            time.sleep(0.2)
        raise AssertionError(f"no {name} notification within {timeout}s: {self.received}")


class ScrapeTarget:
    """Serves, on a free loopback port, the Prometheus text ``text()`` returns at each
    scrape; ``close()`` stops it."""

    def __init__(self, text: Callable[[], str]) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = text().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def process(args: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A child process, killed on exit whatever happens."""
    with log.open("ab") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_http(url: str, timeout: float = 30.0) -> None:
    """Poll ``url`` until it answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not come up")


def alertmanager_config(receiver_port: int) -> dict[str, Any]:
    """The example routing, pointed at a receiver on ``receiver_port``, with test-sized waits."""
    config = yaml.safe_load(EXAMPLE.read_text())
    for receiver in config["receivers"]:
        for hook in receiver["webhook_configs"]:
            hook["url"] = hook["url"].replace("127.0.0.1:9095", f"127.0.0.1:{receiver_port}")

    def shrink(route: dict[str, Any]) -> None:
        for key in ("group_wait", "group_interval"):
            if key in route:
                route[key] = "1s"
        for child in route.get("routes", []):
            shrink(child)

    shrink(config["route"])
    return config


@contextmanager
def running_alertmanager(folder: Path, port: int, receiver_port: int) -> Iterator[str]:
    """A real Alertmanager on ``port`` with the example routing to ``receiver_port``; its URL."""
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    assert binary, "Alertmanager is missing: run scripts/setup"
    (folder / "am.yml").write_text(yaml.safe_dump(alertmanager_config(receiver_port)))
    args = [
        binary,
        f"--config.file={folder / 'am.yml'}",
        f"--storage.path={folder / 'am'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    with process(args, folder / "alertmanager.log"):
        wait_http(f"http://127.0.0.1:{port}/-/ready")
        yield f"http://127.0.0.1:{port}"


class ReceiverLog:
    """What `agent-slo webhook` printed: one line per alert."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def lines(self) -> list[str]:
        return self.path.read_text().splitlines() if self.path.exists() else []

    def wait_for(self, line: re.Pattern[str] | str, timeout: float) -> str:
        """The first line that matches ``line`` whole (a string: that starts with it)."""
        pattern = re.compile(re.escape(line) + ".*") if isinstance(line, str) else line
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [x for x in self.lines() if pattern.fullmatch(x)]
            if found:
                return found[0]
            time.sleep(0.2)
        raise AssertionError(f"no line {pattern.pattern!r} within {timeout}s: {self.lines()}")


@contextmanager
def running_receiver(folder: Path, args: list[str], port: int) -> Iterator[ReceiverLog]:
    """`agent-slo webhook` run as ``args`` (the command and its options) on ``port``."""
    log = folder / "receiver.log"
    with process([*args, "--listen", f"127.0.0.1:{port}"], log):
        wait_http(f"http://127.0.0.1:{port}/healthz")
        yield ReceiverLog(log)
