"""Start a real VictoriaMetrics (single node) and vmalert on loopback for a test, and query
them.

VictoriaMetrics runs with ``-search.latencyOffset=0s``: by default it answers an instant
query for a time within the last 30 s as of 30 s earlier (data that recent may be
incomplete; only a ``nocache=1`` query is exempt), so vmalert, which asks about now at every
evaluation, would read the counters half a minute late. With ``-search.disableCache`` no
answer comes from its response cache, which samples written after the fact (a backfill, as
when a test copies Prometheus' samples in) would not update.
"""

from __future__ import annotations

import json
import shutil
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from harness import process, wait_http
from realprom import Prometheus, free_port


def binary(name: str) -> str:
    """The path of VictoriaMetrics' tool ``name``; fails the test if it is missing."""
    path = shutil.which(name)
    if path is None:
        raise AssertionError(f"{name} is not on PATH: run scripts/setup (victoria-metrics)")
    return path


class VictoriaMetrics(Prometheus):
    """A running VictoriaMetrics: its Prometheus-compatible query API, and writes."""

    def import_series(self, series: Sequence[dict[str, Any]]) -> None:
        """Store ``series`` (``metric``: labels with ``__name__``; ``values``;
        ``timestamps`` in milliseconds) and make them searchable at once."""
        body = "\n".join(json.dumps(s) for s in series).encode()
        request = urllib.request.Request(f"{self.url}/api/v1/import", data=body, method="POST")
        with urllib.request.urlopen(request, timeout=30):
            pass
        self.flush()

    def flush(self) -> None:
        """Make every sample received so far searchable (by default within a second)."""
        with urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=30):
            pass


@contextmanager
def running_victoriametrics(
    folder: Path, targets: Sequence[str] = (), *, interval: str = "1s"
) -> Iterator[VictoriaMetrics]:
    """VictoriaMetrics storing in ``folder``, scraping ``targets`` (host:port, job
    ``agent-slo``) every ``interval``; stopped on exit."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    args = [
        binary("victoria-metrics"),
        f"-httpListenAddr=127.0.0.1:{port}",
        f"-storageDataPath={folder / 'data'}",
        "-search.latencyOffset=0s",
        "-search.disableCache",
    ]
    if targets:
        scrape = {
            "global": {"scrape_interval": interval},
            "scrape_configs": [
                {"job_name": "agent-slo", "static_configs": [{"targets": list(targets)}]}
            ],
        }
        (folder / "scrape.yml").write_text(yaml.safe_dump(scrape))
        args.append(f"-promscrape.config={folder / 'scrape.yml'}")
    url = f"http://127.0.0.1:{port}"
    with process(args, folder / "victoria-metrics.log"):
        wait_http(f"{url}/health")
        yield VictoriaMetrics(url)


class VMAlert:
    """A running vmalert: its rules' state and its alerts."""

    def __init__(self, url: str) -> None:
        self.url = url

    def _get(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=10) as response:
            return json.loads(response.read())["data"]

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts pending or firing now, each with its ``labels`` and ``state``."""
        return list(self._get("/api/v1/alerts")["alerts"] or [])

    def rules(self) -> list[dict[str, Any]]:
        """Every rule of every group, with its last evaluation's error and sample count."""
        return [rule for group in self._get("/api/v1/rules")["groups"] for rule in group["rules"]]


@contextmanager
def running_vmalert(
    folder: Path,
    victoriametrics: str,
    rule_files: Sequence[Path],
    *,
    interval: str,
    notifier: str,
    flush: str = "100ms",
) -> Iterator[VMAlert]:
    """vmalert evaluating ``rule_files`` against ``victoriametrics`` (a URL) every
    ``interval`` (groups without their own), writing the recorded series back to it and
    sending alerts to the Alertmanager at ``notifier``; stopped on exit.

    The recorded series are flushed every ``flush`` (100 ms by default), so that with
    VictoriaMetrics' one second until a sample is searchable, every evaluation reads the
    results of the one before.
    """
    port = free_port()
    args = [
        binary("vmalert"),
        f"-httpListenAddr=127.0.0.1:{port}",
        f"-datasource.url={victoriametrics}",
        f"-remoteWrite.url={victoriametrics}",
        f"-remoteWrite.flushInterval={flush}",
        f"-evaluationInterval={interval}",
        f"-notifier.url={notifier}",
        *(f"-rule={path}" for path in rule_files),
    ]
    url = f"http://127.0.0.1:{port}"
    with process(args, folder / "vmalert.log"):
        wait_http(f"{url}/health")
        yield VMAlert(url)
