"""docs/scaling.md prints only figures checked here: each sentence that carries a number is
rebuilt from what it states (generated output, a running exporter and Prometheus, the
benchmark figures in benchmarks/README.md, the tools' defaults), and every number in the
page's prose belongs to one of those sentences."""

from __future__ import annotations

import math
import re
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import yaml
from realprom import Prometheus, generated_rules, running_exporter, running_prometheus
from realvm import binary

from exporter.catalog import DEFAULT_BUCKETS, load_catalog
from exporter.client import post_outcomes
from rulegen import pipeline, writer
from rulegen.formats import Target
from rulegen.formats.rulers import MIMIR_LIMITS

REPO = Path(__file__).resolve().parent.parent
DOC = (REPO / "docs" / "scaling.md").read_text()
BENCHMARKS = (REPO / "benchmarks" / "README.md").read_text()
SPECS = REPO / "slo-specs"
CODE_REVIEW = SPECS / "code-review.yaml"
CODE_REVIEW_SLO = "code-review-acceptance"
DEFAULT_SPEC = """\
apiVersion: agent-slo/v1
workflow: drafts
slos:
  - name: drafts-accepted
    objective: 95
    sli: {outcomes: {}}
"""

#: Measured on a running exporter and Prometheus by test_replicas_series_and_retries.
NEW_COMBINATION_OUTCOME_SERIES = 1
RUNS_ON_A, RUNS_ON_B = 3, 2
REPLICAS = 2
COUNTED_AFTER_RETRY_ELSEWHERE = RUNS_ON_A + RUNS_ON_B + 1
DUPLICATE_REPLY = {"accepted": 0, "duplicates": 1, "folded": 0}


def flat(text: str) -> str:
    return " ".join(text.split())


def said(phrase: str) -> str:
    """``phrase``, which the page must say (line breaks aside)."""
    assert flat(phrase) in flat(DOC), f"docs/scaling.md does not say: {phrase}"
    return phrase


def number(value: float) -> str:
    """``value`` as the page prints it: thousands separated by commas, no trailing zeros."""
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0")


# --- what the sentences say, from their sources ------------------------------------------


def exporter_sentences() -> list[str]:
    catalog = load_catalog([CODE_REVIEW]).workflows["code-review"]
    outcomes = len(catalog.outcomes)
    buckets = len(DEFAULT_BUCKETS) + 1  # and +Inf
    per_combination = buckets + 2  # _count, _sum
    declared = [len(catalog.known_values[d]) for d in catalog.dimensions]
    at_start = math.prod(n + 1 for n in declared)  # and unknown
    caps = [catalog.max_values[d] for d in catalog.dimensions]
    combinations = math.prod(c + 2 for c in caps)  # and unknown, other
    model = catalog.dimensions.index("model")
    return [
        said(f"`agent_run_duration_seconds`: {per_combination} series per combination "
             f"({buckets} buckets with the default bounds"),
        said(f"({outcomes} outcomes; `model` declares {declared[model]} values, `task` and "
             f"`prompt_version` none) that is {at_start} combinations: "
             f"{outcomes * at_start} outcome series and {per_combination * at_start} "
             "duration series"),
        said(f"adds {NEW_COMBINATION_OUTCOME_SERIES} series (its outcome;"),
        said(f"if it reports its duration, {per_combination} duration series"),
        said(f"with `max_values` of {', '.join(map(str, caps[:-1]))} and {caps[-1]}, each cap "
             f"plus `unknown` and `other` allows {' × '.join(str(c + 2) for c in caps)} = "
             f"{number(combinations)} combinations for code-review, at up to "
             f"{outcomes + per_combination} series each: "
             f"{number(combinations * (outcomes + per_combination))} series per replica"),
    ]  # fmt: skip


def recording_rules(path: Path) -> list[str]:
    groups = yaml.safe_load(path.read_text())["groups"]
    return [r["record"] for g in groups for r in g["rules"] if "record" in r]


def alerts(path: Path) -> list[str]:
    groups = yaml.safe_load(path.read_text())["groups"]
    return [r["alert"] for g in groups for r in g["rules"] if "alert" in r]


