"""Prometheus and promtool as child processes: start, query, measure, stop."""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "Client",
    "Prometheus",
    "QueryError",
    "assemble",
    "free_port",
    "om_value",
    "promtool",
    "serving",
]

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class QueryError(RuntimeError):
    """Prometheus answered a query with an error."""


class Client:
    """Prometheus's HTTP API on one persistent connection (one per thread)."""

    def __init__(self, url: str) -> None:
        self.url = url
        parsed = urllib.parse.urlsplit(url)
        self._conn = http.client.HTTPConnection(parsed.hostname or "", parsed.port, timeout=900)

    def get(self, path: str) -> tuple[int, bytes]:
        """GET ``path`` on the persistent connection."""
        try:
            self._conn.request("GET", path)
            response = self._conn.getresponse()
        except (http.client.HTTPException, OSError):
            self._conn.close()  # one retry on a fresh connection
            self._conn.request("GET", path)
            response = self._conn.getresponse()
        return response.status, response.read()

    def post(self, path: str) -> tuple[int, bytes]:
        """POST ``path`` without a body."""
        self._conn.request("POST", path)
        response = self._conn.getresponse()
        return response.status, response.read()

    def api(self, path: str, params: dict[str, str]) -> Any:
        """The ``data`` of an API answer; QueryError on an error answer."""
        status, body = self.get(f"{path}?{urllib.parse.urlencode(params)}")
        answer = json.loads(body)
        if status != 200 or answer.get("status") != "success":
            raise QueryError(f"{answer.get('error', status)} in {params.get('query', path)}")
        return answer["data"]

    def query(self, expr: str, at: int, *, stats: bool = False) -> dict[str, Any]:
        """Instant query at ``at`` (ms); the ``data`` part of the answer."""
        params = {"query": expr, "time": seconds(at)}
        if stats:
            params["stats"] = "all"
        return dict(self.api("/api/v1/query", params))

    def vector(self, expr: str, at: int) -> list[tuple[dict[str, str], float]]:
        """Instant query at ``at``: (labels, value) of every series."""
        result = self.query(expr, at)["result"]
        return [(dict(r["metric"]), float(r["value"][1])) for r in result]

    def scalar(self, expr: str, at: int) -> float | None:
        """The one value of an instant query at ``at``; None when there is none."""
        values = self.vector(expr, at)
        if len(values) > 1:
            raise RuntimeError(f"{expr} returned {len(values)} series")
        return values[0][1] if values else None

    def query_range(self, expr: str, start: int, end: int, step: int) -> list[dict[str, Any]]:
        """Range query (ms); the result matrix."""
        params = {"query": expr, "start": seconds(start), "end": seconds(end)}
        params["step"] = seconds(step)
        return list(self.api("/api/v1/query_range", params)["result"])

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


class Prometheus(Client):
    """A Prometheus on a data directory, on loopback, with a configuration of our own."""

    def __init__(
        self, data_dir: Path, config: dict[str, Any], log: Path, extra: Sequence[str] = ()
    ) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        super().__init__(f"http://127.0.0.1:{self.port}")
        config_file = data_dir.parent / f"{data_dir.name}.prometheus.yml"
        config_file.write_text(yaml.safe_dump(config, sort_keys=False))
        self._log = log.open("ab")
        self.process = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={config_file}",
                f"--storage.tsdb.path={data_dir}",
                "--storage.tsdb.retention.time=3650d",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--query.max-samples=500000000",
                "--query.timeout=10m",
                "--log.level=warn",
                *extra,
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        self.cpu_at_ready = self.cpu_seconds()
        self.ready_at = time.monotonic()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Prometheus exited ({self.process.returncode}); see the log")
            try:
                if self.get("/-/ready")[0] == 200:
                    return
            except OSError:
                self._conn.close()
            time.sleep(0.2)
        raise RuntimeError("Prometheus did not become ready within 5 minutes")

    def metrics(self) -> dict[str, float]:
        """Prometheus's own metrics, summed over their labels."""
        _, body = self.get("/metrics")
        totals: dict[str, float] = {}
        for line in body.decode().splitlines():
            if not line or line.startswith("#"):
                continue
            name = line.split("{", 1)[0].split(" ", 1)[0]
            value = float(line.rsplit(" ", 1)[1])
            if not math.isnan(value):
                totals[name] = totals.get(name, 0.0) + value
        return totals

    def rule_groups(self) -> list[dict[str, Any]]:
        """The rule groups as /api/v1/rules reports them."""
        return list(self.api("/api/v1/rules", {})["groups"])

    def peak_rss(self) -> int:
        """Peak resident memory of the process so far (VmHWM), bytes."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmHWM in /proc/<pid>/status")

    def cpu_seconds(self) -> float:
        """User and system CPU time of the process so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def settle(self, log: Any, timeout: float = 900) -> None:
        """Wait for the TSDB's first compaction cycle (a minute after start) to be over."""
        deadline = time.monotonic() + timeout
        last: tuple[float, float] | None = None
        while time.monotonic() < deadline:
            now = self.metrics()
            state = (
                now.get("prometheus_tsdb_compactions_total", 0.0),
                now.get("prometheus_tsdb_blocks_loaded", 0.0),
            )
            busy = now.get("prometheus_tsdb_compaction_populating_block", 0.0)
            triggered = now.get("prometheus_tsdb_compactions_triggered_total", 0.0)
            if triggered >= 1 and busy == 0 and state == last:
                log(f"TSDB settled: {state[1]:.0f} blocks after {state[0]:.0f} compactions")
                return
            last = state if triggered >= 1 and busy == 0 else None
            time.sleep(3)
        raise RuntimeError("the TSDB's compaction did not settle")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a minute; close the log."""
        self._conn.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def seconds(ms: int) -> str:
    """Milliseconds as the API's seconds, exactly."""
    sign = "-" if ms < 0 else ""
    ms = abs(ms)
    return f"{sign}{ms // 1000}.{ms % 1000:03d}"


@contextlib.contextmanager
def serving(data_dir: Path, config: dict[str, Any], log: Path) -> Iterator[Prometheus]:
    """A Prometheus on ``data_dir`` for the duration of the block; always stopped."""
    prom = Prometheus(data_dir, config, log)
    try:
        yield prom
    finally:
        prom.stop()


def assemble(target: Path, sources: Sequence[Path]) -> Path:
    """A fresh data directory of hard links to every block in ``sources``.

    Blocks are immutable and Prometheus replaces a block by writing a new directory and
    unlinking the old one, so the sources stay intact whatever the new data directory's
    Prometheus compacts.
    """
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for source in sources:
        if not source.exists():
            continue
        for block in source.iterdir():
            if (block / "meta.json").exists():
                shutil.copytree(block, target / block.name, copy_function=os.link)
    return target


def promtool(*args: str) -> str:
    """Run promtool; its output, or fail with it."""
    done = subprocess.run(["promtool", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"promtool {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def om_value(value: float) -> str:
    """A sample value in OpenMetrics text."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 2**53:
        return str(int(value))
    return repr(value)
