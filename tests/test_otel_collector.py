"""The OpenTelemetry Collector path (examples/otel-collector): the Collector itself cannot
run here, so its configuration is checked for the names the rest depends on, and what
follows it is run for real: Prometheus scrapes series shaped as the Collector's spanmetrics
connectors and prometheus exporter write them, relabels them with the example's own scrape
job into agent_outcomes_total and agent_run_duration_seconds, and evaluates the rules
generated from the example spec; counts are checked against figures worked out by hand."""

from __future__ import annotations

import re
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness import ScrapeTarget
from realprom import generated_rules, running_prometheus

from exporter.catalog import DEFAULT_BUCKETS
from exporter.integrations.otel import (
    DEFAULT_DIMENSIONS,
    OPERATION_ATTRIBUTE,
    OUTCOME_ATTRIBUTE,
    WORKFLOW_ATTRIBUTE,
)
from rulegen import pipeline
from rulegen.durations import parse_duration
from rulegen.taxonomy import DEFAULT_OUTCOMES

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "otel-collector"
COLLECTOR = yaml.safe_load((EXAMPLE / "collector.yaml").read_text())
PROMETHEUS = yaml.safe_load((EXAMPLE / "prometheus.yml").read_text())
SPEC = (EXAMPLE / "support-triage.yaml").read_text()
SUCCESS, LATENCY = "support-triage-otel-success", "support-triage-otel-latency"


def _go_seconds(text: str) -> float:
    """A Go duration of the forms the example uses (500ms, 30s, 2m, 1h), in seconds."""
    match = re.fullmatch(r"(\d+)(ms|s|m|h)", text)
    assert match, text
    return int(match[1]) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[match[2]]


def test_the_collector_pipeline_is_wired_end_to_end() -> None:
    """Every component a pipeline names is defined, and the agent-slo pipelines lead from
    the OTLP receiver through the agent-run filter and both connectors to the exporter
    that prometheus.yml scrapes."""
    pipelines = COLLECTOR["service"]["pipelines"]
    for pipeline_ in pipelines.values():
        for kind, section in (("receivers", "receivers"), ("processors", "processors")):
            for name in pipeline_.get(kind, []):
                assert name in COLLECTOR.get(section, {}) or name in COLLECTOR["connectors"]
        for name in pipeline_["exporters"]:
            assert name in COLLECTOR["exporters"] or name in COLLECTOR["connectors"]
    traces, metrics = pipelines["traces/agent-slo"], pipelines["metrics/agent-slo"]
    connectors = ["spanmetrics/agent-outcomes", "spanmetrics/agent-durations"]
    assert traces == {
        "receivers": ["otlp"],
        "processors": ["filter/agent-runs"],
        "exporters": connectors,
    }
    assert metrics == {"receivers": connectors, "exporters": ["prometheus/agent-slo"]}
    (condition,) = COLLECTOR["processors"]["filter/agent-runs"]["traces"]["span"]
    assert condition == f'attributes["{OPERATION_ATTRIBUTE}"] != "invoke_agent"'
    port = COLLECTOR["exporters"]["prometheus/agent-slo"]["endpoint"].rsplit(":", 1)[1]
    (job,) = PROMETHEUS["scrape_configs"]
    assert [t.rsplit(":", 1)[1] for t in job["static_configs"][0]["targets"]] == [port]


def test_the_connectors_count_what_the_span_processor_reads() -> None:
    """The spanmetrics dimensions are the attributes the Python span processor reads by
    default, and their namespaces are the metric names prometheus.yml keeps."""
    outcomes = COLLECTOR["connectors"]["spanmetrics/agent-outcomes"]
    durations = COLLECTOR["connectors"]["spanmetrics/agent-durations"]
    assert [d["name"] for d in outcomes["dimensions"]] == [
        OPERATION_ATTRIBUTE,
        WORKFLOW_ATTRIBUTE,
        OUTCOME_ATTRIBUTE,
        *DEFAULT_DIMENSIONS,
    ]
    assert [d["name"] for d in durations["dimensions"]] == [
        OPERATION_ATTRIBUTE,
        WORKFLOW_ATTRIBUTE,
        *DEFAULT_DIMENSIONS,
    ]
    assert outcomes["histogram"] == {"disable": True}
    assert (outcomes["namespace"], durations["namespace"]) == (
        "agent_slo.outcomes",
        "agent_slo.durations",
    )
    keep = PROMETHEUS["scrape_configs"][0]["metric_relabel_configs"][0]
    assert keep["action"] == "keep"
    assert re.fullmatch(keep["regex"], "agent_slo_outcomes_calls_total;invoke_agent")
    assert re.fullmatch(keep["regex"], "agent_slo_durations_duration_seconds_bucket;invoke_agent")


