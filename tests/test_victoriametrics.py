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

What vmalert cannot do: chain rules within a group. Prometheus evaluates a group's rules in
order, each reading the results of those before it in the same evaluation; vmalert sends
its results through remote write, so a rule reads the previous evaluation's results of
the rules before it. Where a rule reads a series both as it is now and as it was at the
previous evaluation, the two are then the same sample: ``slo:<kind>:rise`` (the events since
the previous evaluation, which the windows up to an hour sum) is always 0 on vmalert, so
every window up to an hour stays 0 and the tiers that need one (both pages) never fire.
The 5-minute steps survive the lag (each step reads the counters of the evaluation before
and the last step's counters before those, so their differences still add up to every
run, one evaluation late): the period's figures, the tiers over longer windows and the
exhausted budget are exact on vmalert, a few evaluations later than on Prometheus.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import ExitStack
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
#: The same in vmalert: the pages need windows up to an hour, which stay 0 there.
VMALERT_ALERTS = {alert for alert in PROMETHEUS_ALERTS if alert[1] != "page"}
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


@pytest.fixture(scope="module")
def burst(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Burst]:
    """The exporter scraped by VictoriaMetrics (rules by vmalert, alerts to Alertmanager and
    a webhook) and by Prometheus; both engines' rules running on zero counters; the burst."""
    tmp = tmp_path_factory.mktemp("victoriametrics")
    (tmp / "prometheus").mkdir()
    (tmp / "vmalert").mkdir()
    prometheus_rules = generated_rules(tmp / "prometheus", SPEC, step=PROMETHEUS_STEP)
    vmalert_rules = generated_rules(tmp / "vmalert", SPEC, step=VMALERT_INTERVAL)
    webhook = Webhook()
    with ExitStack() as stack:
        stack.callback(webhook.server.server_close)
        stack.callback(webhook.server.shutdown)
        target = stack.enter_context(
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
                tmp / "vmalert", vm.url, vmalert_rules, interval=VMALERT_INTERVAL, notifier=am
            )
        )
        time.sleep(7)  # two evaluations of every vmalert group
        client = OutcomeClient(f"http://{target}", strict=True)
        stack.callback(client.close, 5)
        for i in range(RUNS):
            client.record("refunds", "rejected" if i < BAD else "success")
        assert client.flush(10)
        yield Burst(prom, vm, vmalert, storage, webhook, prometheus_rules, time.time())


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


def test_vmalert_fires_the_tickets_but_not_the_pages(burst: Burst) -> None:
    """Prometheus fires both pages, both tickets and the exhausted budget; vmalert fires the
    tickets and the exhausted budget (notified through Alertmanager), never the pages."""
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        prom = firing(
            [
                {"labels": a["metric"], "state": a["metric"]["alertstate"]}
                for a in burst.prometheus.query("ALERTS")
            ]
        )
        vmalert = firing(burst.vmalert.alerts())
        if prom == PROMETHEUS_ALERTS and vmalert == VMALERT_ALERTS:
            break
        time.sleep(0.5)
    assert prom == PROMETHEUS_ALERTS
    assert vmalert == VMALERT_ALERTS
    burst.webhook.wait_for("ErrorBudgetExhausted", timeout=20)
    burst.webhook.wait_for("ErrorBudgetBurn", timeout=20)
    assert {path for path, _ in burst.webhook.received} == {"/tickets"}
    time.sleep(4)
    assert firing(burst.vmalert.alerts()) == VMALERT_ALERTS


def test_vmalert_cannot_chain_rules_within_a_group(burst: Burst) -> None:
    """On vmalert the events since the previous evaluation read 0, so every window up to an
    hour misses the burst that Prometheus counts in full (and that the 5-minute steps count
    on vmalert too)."""
    burst.victoriametrics.wait_value(of_slo("slo:events:increase2h"), RUNS, timeout=45)
    for window in ("5m", "30m", "1h"):
        for kind, runs in (("events", RUNS), ("bad_events", BAD)):
            name = of_slo(f"slo:{kind}:increase{window}")
            assert burst.prometheus.value(name) == runs, name
            assert burst.victoriametrics.value(name) == 0, name
    rises = f"max_over_time({of_slo('slo:events:rise')}[1m])"
    assert burst.prometheus.value(rises) == RUNS
    assert burst.victoriametrics.value(rises) == 0


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
