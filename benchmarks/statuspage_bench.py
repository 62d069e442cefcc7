"""The status page with 200 SLOs: how long the overview and an SLO page take to load, against
baselines measured in the same run.

    .venv/bin/python -m benchmarks.statuspage_bench            # --slos N --repeat N

Specs for ``--slos`` SLOs (40 workflows of 5 by default: 8 teams, the three tiers, two
policies and a two-grant autonomy ladder each) are written to a temporary folder. A real
Prometheus holds what the generated rules would have recorded for them, backfilled with
``promtool tsdb create-blocks-from openmetrics``: every SLO's budget left every 5 minutes for
30 days (the history behind the autonomy streaks), its period figures and a few firing
alerts for the last hour; for the SLO whose page is measured, its 5-minute steps, every
window's error ratio and its raw outcome counters for 30 days. The page reads them as of the
end of that history (a fixed clock).

Measured, each ``--repeat`` times (median and 90th percentile), over HTTP from the page's
own server (``agent-slo ui``'s):

- the overview (``/``) and its JSON (``/api/overview``), against two baselines: the same
  bytes from a static file server (the standard library's), and the Prometheus queries the
  overview needs, sent as the page sends them (both rounds, each at once; the floor of any
  page that reads the same series);
- the streaks read from every hourly check of the budget (one range query in three parts,
  every value parsed, :func:`decisions.autonomy.from_checks` over them), as the overview
  read them before it counted good checks a day: the cost that way saves;
- an SLO page (``/slo/<name>``), against ``agent-slo report prometheus --slo``'s report
  alone (the page shows that report and adds its charts and windows).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import math
import os
import platform
import random
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from benchmarks.rules.prom import promtool, serving
from decisions.autonomy import LOOKBACK, STEP, from_checks
from decisions.promapi import Prometheus
from decisions.report import Options, prometheus_report
from rulegen.resolve import load
from statuspage import queries, streaks
from statuspage.app import StatusPage
from statuspage.overview import Catalog, Entry, requests
from statuspage.server import make_server

DAY = 86_400
FIVE_MINUTES = 300
TEAMS = 8
PER_WORKFLOW = 5
TIERS = ("low", "medium", "high")
CACHE_SECONDS = 15.0  # `agent-slo ui`'s default
WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d")


def write_specs(folder: Path, slos: int) -> None:
    """``slos`` SLOs, five a workflow."""
    rng = random.Random(7)
    for w in range((slos + PER_WORKFLOW - 1) // PER_WORKFLOW):
        count = min(PER_WORKFLOW, slos - w * PER_WORKFLOW)
        lines = [
            "apiVersion: agent-slo/v1",
            f"workflow: flow-{w:03d}",
            f"tier: {TIERS[w % 3]}",
            f"labels: {{team: team-{w % TEAMS}}}",
            "dimensions:",
            "  task: {max_values: 20}",
            "  model: {max_values: 5}",
            "alerting:",
            f"  runbook_url: https://runbooks.example.com/flow-{w:03d}",
            f"  dashboard_url: https://grafana.example.com/d/flow-{w:03d}",
            "policies:",
            "  - {name: warning, failure_rate_above: 8, action: Tighten the prompts.}",
            "  - {name: red_line, failure_rate_above: 20, action: Stop using the agent.}",
            "autonomy:",
            "  - {days_in_budget: 30, grant: More volume.}",
            "  - {days_in_budget: 60, grant: Skip one manual review.}",
            "slos:",
        ]
        for s in range(count):
            objective = rng.choice((90, 95, 97, 98, 99))
            lines += [
                f"  - name: flow-{w:03d}-slo-{s}",
                f"    description: Outcome SLO {s} of workflow {w}.",
                f"    objective: {objective}",
                "    sli: {outcomes: {bad: [rejected, wrong_action]}}",
            ]
        (folder / f"flow-{w:03d}.yaml").write_text("\n".join(lines) + "\n")


def history(catalog: Catalog, at: int, detailed: str) -> Iterator[str]:
    """OpenMetrics lines of what the rules would have recorded up to ``at``."""
    rng = random.Random(11)
    trends = {e.slo.name: rng.uniform(-0.3, 1.4) for e in catalog.entries}
    yield from _budgets(catalog, at, trends, rng)
    yield from _figures(catalog, at, trends, rng)
    yield from _detail(catalog, at, detailed, rng)
    yield "# EOF"


def _month(at: int) -> range:
    """Every 5 minutes of the 30 days and one hour up to ``at``."""
    return range(at - 30 * DAY - 3600, at + 1, FIVE_MINUTES)


def _budgets(
    catalog: Catalog, at: int, trends: dict[str, float], rng: random.Random
) -> Iterator[str]:
    """Every SLO's budget left every 5 minutes for 30 days: spent at its own pace."""
    month = _month(at)
    yield "# TYPE slo:period_error_budget_remaining:ratio gauge"
    for entry in catalog.entries:
        labels = f'slo="{entry.slo.name}",team="{entry.team}",workflow="{entry.workflow.name}"'
        spent = trends[entry.slo.name]
        for t in month:
            value = 1 - spent * (t - month[0]) / (at - month[0]) + rng.uniform(-0.02, 0.02)
            yield f"slo:period_error_budget_remaining:ratio{{{labels}}} {value:.6f} {t}"


