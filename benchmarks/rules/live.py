"""Each rule set loaded by a Prometheus of its own, evaluating "now" over the backfilled history.

Every rule set gets its own Prometheus on a copy (hard links) of the settled TSDB, with only
that rule set loaded from the same file paths as the backfill (so every group keeps its grid),
and a baseline Prometheus on another copy loads no rules. All of them scrape the same exporter
stand-in: the counters' values at T, unchanging (the runs stop at T; Prometheus sees a scrape
gap from T to its start, as after an outage). They run side by side until every group has been
evaluated at least once and for at least ``min_seconds``; Prometheus's own group durations
come from ``/api/v1/rules`` polled throughout (every evaluation seen), memory from VmHWM and
CPU time from ``/proc``.
"""

from __future__ import annotations

import contextlib
import http.server
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .backfill import GLOBAL_INTERVAL
from .prom import Prometheus, assemble, serving
from .rulesets import RuleSet

__all__ = ["Live", "feeder", "run_live"]

BASELINE = "baseline"


@contextlib.contextmanager
def feeder(values: dict[str, int]) -> Iterator[str]:
    """An HTTP server exposing ``values`` (series text → value) on /metrics; its host:port."""
    body = (
        "# TYPE agent_outcomes_total counter\n"
        + "".join(f"{series} {value}\n" for series, value in sorted(values.items()))
    ).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Live:
    """What one live Prometheus showed."""

    key: str
    groups: dict[tuple[str, str], list[float]] = field(default_factory=dict)  # durations (s)
    intervals: dict[tuple[str, str], int] = field(default_factory=dict)  # ms
    last_seen: dict[tuple[str, str], str] = field(default_factory=dict)
    peak_rss: int = 0
    cpu: float = 0.0  # s of CPU from ready to the end
    seconds: float = 0.0  # from ready to the end
    missed: float = 0.0  # iterations missed

    def observe(self, prom: Prometheus) -> None:
        """Record every evaluation finished since the last call."""
        for group in prom.rule_groups():
            key = (group["file"], group["name"])
            self.intervals[key] = round(float(group["interval"]) * 1000)
            self.groups.setdefault(key, [])
            last = group.get("lastEvaluation", "")
            if last and not last.startswith("0001") and last != self.last_seen.get(key):
                self.last_seen[key] = last
                self.groups[key].append(float(group["evaluationTime"]))

    @property
    def evaluated(self) -> int:
        """Groups evaluated at least once."""
        return sum(1 for d in self.groups.values() if d)

    @property
    def evaluations(self) -> int:
        """Group evaluations seen."""
        return sum(len(d) for d in self.groups.values())

    @property
    def cycle(self) -> float:
        """One evaluation of every group: the sum of each group's median duration (s)."""
        return sum(statistics.median(d) for d in self.groups.values() if d)

    @property
    def per_hour(self) -> float:
        """Seconds of rule evaluation an hour, each group at its own interval."""
        return sum(
            statistics.median(d) * 3_600_000 / self.intervals[k]
            for k, d in self.groups.items()
            if d
        )

    @property
    def slowest(self) -> float:
        """The longest single group evaluation seen (s)."""
        return max((max(d) for d in self.groups.values() if d), default=0.0)


def run_live(
    rulesets: Sequence[RuleSet],
    rule_files: dict[str, list[Path]],
    settled: Path,
    work: Path,
    last_values: dict[str, int],
    *,
    log: Callable[[str], None],
    min_seconds: float,
    max_seconds: float,
) -> dict[str, Live]:
    """Run every rule set and the baseline side by side; what each showed."""
    lives = {key: Live(key) for key in [BASELINE, *(rs.key for rs in rulesets)]}
    with feeder(last_values) as target, contextlib.ExitStack() as stack:
        proms: dict[str, Prometheus] = {}
        for key in lives:
            data = assemble(work / f"live-{key}", [settled])
            config = {
                "global": {
                    "scrape_interval": f"{GLOBAL_INTERVAL // 1000}s",
                    "evaluation_interval": f"{GLOBAL_INTERVAL // 1000}s",
                },
                "rule_files": [str(p) for p in rule_files.get(key, [])],
                "scrape_configs": [
                    {
                        "job_name": "agent-slo",
                        "honor_labels": True,
                        "static_configs": [{"targets": [target]}],
                    }
                ],
            }
            proms[key] = stack.enter_context(
                serving(data, config, work / f"prometheus-live-{key}.log")
            )
        log(f"live: {len(proms)} Prometheus running (baseline and {len(rulesets)} rule sets)")
        started = time.monotonic()
        while True:
            time.sleep(5)
            for key, prom in proms.items():
                lives[key].observe(prom)
            elapsed = time.monotonic() - started
            done = all(
                live.evaluated == len(live.groups) for k, live in lives.items() if k != BASELINE
            )
            if (done and elapsed >= min_seconds) or elapsed >= max_seconds:
                break
        for key, prom in proms.items():
            live = lives[key]
            live.peak_rss = prom.peak_rss()
            live.cpu = prom.cpu_seconds() - prom.cpu_at_ready
            live.seconds = time.monotonic() - prom.ready_at
            live.missed = prom.metrics().get("prometheus_rule_group_iterations_missed_total", 0.0)
        log(f"live: stopped after {time.monotonic() - started:.0f} s")
    return lives
