"""The generated rules on a second engine: VictoriaMetrics (single node) scraping the exporter
and vmalert evaluating the rules (recorded series written back to VictoriaMetrics, alerts sent
to Alertmanager), beside Prometheus scraping the same exporter with the same rules and
sending every sample to another VictoriaMetrics by remote write.

One burst, 100 runs of which 40 rejected, recorded at once against a 99% objective (a fast
burn: 40% of the runs bad against a 1% budget). By hand:

- ``slo:period_events:increase`` = 100 and ``slo:period_bad_events:increase`` = 40;
- ``slo:period_allowed_bad_events:count`` = 100 × 0.01 = 1;
- ``slo:sli_error:ratio_rate30d`` = 40 / 100 = 0.4;
- ``slo:period_burn_rate:ratio`` = 0.4 / 0.01 = 40;
- ``slo:period_error_budget_remaining:ratio`` = 1 − 40 = −39
  (each operation exact in binary floating point: the test checks the expression gives −39);
- the fast-burn page (1h/5m) fires: 40% > 14.4 × 1% in both windows, 40 bad runs ≥ 2, and
  40 ≥ 2% of the 1 allowed bad run; so does the 6h/30m page (40% > 6%); the tickets
  (1d/2h above 3%, 3d/6h above 1%) and the exhausted budget fire too.

The burst's runs carry a model the exporter had not seen (``model="m1"``): every series of
the burst is new, appearing already at its count (40 and 60), the case MetricsQL's
``increase()`` reads as 0 where the rules count it whole.

What vmalert does not do: chain rules within a group. Prometheus evaluates a group's rules
in order, each reading the results of those before it in the same evaluation; vmalert sends
its results through remote write, so a rule reads the results of earlier evaluations once
they are flushed and searchable: the previous one at best, an older one when a flush is
late. The ``vmalert`` format therefore keeps, per target, a running count
(``slo:<kind>:tally``, with the sums it counted up to and the time it started), which comes
out the same whichever earlier evaluation it reads; the windows up to an hour compute this
evaluation's counts themselves and subtract each target's count at the window's start. The
5-minute steps survive the lag as they are (each step reads the counters of the evaluation
before and the last step's counters before those, so their differences still add up to
every run, one evaluation late).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness import Webhook, running_alertmanager
from realprom import (
    Prometheus,
    free_port,
    generated_rules,
    running_exporter,
    running_prometheus,
)
from realvm import VictoriaMetrics, VMAlert, running_victoriametrics, running_vmalert

from exporter.client import OutcomeClient

SPEC = """\
apiVersion: agent-slo/v1
workflow: refunds
tier: high
slos:
  - name: refunds-accuracy
    objective: 99
    sli: {outcomes: {bad: [rejected]}}
dimensions:
  model: {max_values: 5}
