"""One run of the benchmark: data, backfill, measures at T, live Prometheus, report."""

from __future__ import annotations

import json
import math
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import backfill, data, ingest, rulesets
from .live import Live, run_live
from .measure import Accuracy, RuleCost, accuracy, time_exprs, time_rules
from .prom import assemble, promtool, serving

__all__ = ["Options", "Progress", "Results", "run"]

REPO = Path(__file__).resolve().parents[2]
AGENT_SLO = REPO / ".venv" / "bin" / "agent-slo"
GAP_OPTION = "[1h5m]"  # a step lookback that bridges gaps under an hour only
QUIET = {"global": {"evaluation_interval": "1m"}}  # no scrapes, no rules


@dataclass(frozen=True)
class Options:
    """What to run."""

    workflows: int
    seed: int
    repeat: int
    work: Path
    promtool_check: bool
    live: bool
    live_min_seconds: float
    live_max_seconds: float
    keep: bool
    raw_import: str = "remote-write"  # or "openmetrics": no staleness markers


class Progress:
    """Timestamped progress lines on stderr; the time of each phase."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.phases: dict[str, float] = {}
        self._phase_start = self.start

    def __call__(self, message: str) -> None:
        print(f"[{time.monotonic() - self.start:7.1f}s] {message}", file=sys.stderr, flush=True)

    def phase(self, name: str) -> None:
        """Close the current phase under ``name``."""
        now = time.monotonic()
        self.phases[name] = now - self._phase_start
        self._phase_start = now
        self(f"{name}: {self.phases[name]:.1f} s")


@dataclass
class Results:
    """Everything one run measured."""

    options: Options
    end: int
    flows: list[data.Workflow]
    truths: dict[str, data.Truth]
    sets: list[rulesets.RuleSet]
    samples_raw: int = 0
    series_raw: int = 0
    accuracy: dict[str, list[Accuracy]] = field(default_factory=dict)
    costs: dict[str, list[RuleCost]] = field(default_factory=dict)
    live: dict[str, Live] = field(default_factory=dict)
    backfill: dict[str, Any] = field(default_factory=dict)
    phases: dict[str, float] = field(default_factory=dict)
    wall: float = 0.0
    gap_option: tuple[float, float] = (math.nan, math.nan)  # step lookback [30d], [1h5m] (s)


def write_data(
    flows: Sequence[data.Workflow],
    schedule: data.Schedule,
    options: Options,
    log: Progress,
) -> tuple[dict[str, data.Truth], dict[str, int], Path, int]:
    """The raw data as blocks; the truth, the last values, the blocks' folder, samples."""
    work = options.work
    truths: dict[str, data.Truth] = {}
    last: dict[str, int] = {}
    series: list[data.Series] = []
    text = OpenMetricsImport(work, schedule, log) if options.raw_import == "openmetrics" else None
    samples = 0
    for flow, truth, flow_series in data.generate(flows, schedule, options.seed):
        truths[flow.name] = truth
        last.update(data.last_values(flow_series))
        samples += sum(s.kinds.count(data.SAMPLE) for s in flow_series)
        series.extend(flow_series)
        if text is not None and len(series) >= 200:
            text.add(series)
            series = []
    log(f"data: {len(flows)} workflows generated, {samples:,} samples")
    if text is not None:
        if series:
            text.add(series)
        return truths, last, text.finish(), samples
    raw = ingest.remote_write_tsdb(series, schedule.stamps, work, work / "prometheus-ingest.log")
    return truths, last, raw, samples


class OpenMetricsImport:
    """Raw series as OpenMetrics files, each imported by promtool in the background."""

    def __init__(self, work: Path, schedule: data.Schedule, log: Progress) -> None:
        self.work = work
        self.stamps = data.stamp_texts(schedule)
        self.log = log
        self.parts: list[tuple[subprocess.Popen[bytes], Path]] = []

    def add(self, series: Sequence[data.Series]) -> None:
        """One more file, imported in the background."""
        n = len(self.parts)
        om = self.work / f"raw-{n}.om"
        with om.open("w") as out:
            out.write(f"# TYPE {data.METRIC.removesuffix('_total')} counter\n")
            data.write_openmetrics(series, out, self.stamps)
            out.write("# EOF\n")
        out_dir = self.work / "blocks" / "raw-parts" / f"part-{n}"
        cmd = [
            "promtool", "tsdb", "create-blocks-from", "openmetrics", "--quiet",
            "--max-block-duration=744h", str(om), str(out_dir),
        ]  # fmt: skip
        self.parts.append((subprocess.Popen(cmd, stdout=subprocess.DEVNULL), om))
        self.log(f"data: OpenMetrics part {n} written, importing")

    def finish(self) -> Path:
        """Wait for the imports; every block in one folder."""
        for process, om in self.parts:
            if process.wait() != 0:
                raise RuntimeError(f"promtool could not import {om}")
            om.unlink()
        flat = self.work / "blocks" / "raw"
        flat.mkdir(parents=True)
        for part in (self.work / "blocks" / "raw-parts").iterdir():
            for block in part.iterdir():
                shutil.move(str(block), str(flat / block.name))
        shutil.rmtree(self.work / "blocks" / "raw-parts")
        return flat