def _figures(
    catalog: Catalog, at: int, trends: dict[str, float], rng: random.Random
) -> Iterator[str]:
    """The period's figures for the last hour, and a firing alert where the budget is
    mostly spent."""
    hour = range(at - 3600 + FIVE_MINUTES, at + 1, FIVE_MINUTES)
    lines: dict[str, list[str]] = {}
    for entry in catalog.entries:
        budget = float(1 - entry.slo.phases[-1].objective)
        spent = trends[entry.slo.name]
        runs = 2000 + rng.randrange(8000)
        own = f'slo="{entry.slo.name}",workflow="{entry.workflow.name}"'
        for name, labels, value in (
            ("slo:objective:ratio", own, 1 - budget),
            ("slo:period_events:increase", own + ',window="30d"', runs),
            ("slo:period_bad_events:increase", own + ',window="30d"', round(spent * budget * runs)),
            ("slo:period_allowed_bad_events:count", own, budget * runs),
            ("slo:current_burn_rate:ratio", own, max(0.0, spent) * rng.uniform(0.5, 2)),
        ):
            lines.setdefault(name, []).extend(f"{name}{{{labels}}} {value} {t}" for t in hour)
        if spent > 0.8:
            alert = (
                'alertname="ErrorBudgetBurn",alertstate="firing",long_window="1d",'
                f'severity="ticket",short_window="2h",{own}'
            )
            lines.setdefault("ALERTS", []).extend(f"ALERTS{{{alert}}} 1 {t}" for t in hour)
    for name, found in lines.items():
        yield f"# TYPE {name} gauge"
        yield from found


def _detail(catalog: Catalog, at: int, detailed: str, rng: random.Random) -> Iterator[str]:
    """What the page of ``detailed`` reads beyond the overview: its 5-minute steps, its
    windows' error ratios and its workflow's outcome counters."""
    month = _month(at)
    entry = catalog.by_name[detailed]
    own = f'slo="{detailed}",workflow="{entry.workflow.name}"'
    for kind in ("events", "bad_events"):
        yield f"# TYPE slo:{kind}:step5m gauge"
        for t in month:
            runs = rng.randrange(10, 40)
            yield f"slo:{kind}:step5m{{{own}}} {runs if kind == 'events' else runs // 12} {t}"
    for window in WINDOWS:
        yield f"# TYPE slo:sli_error:ratio_rate{window} gauge"
        for t in range(at - 12 * DAY, at + 1, FIVE_MINUTES):
            yield f"slo:sli_error:ratio_rate{window}{{{own}}} {rng.uniform(0, 0.1):.5f} {t}"
    yield "# TYPE agent_outcomes counter"
    for task in range(5):
        for model in ("model-a", "model-b"):
            for outcome in ("success", "rejected", "wrong_action"):
                labels = (
                    f'model="{model}",outcome="{outcome}",task="task-{task}",'
                    f'workflow="{entry.workflow.name}"'
                )
                total = 0
                for t in month:
                    total += rng.randrange(0, 3 if outcome == "success" else 2)
                    yield f"agent_outcomes_total{{{labels}}} {total} {t}"