"""
SLO = "refunds-accuracy"
RUNS, BAD, BUDGET = 100, 40, 0.01
FIGURES = {
    "slo:period_events:increase": RUNS,
    "slo:period_bad_events:increase": BAD,
    "slo:period_allowed_bad_events:count": RUNS * BUDGET,
    "slo:sli_error:ratio_rate30d": BAD / RUNS,
    "slo:period_burn_rate:ratio": BAD / RUNS / BUDGET,
    "slo:period_error_budget_remaining:ratio": 1 - BAD / RUNS / BUDGET,
}
#: (alert name, severity, long window) of every alert the burst fires in Prometheus.
PROMETHEUS_ALERTS = {
    ("ErrorBudgetBurn", "page", "1h"),
    ("ErrorBudgetBurn", "page", "6h"),
    ("ErrorBudgetBurn", "ticket", "1d"),
    ("ErrorBudgetBurn", "ticket", "3d"),
    ("ErrorBudgetExhausted", "ticket", ""),
}
#: The step group every 2 s on Prometheus, whose other groups and scrapes run every second;
#: every group every 3 s on vmalert, so that each evaluation reads the last one's results
#: (written back through VictoriaMetrics, searchable a second after they are sent).
PROMETHEUS_STEP, VMALERT_INTERVAL = "2s", "3s"


def of_slo(name: str) -> str:
    return f'{name}{{slo="{SLO}"}}'


def firing(alerts: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {
        (a["labels"]["alertname"], a["labels"]["severity"], a["labels"].get("long_window", ""))
        for a in alerts
        if a["labels"].get("slo") == SLO and a["state"] == "firing"
    }


def seed(victoriametrics: VictoriaMetrics, prometheus: Prometheus) -> None:
    """Store in VictoriaMetrics the last sample Prometheus recorded of every series of the
    rules, all at 0 runs.

    VictoriaMetrics indexes a series for the day only some seconds after its first sample
    of the day, and a query meanwhile (vmalert asks at every evaluation) leaves it unseen
    for up to 10 s more: a chain of rules written back one level an evaluation would take
    minutes to come up at these intervals. With the series there, vmalert starts as if it
    had evaluated the rules before, on the same zero counters as Prometheus.
    """
    series = prometheus.query('{__name__=~"slo:.+"}')
    victoriametrics.import_series(
        [
            {
                "metric": s["metric"],
                "values": [float(s["value"][1])],
                "timestamps": [round(float(s["value"][0]) * 1000)],
            }
            for s in series
        ]
    )


@dataclass
class Burst:
    """The engines after the burst, still running."""

    prometheus: Prometheus
    victoriametrics: VictoriaMetrics
    vmalert: VMAlert
    storage: VictoriaMetrics  # what Prometheus sends by remote write
    webhook: Webhook
    rules: list[Path]
    recorded: float  # Unix time the burst was recorded
    exporter: ExitStack  # closing it stops the exporter
    address: str  # the exporter's, host:port
    spec: Path


@pytest.fixture(scope="module")
def burst(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Burst]:
    """The exporter scraped by VictoriaMetrics (rules by vmalert, alerts to Alertmanager and
    a webhook) and by Prometheus; both engines' rules running on zero counters; the burst."""
    with bursting(tmp_path_factory.mktemp("victoriametrics"), flush="100ms") as engines:
        yield engines


@contextmanager
def bursting(tmp: Path, *, flush: str) -> Iterator[Burst]:
    """The engines of ``burst``, vmalert flushing its recorded series every ``flush``."""
    (tmp / "prometheus").mkdir()
    (tmp / "vmalert").mkdir()
    prometheus_rules = generated_rules(tmp / "prometheus", SPEC, step=PROMETHEUS_STEP)
    vmalert_rules = generated_rules(tmp / "vmalert", SPEC, step=VMALERT_INTERVAL, fmt="vmalert")
    webhook = Webhook()
    with ExitStack() as stack:
        stack.callback(webhook.server.server_close)
        stack.callback(webhook.server.shutdown)
        exporter = stack.enter_context(ExitStack())
        target = exporter.enter_context(
            running_exporter(tmp / "exporter", tmp / "prometheus/spec.yaml")
        )
        am = stack.enter_context(running_alertmanager(tmp, free_port(), webhook.port))
        vm = stack.enter_context(running_victoriametrics(tmp / "victoriametrics", [target]))
        storage = stack.enter_context(running_victoriametrics(tmp / "storage"))
        prom = stack.enter_context(
            running_prometheus(
                tmp / "prometheus",
                [target],
                rule_files=prometheus_rules,
                remote_write=[f"{storage.url}/api/v1/write"],
            )
        )
        # Prometheus counts from its first evaluations: every figure recorded, at 0 runs.
        prom.wait_value(of_slo("slo:period_error_budget_remaining:ratio"), 1)
        vm.wait_for('agent_outcomes_total{workflow="refunds"}')
        seed(vm, prom)
        vmalert = stack.enter_context(
            running_vmalert(
                tmp / "vmalert",
                vm.url,
                vmalert_rules,
                interval=VMALERT_INTERVAL,
                notifier=am,
                flush=flush,
            )
        )
        # the tallies start counting once VictoriaMetrics finds them; then two evaluations
        vm.wait_for(f'slo:bad_events:tally{{slo="{SLO}",agent_slo_part="since"}}', timeout=45)
        time.sleep(7)
        assert vm.query('agent_outcomes_total{model="m1"}') == []  # the burst's series are new
        client = OutcomeClient(f"http://{target}", strict=True)
        stack.callback(client.close, 5)
        for i in range(RUNS):
            client.record("refunds", "rejected" if i < BAD else "success", model="m1")
        assert client.flush(10)
        yield Burst(
            prom,
            vm,
            vmalert,
            storage,
            webhook,
            prometheus_rules,
            time.time(),
            exporter,
            target,
            tmp / "prometheus/spec.yaml",
        )