def test_the_duration_buckets_hold_the_exporters_and_the_specs_thresholds() -> None:
    """The Collector's buckets are the exporter's default buckets, and hold the example
    spec's latency threshold, so latency SLIs read the same bounds either way."""
    histogram = COLLECTOR["connectors"]["spanmetrics/agent-durations"]["histogram"]
    assert histogram["unit"] == "s"
    buckets = [_go_seconds(b) for b in histogram["explicit"]["buckets"]]
    assert buckets == list(DEFAULT_BUCKETS)
    threshold = yaml.safe_load(SPEC)["slos"][1]["sli"]["latency"]["threshold"]
    assert parse_duration(threshold) in buckets


def test_the_relabeling_knows_every_outcome_of_the_taxonomy() -> None:
    """prometheus.yml's list of valid outcomes is the default taxonomy, no more, no less."""
    rules = PROMETHEUS["scrape_configs"][0]["metric_relabel_configs"]
    (rule,) = [r for r in rules if r.get("source_labels") == ["agent_slo_outcome"]]
    assert rule["target_label"] == "outcome"
    assert sorted(rule["regex"].strip("()").split("|")) == sorted(DEFAULT_OUTCOMES)


def test_the_example_files_pass_the_real_tools(tmp_path: Path) -> None:
    """promtool accepts prometheus.yml, and the spec loads as `agent-slo validate` loads it."""
    result = subprocess.run(
        ["promtool", "check", "config", str(EXAMPLE / "prometheus.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (workflow,) = pipeline.load([EXAMPLE / "support-triage.yaml"])
    assert workflow.name == "support-triage"


# -- the series, relabeled and counted by a real Prometheus --------------------------------


def _series(name: str, value: float, **labels: str) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return f"{name}{{{inner}}} {value}"


class FakeCollector:
    """Serves, on a free loopback port, what the Collector's prometheus exporter would:
    the two connectors' series (set with :meth:`runs` and :meth:`durations`) among the
    series of other spans and of the Collector itself."""

    def __init__(self) -> None:
        self.calls: dict[tuple[tuple[str, str], ...], int] = {}
        self.histograms: dict[str, tuple[list[int], float]] = {}
        self.lock = threading.Lock()
        self.scraped = ScrapeTarget(self.text)
        self.address = self.scraped.address

    def runs(self, count: int, **labels: str) -> None:
        """``count`` more spans with these labels (the connector's dimensions)."""
        key = tuple(sorted(labels.items()))
        with self.lock:
            self.calls[key] = self.calls.get(key, 0) + count

    def durations(self, model: str, seconds: list[float]) -> None:
        """Runs of support-triage on ``model`` that took ``seconds``."""
        with self.lock:
            counts, total = self.histograms.get(model, ([0] * len(DEFAULT_BUCKETS), 0.0))
            for s in seconds:
                counts = [c + (s <= b) for c, b in zip(counts, DEFAULT_BUCKETS, strict=True)]
            self.histograms[model] = (counts, total + sum(seconds))

    def text(self) -> str:
        common = {"job": "support-agent", "service_name": "support-agent"}
        lines = [
            "# TYPE agent_slo_outcomes_calls_total counter",
            # A chat span and a span without agent name: not runs of a workflow.
            _series(
                "agent_slo_outcomes_calls_total",
                100,
                gen_ai_agent_name="support-triage",
                gen_ai_operation_name="chat",
                gen_ai_request_model="small",
                span_kind="SPAN_KIND_CLIENT",
                span_name="chat small",
                status_code="STATUS_CODE_UNSET",
                **common,
            ),
            _series(
                "agent_slo_outcomes_calls_total",
                7,
                gen_ai_operation_name="invoke_agent",
                gen_ai_request_model="small",
                span_kind="SPAN_KIND_INTERNAL",
                span_name="invoke_agent",
                status_code="STATUS_CODE_UNSET",
                **common,
            ),
        ]
        with self.lock:
            for key, value in sorted(self.calls.items()):
                labels = dict(key)
                lines.append(
                    _series(
                        "agent_slo_outcomes_calls_total",
                        value,
                        gen_ai_agent_name="support-triage",
                        gen_ai_operation_name="invoke_agent",
                        span_kind="SPAN_KIND_INTERNAL",
                        span_name="invoke_agent support-triage",
                        **labels,
                        **common,
                    )
                )
            lines.append("# TYPE agent_slo_durations_duration_seconds histogram")
            for model, (counts, total) in sorted(self.histograms.items()):
                labels = {
                    "gen_ai_agent_name": "support-triage",
                    "gen_ai_operation_name": "invoke_agent",
                    "gen_ai_request_model": model,
                    "status_code": "STATUS_CODE_UNSET",
                    **common,
                }
                name = "agent_slo_durations_duration_seconds"
                for bound, count in zip(DEFAULT_BUCKETS, counts, strict=True):
                    le = f"{bound:g}"  # Go's formatting: 0.5, 1, 2.5, 30
                    lines.append(_series(f"{name}_bucket", count, **labels, le=le))
                lines.append(_series(f"{name}_bucket", counts[-1], **labels, le="+Inf"))
                lines.append(_series(f"{name}_sum", total, **labels))
                lines.append(_series(f"{name}_count", counts[-1], **labels))
        lines.append("# TYPE otelcol_exporter_sent_metric_points_total counter")
        lines.append(_series("otelcol_exporter_sent_metric_points_total", 42, exporter="x"))
        return "\n".join(lines) + "\n"


@pytest.fixture
def collector() -> Iterator[FakeCollector]:
    fake = FakeCollector()
    yield fake
    fake.scraped.close()


def _config(target: str, rule_files: list[Path]) -> dict[str, Any]:
    """The example's scrape job, pointed at ``target``, scraping and evaluating each second."""
    (job,) = PROMETHEUS["scrape_configs"]
    job = {**job, "static_configs": [{"targets": [target]}], "scrape_interval": "1s"}
    return {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(p) for p in rule_files],
        "scrape_configs": [job],
    }


def test_relabeled_spanmetrics_feed_the_generated_rules(
    tmp_path: Path, collector: FakeCollector
) -> None:
    """The example's relabeling makes agent_outcomes_total and agent_run_duration_seconds of
    the Collector's series (outcome from agent_slo.outcome or the status, unknown outcomes
    as rejected, chat spans and spans without workflow dropped, bucket bounds as the
    exporter writes them), and the rules of the example spec count the runs that follow,
    a series first seen at 1 included."""
    ok, unset, error = "STATUS_CODE_OK", "STATUS_CODE_UNSET", "STATUS_CODE_ERROR"
    small = {"gen_ai_request_model": "small"}
    collector.runs(5, status_code=unset, **small)
    collector.runs(2, status_code=ok, **small)
    collector.runs(3, status_code=error, **small)
    collector.runs(4, status_code=error, agent_slo_outcome="timeout", **small)
    collector.runs(1, status_code=unset, agent_slo_outcome="escalated", gen_ai_request_model="x")
    collector.runs(2, status_code=ok, agent_slo_outcome="hallucinated", **small)
    collector.durations("small", [0.4, 12, 25, 45])

    rules = generated_rules(tmp_path, SPEC, step="2s")
    config = _config(collector.address, rules)
    with running_prometheus(tmp_path, [], config=config) as prom:
        prom.wait_for('agent_outcomes_total{outcome="escalated"}')
        by_outcome = {
            r["metric"]["outcome"]: float(r["value"][1])
            for r in prom.query(
                'sum by (outcome) (agent_outcomes_total{workflow="support-triage"})'
            )
        }
        # success 5 + 2; rejected: 3 failed spans + 2 "hallucinated"; timeout 4; escalated 1.
        assert by_outcome == {"success": 7, "rejected": 5, "timeout": 4, "escalated": 1}
        names = {
            r["metric"]["__name__"]
            for r in prom.query('{job="agent-slo-otel",__name__!~"up|scrape_.*|.*:.*"}')
        }
        assert names == {
            "agent_outcomes_total",
            "agent_run_duration_seconds_bucket",
            "agent_run_duration_seconds_sum",
            "agent_run_duration_seconds_count",
        }
        labels = set().union(*(r["metric"] for r in prom.query("agent_outcomes_total")))
        assert not {n for n in labels if n.startswith(("gen_ai_", "agent_slo_"))}
        assert prom.value('agent_outcomes_total{outcome="escalated",model="x"}') == 1
        assert prom.value('agent_run_duration_seconds_bucket{model="small",le="30.0"}') == 3
        assert prom.value('agent_run_duration_seconds_bucket{model="small",le="0.5"}') == 1
        assert prom.value('agent_run_duration_seconds_bucket{model="small",le="+Inf"}') == 4

        # Runs from here on count towards the period: the first evaluation is history.
        prom.wait_for(f'slo:events:counter5m_before{{slo="{SUCCESS}"}}')
        prom.wait_for(f'slo:events:counter5m_before{{slo="{LATENCY}"}}')
        collector.runs(3, status_code=unset, **small)  # success
        collector.runs(2, status_code=error, agent_slo_outcome="timeout", **small)
        collector.runs(1, status_code=error, agent_slo_outcome="escalated", **small)  # excluded
        collector.runs(
            1, status_code=unset, agent_slo_outcome="wrong_action", gen_ai_request_model="new"
        )
        collector.durations("small", [1.5, 31, 29, 600])
        # success SLO: 3 + 2 + 1 runs (escalated excluded), bad: 2 timeouts + 1 wrong_action.
        prom.wait_value(f'slo:period_events:increase{{slo="{SUCCESS}"}}', 6)
        prom.wait_value(f'slo:period_bad_events:increase{{slo="{SUCCESS}"}}', 3)
        # latency SLO: 4 runs, 2 over 30 s.
        prom.wait_value(f'slo:period_events:increase{{slo="{LATENCY}"}}', 4)
        prom.wait_value(f'slo:period_bad_events:increase{{slo="{LATENCY}"}}', 2)