def seconds(window: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([smhdw])", window))


def windows(records: list[str]) -> list[str]:
    """The alert windows of an SLO's recording rules, shortest first."""
    found = [r.removeprefix("slo:events:increase") for r in records if "slo:events:increase" in r]
    return sorted(found, key=seconds)


PER_TARGET = re.compile(r"slo:\w+:counter(5m|5m_before|_base)?$")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The rule files of slo-specs/ and of DEFAULT_SPEC, by name."""
    tmp = tmp_path_factory.mktemp("scaling")
    (tmp / "default").mkdir()
    files = generated_rules(tmp / "default", DEFAULT_SPEC)
    out = tmp / "specs"
    writer.write(out, pipeline.generate(pipeline.load([SPECS])).files)
    files += sorted(out.glob("rules/*.rules.yml"))
    return {p.name.removesuffix(".rules.yml"): p for p in files}


def rule_sentences(generated: dict[str, Path]) -> list[str]:
    slos = {n: p for n, p in generated.items() if not n.endswith("zero-tolerance")}
    base = 22
    for name, path in slos.items():
        records = recording_rules(path)
        good = any(r.startswith("slo:good_events:") for r in records)
        assert len(records) == base + 3 * len(windows(records)) + good, name
    default = recording_rules(slos["drafts-accepted"])
    code_review = recording_rules(slos[CODE_REVIEW_SLO])
    per_target = [r for r in code_review if PER_TARGET.search(r)]
    kept = [r for r in per_target if not r.endswith("_base")]
    counts = [len(alerts(p)) for n, p in slos.items() if n != "drafts-accepted"]
    zero_tolerance = {len(alerts(p)) for n, p in generated.items() if n.endswith("zero-tolerance")}
    period = yaml.safe_load(slos["drafts-accepted"].read_text())["groups"][0]["rules"]
    days = next(r["labels"]["window"] for r in period if r["record"].startswith("slo:period_"))
    code_review_days = re.search(r"^period: (\d+)d", CODE_REVIEW.read_text(), re.M)
    assert code_review_days
    shown = ", ".join(f"`{w}`" for w in windows(default))
    return [
        said(f"Per SLO: {base} recording rules, plus 3 for each alert window (bad runs, all "
             "runs and their ratio), plus 1 for an SLI that counts good runs"),
        said(f"{len(default)} for the default four tiers over {days.removesuffix('d')} days, "
             f"whose windows are {len(windows(default))} ({shown})"),
        said(f"{len(code_review)} for `{CODE_REVIEW_SLO}` ({code_review_days[1]}-day period, "
             f"{len(windows(code_review))} windows)"),
        said(f"Alerts: {min(counts)} to {max(counts)} per SLO in `slo-specs/`, and "
             f"{zero_tolerance.pop()} zero-tolerance alert per workflow"),
        said(f"less the {len(per_target)} per-target ones, plus {len(kept)} for each replica"),
        said(f"With {REPLICAS} replicas, `{CODE_REVIEW_SLO}` records "
             f"{len(code_review) - len(per_target) + len(kept) * REPLICAS} series in "
             f"Prometheus: {len(code_review)} rules"),
    ]  # fmt: skip


def row(table_start: str, name: str) -> list[str]:
    """The cells of the row named ``name`` in the first table after ``table_start``."""
    section = BENCHMARKS[BENCHMARKS.index(table_start) :]
    line = next(x for x in section.splitlines() if x.startswith(f"| {name} |"))
    return [c.strip() for c in line.strip("|").split("|")]


def spread(cells: list[str]) -> str:
    """The lowest and highest of a benchmark's runs, as the table writes them."""
    ordered = sorted(cells, key=lambda c: float(c.replace(",", "")))
    return f"{ordered[0]} to {ordered[-1]}"


def benchmark_sentences() -> list[str]:
    rules_run = BENCHMARKS[BENCHMARKS.index("### Latest figures (N=10)") :]
    header = re.search(r"(\d+) cores \(AMD EPYC\).*?Prometheus ([\d.]+)", rules_run)
    assert header
    run = re.search(r"--workflows (\d+)", rules_run)
    raw = re.search(r"([\d,]+) raw series", rules_run)
    assert run and raw and "Synthetic 30 days" in BENCHMARKS
    workflows = int(run[1])
    cycle = row("**One evaluation cycle**", "agent-slo")
    live = row("**Prometheus evaluating the rules itself**", "agent-slo")
    rules, an_hour = int(cycle[1]), float(cycle[8])
    evaluation, cpu, memory = float(live[5]), float(live[7]), float(live[9].lstrip("+"))
    largest = max(int(m) for m in re.findall(r"^\| (\d+) \| `--workflows", BENCHMARKS, re.M))
    exporter = BENCHMARKS[BENCHMARKS.index("## Exporter: durable ingestion") :]
    cores = re.search(r"(\d+) cores \(Intel Xeon\)", exporter)
    assert cores
    runs = "| measure | run 1 | run 2 | run 3 |"
    single = spread(row(runs, "8 writers: single-event requests, durable (requests/s)")[1:4])
    batched = spread(row(runs, "batched ingestion, durable (events/s, batches of 1,000)")[1:4])
    scrape = next(x for x in exporter.splitlines() if x.startswith("| scrape of"))
    series = re.search(r"scrape of ([\d,]+) outcome series", scrape)
    assert series
    medians = spread([cell.split(" / ")[0].strip() for cell in scrape.split("|")[2:5]])
    per_1000 = cpu * 1000 / workflows
    return [
        said(f"{header[1]} cores, Prometheus {header[2]}, 30 days of data, {workflows} "
             f"workflows with one SLO each, {raw[1]} raw series"),
        said(f"| {rules} | {number(rules / workflows)} |"),
        said(f"| {an_hour} s | {number(an_hour / workflows)} s |"),
        said(f"| {evaluation} s | {number(evaluation / workflows)} s |"),
        said(f"| {cpu} s | {number(cpu / workflows)} s |"),
        said(f"| {number(memory)} MB | {number(memory / workflows)} MB |"),
        said(f"{number(1000)} SLOs take {number(per_1000)} CPU seconds an hour, "
             f"{number(round(per_1000 / 3600, 2))} of a core"),
        said(f"the benchmark measured up to {largest} workflows"),
        said(f"One replica on {cores[1]} cores"),
        said(f"takes {single} durable single-event requests a second from 8 writers, "
             f"{batched} events a second in batches of 1,000, and answers a scrape of "
             f"{series[1]} outcome series in {medians} ms (median)"),
    ]  # fmt: skip


def chain_depth(group: list[dict[str, str]], record: str) -> int:
    """How many evaluations late ``record`` reads on a ruler whose rules read only earlier
    evaluations' results: one for each rule of its own group it reads at the time of the
    evaluation (a selector without ``offset``), recursively."""
    rules = {r["record"]: r["expr"] for r in group if "record" in r}
    reads = re.findall(r"(slo:\w+:\w+)\{[^}]*\}(\[[^\]]*\])?( offset)?", rules[record])
    same = {
        name
        for name, _, offset in reads
        if name in rules and name != record and not offset and not name.endswith("_base")
    }  # a target's base exists only at its first step: steady counting does not read it
    return max((1 + chain_depth(group, name) for name in same), default=0)


#: What vmalert reads for the events since the previous evaluation with Prometheus' rules
#: (measured in tests/test_victoriametrics.py before the vmalert format computed its rises
#: from the raw counters).
ZERO = 0


def tiers(path: Path, severity: str | None = None) -> list[tuple[str, str, str]]:
    """(severity, long window, short window) of each burn tier in a rule file."""
    groups = yaml.safe_load(path.read_text())["groups"]
    return [
        (r["labels"]["severity"], r["labels"]["long_window"], r["labels"]["short_window"])
        for g in groups
        for r in g["rules"]
        if r.get("alert") == "ErrorBudgetBurn"
        and (severity is None or r["labels"]["severity"] == severity)
    ]


def tiers_without_rises(path: Path) -> set[tuple[str, str, str]]:
    """The burn tiers with a window summed from the events since each evaluation (which
    vmalert reads as 0 in Prometheus' rules)."""
    groups = yaml.safe_load(path.read_text())["groups"]
    from_rises = {
        r["record"].removeprefix("slo:events:increase")
        for g in groups
        for r in g["rules"]
        if r.get("record", "").startswith("slo:events:increase") and ":rise" in r["expr"]
    }
    assert all(seconds(w) <= 3600 for w in from_rises)
    return {t for t in tiers(path) if {t[1], t[2]} & from_rises}


def days(slo: str, generated: dict[str, Path]) -> int:
    """The period of ``slo``, in days."""
    groups = yaml.safe_load(generated[slo].read_text())["groups"]
    window = next(
        r["labels"]["window"] for g in groups for r in g["rules"] if "window" in r.get("labels", {})
    )
    return seconds(window) // 86400


def ruler_sentences(generated: dict[str, Path]) -> list[str]:
    notes = pipeline.generate(pipeline.load([SPECS]), Target("mimir")).notes
    needed = re.search(r"ruler_max_rules_per_rule_group of at least (\d+)", " ".join(notes))
    assert needed
    default = MIMIR_LIMITS["ruler_max_rules_per_rule_group"]
    help_text = subprocess.run(
        [binary("victoria-metrics"), "-help"], capture_output=True, text=True, check=False
    )
    offset = re.search(r"-search\.latencyOffset duration\n.*?\(default (\d+)s\)", help_text.stderr
                       + help_text.stdout, re.S)  # fmt: skip
    assert offset
    steps = yaml.safe_load(generated["drafts-accepted"].read_text())["groups"][0]
    step_minutes = int(steps["interval"].removesuffix("m"))
    long_windows = [
        chain_depth(steps["rules"], r["record"])
        for r in steps["rules"]
        if r.get("record", "").startswith("slo:sli_error:ratio_rate")
        and not r["record"].endswith("30d")
    ]
    assert len(set(long_windows)) == 1
    (late,) = set(long_windows)
    budget = chain_depth(steps["rules"], "slo:period_error_budget_remaining:ratio")
    silent = {name: tiers_without_rises(generated[name]) for name in generated}
    default_pages = silent["drafts-accepted"]
    assert {t[0] for t in default_pages} == {"page"}
    assert len(default_pages) == len(tiers(generated["drafts-accepted"], "page"))
    week = silent[CODE_REVIEW_SLO]
    slowest = max(tiers(generated[CODE_REVIEW_SLO]), key=lambda t: seconds(t[1]))
    assert set(tiers(generated[CODE_REVIEW_SLO])) - week == {slowest}
    return [
        said(f"compare a sum with itself and read {ZERO}, so every window of an hour or less "
             f"stays {ZERO}"),
        said(f"over {days('drafts-accepted', generated)} days, both default pages (their short "
             f"windows are {' and '.join(str(seconds(t[2]) // 60) for t in sorted(default_pages))}"
             f" minutes); over {days(CODE_REVIEW_SLO, generated)} days, every default tier but "
             "the slowest"),
        said(f"a `ruler_max_rules_per_rule_group` of {needed[1]} (the default is {default};"),
        said(f"about the last {offset[1]} seconds as of {offset[1]} seconds earlier"),
        said(f"The {step_minutes}-minute steps survive"),
        said(f"the windows over an hour by {late} steps ({late * step_minutes} minutes), the "
             f"budget left by {budget} ({budget * step_minutes} minutes)"),
    ]  # fmt: skip


def replica_sentences() -> list[str]:
    return [
        said(f"runs recorded by {RUNS_ON_A} on one replica and {RUNS_ON_B} on another make "
             f"`slo:period_events:increase` {RUNS_ON_A + RUNS_ON_B}"),
        said("`{\"accepted\": 0, \"duplicates\": 1, \"folded\": 0}`"),
        said(f"{COUNTED_AFTER_RETRY_ELSEWHERE} runs instead of {RUNS_ON_A + RUNS_ON_B})"),
    ]  # fmt: skip


# --- the checks ----------------------------------------------------------------------------


def test_exporter_sentences_follow_the_catalog() -> None:
    """The exporter's series counts are the catalog's outcomes, buckets and dimension caps."""
    assert exporter_sentences()


def test_rule_sentences_follow_the_generated_rules(generated: dict[str, Path]) -> None:
    """Rules per SLO, windows, alerts and per-target series are those of the generated files."""
    assert rule_sentences(generated)


def test_benchmark_sentences_follow_the_benchmarks() -> None:
    """The cost figures are benchmarks/README.md's, divided per SLO as the page says."""
    assert benchmark_sentences()


def test_ruler_sentences_follow_the_generated_rules(generated: dict[str, Path]) -> None:
    """Mimir's limit is the one `generate --format mimir` notes; vmalert's delays are the
    chains of same-evaluation reads in the steps group; VictoriaMetrics' latency offset is
    its default."""
    assert ruler_sentences(generated)


def test_every_number_on_the_page_is_checked(generated: dict[str, Path]) -> None:
    """Every number in the page's prose (code aside) is in a sentence checked here."""
    sentences = (
        exporter_sentences()
        + rule_sentences(generated)
        + benchmark_sentences()
        + ruler_sentences(generated)
        + replica_sentences()
    )
    numeral = r"\d+(?:,\d{3})*(?:\.\d+)*"
    prose = re.sub(r"`[^`\n]*`", "", re.sub(r"```.*?```", "", DOC, flags=re.S))
    checked = {n for s in sentences for n in re.findall(numeral, s)}
    assert set(re.findall(numeral, prose)) <= checked, set(re.findall(numeral, prose)) - checked


def _metrics(address: str) -> list[str]:
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as response:
        text: str = response.read().decode()
    return [line.split("{")[0] for line in text.splitlines() if not line.startswith("#")]


def _series(lines: list[str], prefix: str) -> int:
    return sum(1 for name in lines if name.startswith(prefix))


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[tuple[list[str], Prometheus, list[Path]]]:
    """Two exporter replicas of code-review and a Prometheus scraping both, past its first
    evaluations."""
    rules = [
        p for p in generated_rules(tmp_path, CODE_REVIEW.read_text(), step="2s")
        if p.name.startswith(CODE_REVIEW_SLO)
    ]  # fmt: skip
    with ExitStack() as stack:
        targets = [
            stack.enter_context(running_exporter(tmp_path / name, tmp_path / "spec.yaml"))
            for name in ("a", "b")
        ]
        prom = stack.enter_context(running_prometheus(tmp_path, targets, rule_files=rules))
        for target in targets:
            prom.wait_for(
                f'slo:events:counter5m_before{{slo="{CODE_REVIEW_SLO}",instance="{target}"}}'
            )
        yield targets, prom, rules


def test_replicas_series_and_retries(
    replicas: tuple[list[str], Prometheus, list[Path]],
) -> None:
    """On two real replicas and Prometheus: the exporter's series at start and for a new
    combination, the SLO's recorded series (none more for new dimension values), runs
    counted across replicas, and a retry counted once on its replica and again on another."""
    (a, b), prom, (rule_file,) = replicas
    catalog = load_catalog([CODE_REVIEW]).workflows["code-review"]
    per_combination = len(DEFAULT_BUCKETS) + 3
    at_start = math.prod(len(catalog.known_values[d]) + 1 for d in catalog.dimensions)
    before = _metrics(a)
    assert _series(before, "agent_outcomes_total") == len(catalog.outcomes) * at_start
    assert _series(before, "agent_run_duration_seconds_") == per_combination * at_start
    url = "http://{}/v1/outcomes"
    known = {"model": "gpt-4o"}
    new = {"task": "regex", "model": "gpt-4o", "prompt_version": "v7"}
    events = [
        {"workflow": "code-review", "outcome": "rejected", "id": "a1", "dimensions": known},
        {"workflow": "code-review", "outcome": "success", "id": "a2", "dimensions": known},
        {"workflow": "code-review", "outcome": "success", "id": "a3", "dimensions": new,
         "duration_seconds": 42.0},
    ]  # fmt: skip
    assert post_outcomes(url.format(a), events) == {"accepted": 3, "duplicates": 0, "folded": 0}
    assert len(events) == RUNS_ON_A
    after = _metrics(a)
    assert (
        _series(after, "agent_outcomes_total") - _series(before, "agent_outcomes_total")
        == NEW_COMBINATION_OUTCOME_SERIES
    )
    assert (
        _series(after, "agent_run_duration_seconds_")
        - _series(before, "agent_run_duration_seconds_")
        == per_combination
    )
    others = [
        {"workflow": "code-review", "outcome": "success", "id": f"b{i}", "dimensions": new}
        for i in range(RUNS_ON_B)
    ]
    post_outcomes(url.format(b), others)
    period = f'slo:period_events:increase{{slo="{CODE_REVIEW_SLO}"}}'
    prom.wait_value(period, RUNS_ON_A + RUNS_ON_B)
    recorded = f'count({{__name__=~"slo:.+",slo="{CODE_REVIEW_SLO}"}})'
    records = recording_rules(rule_file)
    per_target = [r for r in records if PER_TARGET.search(r)]
    kept = [r for r in per_target if not r.endswith("_base")]
    rules = len(records) - len(per_target) + len(kept) * REPLICAS
    prom.wait_value(recorded, rules)
    assert post_outcomes(url.format(a), events[0]) == DUPLICATE_REPLY
    assert post_outcomes(url.format(b), events[0])["accepted"] == 1
    prom.wait_value(period, COUNTED_AFTER_RETRY_ELSEWHERE)
    time.sleep(3)
    assert prom.value(period) == COUNTED_AFTER_RETRY_ELSEWHERE
    assert prom.value(recorded) == rules