@contextmanager
def serving_http(server: http.server.HTTPServer) -> Iterator[str]:
    """``server`` serving in a thread: its root URL."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def static_server(folder: Path) -> http.server.HTTPServer:
    """The standard library's file server on ``folder``, the baseline."""
    handler = functools.partial(_QuietFiles, directory=str(folder))
    return http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return


def fetch(url: str) -> bytes:
    """The body of ``url``; fails on anything but 200."""
    with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - loopback
        assert response.status == 200, url
        return bytes(response.read())


def timed(action: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median and 90th percentile of ``repeat`` runs of ``action``, in milliseconds (one
    run first, unmeasured)."""
    action()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(0.9 * len(times)))]


def main() -> None:
    """Build the data, serve it, measure, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slos", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="statuspage-bench-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "specs").mkdir()
        write_specs(tmp / "specs", args.slos)
        catalog = Catalog(load([tmp / "specs"]))
        at = (int(time.time()) // FIVE_MINUTES - 36) * FIVE_MINUTES  # 3 hours ago
        detailed = catalog.entries[0].slo.name
        started = time.perf_counter()
        with (tmp / "history.om").open("w") as out:
            samples = 0
            for line in history(catalog, at, detailed):
                out.write(line + "\n")
                samples += not line.startswith("#")
        promtool(
            "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=744h",
            str(tmp / "history.om"), str(tmp / "tsdb"),
        )  # fmt: skip
        print(f"backfilled {samples:,} samples in {time.perf_counter() - started:.1f} s")
        config = {"global": {"scrape_interval": "1m"}, "scrape_configs": []}
        with serving(tmp / "tsdb", config, tmp / "prometheus.log") as running:
            prom = Prometheus(running.url)
            cold = StatusPage(prom, catalog, clock=lambda: at)
            warm = StatusPage(prom, catalog, clock=lambda: at, cache_seconds=CACHE_SECONDS)
            with (
                serving_http(make_server(cold, "127.0.0.1", 0)) as ui,
                serving_http(make_server(warm, "127.0.0.1", 0)) as cached,
            ):
                overview_html = fetch(f"{ui}/")
                assert overview_html.count(b'class="slo-row"') == args.slos
                assert b"rules not loaded" not in overview_html
                assert fetch(f"{cached}/") == overview_html
                (tmp / "static").mkdir()
                (tmp / "static" / "overview.html").write_bytes(overview_html)
                urls = {"cold": ui, "cached": cached}
                rows = _measure(prom, catalog, urls, tmp, at, detailed, args.repeat)
        _print(rows, args, samples, len(overview_html))


def _measure(  # noqa: PLR0917 - the run's parts
    prom: Prometheus,
    catalog: Catalog,
    urls: dict[str, str],
    tmp: Path,
    at: int,
    detailed: str,
    repeat: int,
) -> list[tuple[str, float, float, str]]:
    """(what, median ms, p90 ms, baseline it is divided by) of every measure."""

    horizons = {e.slo.name: _horizon(e) for e in catalog.entries}

    def overview_queries() -> None:
        jobs = requests(prom, catalog.entries, at)
        with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            answers = dict(zip(jobs, pool.map(lambda job: job(), jobs.values()), strict=True))
            days = [answer for key, answer in answers.items() if key.startswith("history")]
            spans, _ = streaks.hour_spans(at, horizons, streaks.good_days(days, at))
            list(pool.map(lambda span: span.ask(prom), spans))

    entry = catalog.by_name[detailed]
    out: list[tuple[str, float, float, str]] = []
    with serving_http(static_server(tmp / "static")) as files:
        out.append(
            ("static file, same bytes", *timed(lambda: fetch(f"{files}/overview.html"), repeat), "")
        )
    out.append(("overview's Prometheus queries", *timed(overview_queries, repeat), ""))
    out.append(
        (
            "streaks from every hourly check (before)",
            *timed(lambda: _every_check(prom, catalog, at), repeat),
            "queries",
        )
    )
    ui, cached = urls["cold"], urls["cached"]
    out.append(("overview / (every load asks)", *timed(lambda: fetch(f"{ui}/"), repeat), "queries"))
    out.append(
        ("overview /api/overview", *timed(lambda: fetch(f"{ui}/api/overview"), repeat), "queries")
    )
    out.append(
        (
            f"overview / (--cache-seconds {CACHE_SECONDS:g}, the default)",
            *timed(lambda: fetch(f"{cached}/"), repeat),
            "queries",
        )
    )
    out.append(
        (
            "report of one SLO (report prometheus --slo)",
            *timed(
                lambda: prometheus_report(prom, entry.slo, at, Options(), entry.workflow.autonomy),
                repeat,
            ),
            "",
        )
    )
    out.append(
        (
            f"SLO page /slo/{detailed}",
            *timed(lambda: fetch(f"{ui}/slo/{detailed}"), repeat),
            "report",
        )
    )
    return out


def _horizon(entry: Entry) -> int:
    return streaks.checks_of([d for d, _ in entry.workflow.autonomy], entry.slo.period)


def _every_check(prom: Prometheus, catalog: Catalog, at: int) -> None:
    """Every SLO's streak from every hourly check, in three range queries sent at once."""
    longest = max(_horizon(e) for e in catalog.entries)
    expr = queries.lowest_remaining(STEP + LOOKBACK)
    size = longest // 3 + 1
    parts = [(i, min(i + size - 1, longest)) for i in range(0, longest + 1, size)]
    with ThreadPoolExecutor(max_workers=len(parts)) as pool:
        answers = list(
            pool.map(
                lambda p: prom.query_range(expr, at - p[1] * STEP, at - p[0] * STEP, STEP), parts
            )
        )
    values: dict[str, dict[int, float]] = {}
    for answer in answers:
        for series in answer:
            own = values.setdefault(series["metric"]["slo"], {})
            own.update({round(float(t)): float(v) for t, v in series["values"]})
    for entry in catalog.entries:
        from_checks(
            values.get(entry.slo.name, {}), slo=entry.slo.name, at=math.ceil(at),
            checks=_horizon(entry), grants=entry.workflow.autonomy,
        )  # fmt: skip


def _print(
    rows: list[tuple[str, float, float, str]], args: argparse.Namespace, samples: int, size: int
) -> None:
    static = rows[0][1]
    base = {"queries": rows[1][1], "report": rows[6][1]}
    print(
        f"\n{args.slos} SLOs, {args.repeat} loads each; {samples:,} samples backfilled; "
        f"overview page {size / 1024:.0f} KiB"
    )
    machine = platform.processor() or platform.machine()
    print(f"{machine}, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print("| measure | median ms | p90 ms | x static file | x its baseline |")
    print("|---|---:|---:|---:|---:|")
    for what, median, p90, against in rows:
        ratio = f"{median / base[against]:.1f}" if against else ""
        print(f"| {what} | {median:.1f} | {p90:.1f} | {median / static:.1f} | {ratio} |")


if __name__ == "__main__":
    main()