def test_budget_figures_are_equal_on_both_engines(burst: Burst) -> None:
    """VictoriaMetrics (rules by vmalert) and Prometheus record the same budget figures for
    the burst, exactly the hand-computed ones."""
    assert FIGURES["slo:period_error_budget_remaining:ratio"] == -39
    for engine in (burst.prometheus, burst.victoriametrics):
        for name, expected in FIGURES.items():
            engine.wait_value(of_slo(name), expected, timeout=45)
    time.sleep(4)  # more evaluations on both: nothing counted twice
    for name, expected in FIGURES.items():
        assert burst.prometheus.value(of_slo(name)) == expected, name
        assert burst.victoriametrics.value(of_slo(name)) == expected, name


def test_prometheus_sends_the_same_figures_and_alerts_to_victoriametrics(burst: Burst) -> None:
    """With the rules evaluated by Prometheus and every sample sent to VictoriaMetrics by
    remote write, VictoriaMetrics holds the exact figures and the firing pages."""
    for name, expected in FIGURES.items():
        burst.storage.wait_value(of_slo(name), expected, timeout=45)
    pages = 'ALERTS{alertstate="firing",severity="page"}'
    burst.prometheus.wait_for(pages, timeout=30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(burst.storage.query(pages)) < 2:
        time.sleep(0.5)
    assert {a["metric"]["long_window"] for a in burst.storage.query(pages)} == {"1h", "6h"}


def test_vmalert_fires_the_same_alerts(burst: Burst) -> None:
    """Prometheus and vmalert both fire both pages, both tickets and the exhausted budget;
    vmalert's pages reach the pager through Alertmanager."""
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        prom = firing(
            [
                {"labels": a["metric"], "state": a["metric"]["alertstate"]}
                for a in burst.prometheus.query("ALERTS")
            ]
        )
        vmalert = firing(burst.vmalert.alerts())
        if prom == vmalert == PROMETHEUS_ALERTS:
            break
        time.sleep(0.5)
    assert prom == PROMETHEUS_ALERTS
    assert vmalert == PROMETHEUS_ALERTS
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(pages := paged(burst.webhook)) < 2:
        time.sleep(0.2)
    assert pages == {"1h", "6h"}, burst.webhook.received
    time.sleep(4)
    assert firing(burst.vmalert.alerts()) == PROMETHEUS_ALERTS


def paged(webhook: Webhook) -> set[str]:
    """The long windows of the burn-rate pages that reached the pager."""
    return {
        labels["long_window"]
        for path, labels in webhook.received
        if path == "/pager" and labels["alertname"] == "ErrorBudgetBurn"
    }


def test_vmalert_counts_the_short_windows_exactly(burst: Burst) -> None:
    """On vmalert as on Prometheus, every window up to an hour counts the burst exactly (its
    series new, already at their counts), once, through more evaluations."""
    windows = [
        (of_slo(f"slo:{kind}:increase{window}"), runs)
        for window in ("5m", "30m", "1h")
        for kind, runs in (("events", RUNS), ("bad_events", BAD))
    ]
    for name, runs in windows:
        burst.victoriametrics.wait_value(name, runs, timeout=45)
    time.sleep(4)  # more evaluations: nothing counted twice
    for name, runs in windows:
        assert burst.prometheus.value(name) == runs, name
        assert burst.victoriametrics.value(name) == runs, name
    rises = f"sum_over_time({of_slo('slo:events:rise')}[5m])"
    assert burst.prometheus.value(rises) == RUNS
    # vmalert's tallies: the one target counted the burst alone, up to sums of the burst
    for kind, runs in (("events", RUNS), ("bad_events", BAD)):
        for part in ("count", "sums"):
            tally = f'slo:{kind}:tally{{slo="{SLO}",agent_slo_part="{part}"}}'
            assert burst.victoriametrics.value(tally) == runs, tally


WINDOWS = [
    (f"slo:{kind}:increase{w}", kind)
    for w in ("5m", "30m", "1h")
    for kind in ("events", "bad_events")
]


def hold(engine: Prometheus, expected: dict[str, float], seconds: float) -> None:
    """Every window of the SLO reads ``expected`` (by kind) at every reading for ``seconds``:
    reached first (within 45 s), then never above nor below."""
    for name, kind in WINDOWS:
        engine.wait_value(of_slo(name), expected[kind], timeout=45)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        readings = {name: engine.value(of_slo(name)) for name, _ in WINDOWS}
        assert readings == {name: expected[kind] for name, kind in WINDOWS}
        time.sleep(0.5)


def test_vmalert_counts_once_what_it_reads_late(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """With vmalert flushing its recorded series every 10 s and evaluating every 3 s (most
    evaluations read tallies recorded three or four evaluations before), every window up to
    an hour counts the burst once, at every reading. The exporter then stops (its series
    stale, the target gone): the windows still count its runs. Back with its counters reset
    (a fresh state), 10 more runs of which 5 rejected: 110 runs and 45 bad in every window,
    as on Prometheus."""
    with bursting(tmp_path_factory.mktemp("late"), flush="10s") as late:
        burst = {"events": RUNS, "bad_events": BAD}
        hold(late.victoriametrics, burst, 12)
        late.exporter.close()
        deadline = time.monotonic() + 20
        while late.victoriametrics.query('agent_outcomes_total{workflow="refunds"}'):
            assert time.monotonic() < deadline, "the exporter's series are still there"
            time.sleep(0.5)
        hold(late.victoriametrics, burst, 12)
        port = int(late.address.rpartition(":")[2])
        state = tmp_path_factory.mktemp("fresh")
        with running_exporter(state, late.spec, port) as target:
            client = OutcomeClient(f"http://{target}", strict=True)
            for i in range(10):
                client.record("refunds", "rejected" if i < 5 else "success", model="m1")
            client.close(10)
            after = {"events": RUNS + 10, "bad_events": BAD + 5}
            hold(late.victoriametrics, after, 12)
            hold(late.prometheus, after, 0)


def rule_expressions(files: list[Path]) -> list[tuple[str, str, str]]:
    """(group, name, expression) of every rule in ``files``."""
    return [
        (group["name"], rule.get("record") or rule["alert"], rule["expr"])
        for path in files
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    ]


def answer(engine: Prometheus, expr: str, at: float) -> dict[frozenset[tuple[str, str]], float]:
    """``expr`` at ``at``: each series' labels (without its name) and value."""
    return {
        frozenset((k, v) for k, v in s["metric"].items() if k != "__name__"): float(s["value"][1])
        for s in engine.query(expr, at)
    }


def test_metricsql_evaluates_every_rule_as_promql(
    burst: Burst, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Given the same samples (Prometheus' raw and recorded series, copied into a second
    VictoriaMetrics), every rule's expression gives the same series and values in MetricsQL
    as in PromQL, at every evaluation Prometheus made around the burst: the differences
    above come from how vmalert evaluates, not from the query language."""
    prom = burst.prometheus
    burst.victoriametrics.wait_value(of_slo("slo:period_events:increase"), RUNS, timeout=45)
    end = time.time()
    raw = prom.query('{__name__=~"agent_outcomes_total|slo:.+"}[10m]', end)
    copy = [
        {
            "metric": s["metric"],
            "values": [float(v) for _, v in s["values"]],
            "timestamps": [round(float(t) * 1000) for t, _ in s["values"]],
        }
        for s in raw
    ]
    with running_victoriametrics(tmp_path_factory.mktemp("metricsql")) as vm:
        vm.import_series(copy)
        compared = 0
        for group, name, expr in rule_expressions(burst.rules):
            first = "slo:events:counter5m" if group.endswith("-steps") else "slo:events:counter"
            times = [
                float(t)
                for s in raw
                if s["metric"]["__name__"] == first
                for t, _ in s["values"]
                if burst.recorded - 6 <= float(t) <= end
            ]
            assert times, (group, first)
            for at in times:
                promql, metricsql = answer(prom, expr, at), answer(vm, expr, at)
                assert promql.keys() == metricsql.keys(), (name, at, promql, metricsql)
                for labels, value in promql.items():
                    assert value == metricsql[labels] or (
                        math.isnan(value) and math.isnan(metricsql[labels])
                    ), (name, at, promql, metricsql)
                compared += 1
        assert compared > 100