def run(options: Options, log: Progress) -> Results:
    """The whole benchmark."""
    work = options.work
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    end = data.data_end(int(time.time() * 1000))
    schedule = data.Schedule.of(end)
    flows = data.make_workflows(options.workflows, end, random.Random(options.seed))
    data_start = end - data.PERIOD - data.HISTORY

    truths, last, raw, lines = write_data(flows, schedule, options, log)
    log.phase("data")

    sets = [
        rulesets.agent_slo(flows, work / "agent-slo", AGENT_SLO),
        rulesets.sloth(flows),
        rulesets.pyrra(flows, performance=False),
        rulesets.pyrra(flows, performance=True),
        rulesets.naive(flows),
    ]
    folders = {rs.key: work / "rules" / rs.key for rs in sets}
    files = {rs.key: backfill.write_rule_files(rs, folders[rs.key]) for rs in sets}
    for rs in sets:
        promtool("check", "rules", *map(str, files[rs.key]))
    results = Results(options, end, flows, truths, sets, samples_raw=lines)
    results.series_raw = len(last)
    plans = {rs.key: backfill.plan(rs, data_start, end) for rs in sets}
    rounds = max(r.level for rules in plans.values() for r in rules)
    log(f"rules: {sum(len(p) for p in plans.values())} recording rules in {rounds} levels")

    check_flow = next((f for f in flows if f.late_outcome and f.new_model_at), flows[0])
    check_label = f'slo="{check_flow.slo}"'
    mismatches: list[str] = []
    checked = 0
    levels: list[Path] = []
    offsets: dict[tuple[str, str], int] = {}
    written = 0
    for level in range(1, rounds + 1):
        todo = [r for rules in plans.values() for r in rules if r.level == level]
        data_dir = assemble(work / "prom-backfill", [raw, *levels])
        with serving(data_dir, QUIET, work / "prometheus-backfill.log") as prom:
            if level == 1:
                offsets = backfill.probe_offsets(sets, folders, prom.url, end, work)
            oms = [work / f"level-{level}-{i}.om" for i in range(2)]

            def keep(rule: backfill.Rule) -> bool:
                return (
                    options.promtool_check
                    and rule.ruleset == "agent-slo"
                    and (
                        check_label in str(rule.labels) or rule.labels.get("slo") == check_flow.slo
                    )
                )

            count, mine = backfill.evaluate_all(
                prom.url, rules=todo, offsets=offsets, folders=folders, end=end, outs=oms, keep=keep
            )
            written += count
            if options.promtool_check:
                ours = [r for r in todo if keep(r)]
                if ours:
                    theirs = backfill.promtool_level(ours, folders, prom.url, end, work)
                    backfill.write_rule_files(sets[0], folders["agent-slo"])
                    checked += len(theirs)
                    for key in mine.keys() | theirs.keys():
                        a, b = mine.get(key), theirs.get(key)
                        same = (
                            a is not None
                            and b is not None
                            and (a == b or (math.isnan(a) and math.isnan(b)))
                        )
                        if not same:
                            mismatches.append(f"{key[0]} at {key[1]}: ours {a}, promtool {b}")
        blocks = work / "blocks" / f"level-{level}"
        backfill.import_openmetrics(oms, blocks)
        for om in oms:
            om.unlink()
        levels.append(blocks)
        log(f"level {level}: {len(todo)} rules, {count:,} samples")
    shutil.rmtree(work / "prom-backfill", ignore_errors=True)
    results.backfill = {
        "levels": rounds,
        "samples": written,
        "promtool_checked": checked,
        "promtool_mismatches": mismatches,
        "promtool_slo": check_flow.slo if options.promtool_check else None,
        "history_rules": {
            rs.key: sorted({r.record for r in plans[rs.key] if r.start < end - 2 * data.HOUR})
            for rs in sets
        },
    }
    if mismatches:
        log(f"promtool check: {len(mismatches)} of {checked} samples differ, e.g. {mismatches[0]}")
    log.phase("backfill")

    settled = assemble(work / "tsdb", [raw, *levels])
    with serving(settled, QUIET, work / "prometheus-measure.log") as prom:
        for rs in sets:
            results.accuracy[rs.key] = accuracy(prom, rs, flows, truths, end)
        log("accuracy measured")
        prom.settle(log)
        results.costs = time_rules(prom, sets, end, options.repeat, log)
        before = [
            c.expr for c in results.costs["agent-slo"] if c.name.endswith(":counter5m_before")
        ]
        short = [e.replace("[30d] offset 1ms", f"{GAP_OPTION} offset 1ms") for e in before]
        results.gap_option = (
            time_exprs(prom, before, end, options.repeat),
            time_exprs(prom, short, end, options.repeat),
        )
    log.phase("measure")
    for folder in (raw, *levels):
        shutil.rmtree(folder)  # the settled TSDB holds everything now

    if options.live:
        results.live = run_live(
            sets,
            files,
            settled,
            work,
            last,
            log=log,
            min_seconds=options.live_min_seconds,
            max_seconds=options.live_max_seconds,
        )
        log.phase("live")
    results.phases = dict(log.phases)
    results.wall = time.monotonic() - log.start
    return results


def save_json(results: Results, path: Path) -> None:
    """The figures as JSON (for the README tables)."""
    doc: dict[str, Any] = {
        "end": results.end,
        "workflows": len(results.flows),
        "phases": results.phases,
        "wall": results.wall,
        "backfill": results.backfill,
        "accuracy": {
            key: [
                {
                    "slo": a.flow.slo,
                    "budget": a.budget,
                    "truth": a.truth_budget,
                    "error_pp": a.error_pp,
                    "bad": a.bad,
                    "total": a.total,
                    "truth_bad": a.truth_bad,
                    "truth_total": a.truth_total,
                    "at": a.at,
                }
                for a in rows
            ]
            for key, rows in results.accuracy.items()
        },
        "costs": {
            key: [
                {
                    "group": c.group,
                    "name": c.name,
                    "exec": c.execs,
                    "wall": c.walls,
                    "samples": c.samples,
                }
                for c in rows
            ]
            for key, rows in results.costs.items()
        },
    }
    path.write_text(json.dumps(doc, indent=1, default=str))
