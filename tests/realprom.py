"""Start a real Prometheus on loopback for a test, and query it."""

from __future__ import annotations

import shutil
import socket
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from harness import process, wait_http

from decisions import promapi
from rulegen import formats, pipeline, writer


def generated_rules(
    folder: Path, spec: str, *, step: str | None = None, fmt: str = "prometheus"
) -> list[Path]:
    """The rule files generated from ``spec`` (written to ``folder/spec.yaml``), in
    ``folder/generated/rules``; with ``step``, the 5-minute step group evaluated every
    ``step`` instead, so that a test sees steps within seconds."""
    (folder / "spec.yaml").write_text(spec)
    out = folder / "generated"
    workflows = pipeline.load([folder / "spec.yaml"])
    writer.write(out, pipeline.generate(workflows, formats.Target(fmt)).files)
    files = sorted(out.glob("rules/*.rules.yml"))
    for path in files if step else []:
        path.write_text(path.read_text().replace("interval: 5m", f"interval: {step}"))
    return files


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_exporter(folder: Path, specs: Path, port: int | None = None) -> Iterator[str]:
    """`agent-slo serve` of ``specs`` on a free loopback port (or ``port``), its state and
    log in ``folder``: its address (host:port), ready for writes. Stopped on exit."""
    folder.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    serve = [
        str(Path(sys.executable).parent / "agent-slo"), "serve", "--specs", str(specs),
        "--port", str(port), "--state", str(folder / "state.db"),
    ]  # fmt: skip
    with process(serve, folder / "exporter.log"):
        wait_http(f"http://127.0.0.1:{port}/readyz")
        yield f"127.0.0.1:{port}"


class Prometheus(promapi.Prometheus):
    """A running Prometheus: the product's client, and waiting for what a test expects."""

    def value(self, expr: str) -> float | None:
        """The value of an expression that returns at most one series."""
        result = self.query(expr)
        assert len(result) <= 1, result
        return float(result[0]["value"][1]) if result else None

    def wait_value(self, expr: str, expected: float, timeout: float = 30.0) -> None:
        """Poll until ``expr`` reads ``expected``; fail with the last reading otherwise."""
        deadline = time.monotonic() + timeout
        got = None
        while time.monotonic() < deadline:
            got = self.value(expr)
            if got == expected:
                return
            time.sleep(0.5)
        raise AssertionError(f"{expr} read {got}, not {expected}, within {timeout}s")

    def wait_for(self, expr: str, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Poll until ``expr`` returns data; fail with the last answer otherwise."""
        deadline = time.monotonic() + timeout
        result: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            result = self.query(expr)
            if result:
                return result
            time.sleep(0.5)
        raise AssertionError(f"no data for {expr!r} within {timeout}s")


@contextmanager
def running_prometheus(
    tmp_path: Path,
    targets: Sequence[str],
    *,
    rule_files: Sequence[Path] = (),
    interval: str = "1s",
    alertmanagers: Sequence[str] = (),
    honor_labels: bool = False,
    remote_write: Sequence[str] = (),
    config: dict[str, Any] | None = None,
) -> Iterator[Prometheus]:
    """Prometheus scraping ``targets`` (host:port) every ``interval``, sending every sample
    it stores (scraped and recorded) to the ``remote_write`` URLs; stopped on exit.

    ``config`` replaces the configuration built from the other arguments.
    """
    binary = shutil.which("prometheus")
    if binary is None:
        raise AssertionError("prometheus is not on PATH: run scripts/setup")
    port = free_port()
    config = config or {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(p) for p in rule_files],
        "scrape_configs": [
            {
                "job_name": "agent-slo",
                "honor_labels": honor_labels,
                "static_configs": [{"targets": list(targets)}],
            }
        ],
    }
    if remote_write:
        config["remote_write"] = [
            {"url": url, "queue_config": {"batch_send_deadline": "100ms"}} for url in remote_write
        ]
    if alertmanagers:
        config["alerting"] = {
            "alertmanagers": [{"static_configs": [{"targets": list(alertmanagers)}]}]
        }
    config_path = tmp_path / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config))
    args = [
        binary,
        f"--config.file={config_path}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    url = f"http://127.0.0.1:{port}"
    with process(args, tmp_path / "prometheus.log") as proc:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError((tmp_path / "prometheus.log").read_text()) from None
                time.sleep(0.2)
        yield Prometheus(url)
