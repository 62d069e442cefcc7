"""The figures of one run as Markdown."""

from __future__ import annotations

import math
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from .data import BAD, PERIOD, Workflow, utc
from .live import BASELINE, Live
from .measure import RuleCost
from .run import Results

__all__ = ["machine", "markdown"]

SLOTH, NAIVE, AGENT = "sloth", "naive", "agent-slo"


def machine() -> str:
    """Cores, CPU model, memory, OS, Prometheus version."""
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    os_name = platform.system()
    release = Path("/etc/debian_version")
    if release.exists():
        os_name = f"Debian {release.read_text().strip()}"
    version = subprocess.run(
        ["prometheus", "--version"], capture_output=True, text=True, check=True
    ).stdout.split("\n", 1)[0]
    return (
        f"{os.cpu_count()} cores ({cpu}), {mem_kb / 2**20:.0f} GiB, {os_name}, "
        f"Python {platform.python_version()}, {version.replace(', version', '')}"
    )


def fmt(x: float | None, digits: int = 2) -> str:
    """A number for a table."""
    if x is None or math.isnan(x):
        return "n/a"
    return f"{x:,.{digits}f}"


def accuracy_rows(results: Results) -> list[str]:
    """Budget error per rule set."""
    rows = [
        "| rule set | budget error, max / mean (pp) | within 0.1 pp | NaN or no budget "
        "| bad runs: max error | all runs: max error |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for rs in results.sets:
        acc = results.accuracy[rs.key]
        errors = [a.error_pp for a in acc if a.error_pp is not None]
        within = sum(e <= 0.1 for e in errors)
        pair = f"{fmt(max(errors), 3)} / {fmt(statistics.fmean(errors), 3)}" if errors else "n/a"
        bad = [abs(a.bad - a.truth_bad) for a in acc if a.bad is not None]
        total = [abs(a.total - a.truth_total) for a in acc if a.total is not None]
        rows.append(
            f"| {rs.title} | {pair} | {within} of {len(acc)} | {len(acc) - len(errors)} "
            f"| {fmt(max(bad), 1) if bad else '—'} | {fmt(max(total), 1) if total else '—'} |"
        )
    return rows


def cycle(costs: Sequence[RuleCost]) -> tuple[float, float, float]:
    """One evaluation of every rule: Prometheus's time, wall time (s); Prometheus s an hour."""
    return (
        sum(c.exec for c in costs),
        sum(c.wall for c in costs),
        sum(c.exec * c.per_hour for c in costs),
    )


def cost_rows(results: Results) -> list[str]:
    """Cost of one evaluation cycle per rule set, and its ratios."""
    sloth = cycle(results.costs[SLOTH])
    naive = cycle(results.costs[NAIVE])
    rows = [
        "| rule set | rules | one cycle, Prometheus ms | vs Sloth-style | vs naive exact "
        "| one cycle, wall ms | vs Sloth-style | vs naive exact | Prometheus s an hour "
        "| vs Sloth-style | vs naive exact |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for rs in results.sets:
        ex, wall, hour = cycle(results.costs[rs.key])
        rows.append(
            f"| {rs.title} | {len(results.costs[rs.key]):,} | {fmt(ex * 1000, 1)} "
            f"| {fmt(ex / sloth[0])} | {fmt(ex / naive[0], 3)} | {fmt(wall * 1000, 1)} "
            f"| {fmt(wall / sloth[1])} | {fmt(wall / naive[1], 3)} | {fmt(hour, 1)} "
            f"| {fmt(hour / sloth[2])} | {fmt(hour / naive[2], 3)} |"
        )
    return rows


def group_kind(group: str, flows: Sequence[Workflow]) -> str:
    """A group's name with its workflow taken out (``agent-slo-<slo>-steps``)."""
    for flow in sorted(flows, key=lambda f: -len(f.slo)):
        if flow.slo in group:
            return group.replace(flow.slo, "<slo>")
    for flow in sorted(flows, key=lambda f: -len(f.name)):
        if flow.name in group:
            return group.replace(flow.name, "<workflow>")
    return group


def gap_line(results: Results) -> str:
    """What agent-slo's exactness across gaps of any length costs in one cycle."""
    full, short = results.gap_option
    agent = cycle(results.costs[AGENT])[0]
    return (
        "Exactness across long gaps: agent-slo's `counter5m_before` rules look back `[30d]` "
        f"for a target's step before (exact across gaps up to the period): "
        f"{fmt(full * 1000, 1)} ms a cycle, {fmt(full / agent * 100, 1)}% of agent-slo's; "
        "the same rules looking back `[1h5m]`, which no longer bridge a gap over an hour "
        f"(like the 70-minute one in this data), would take {fmt(short * 1000, 1)} ms, "
        f"a cycle of {fmt((agent - full + short) * 1000, 1)} ms."
    )


def parts(results: Results) -> list[str]:
    """Cost of one cycle by kind of group, per rule set."""
    lines = []
    for rs in results.sets:
        by_kind: dict[str, list[RuleCost]] = {}
        for cost in results.costs[rs.key]:
            by_kind.setdefault(group_kind(cost.group, results.flows), []).append(cost)
        text = []
        for kind, costs in by_kind.items():
            ex, _, _ = cycle(costs)
            interval = costs[0].interval // 1000
            text.append(f"`{kind}` ({interval} s) {fmt(ex * 1000, 1)} ms")
        lines.append(f"- {rs.title}: " + "; ".join(text))
    return lines


def heaviest(results: Results, key: str, count: int = 3) -> str:
    """The rules that cost the most in one cycle of a rule set."""
    by_name: dict[str, float] = {}
    for cost in results.costs[key]:
        by_name[cost.name] = by_name.get(cost.name, 0.0) + cost.exec
    top = sorted(by_name.items(), key=lambda kv: -kv[1])[:count]
    return ", ".join(f"`{name}` {fmt(s * 1000, 1)} ms" for name, s in top)


def live_rows(results: Results) -> list[str]:
    """Prometheus's own group durations, memory and CPU, per rule set."""
    base = results.live[BASELINE]
    rows = [
        "| rule set | groups (evaluated) | evaluations seen | one cycle: sum of group medians, ms "
        "| slowest group evaluation, ms | rule evaluation, s an hour | missed iterations "
        "| CPU s an hour over baseline | peak RSS MB | over baseline MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    base_cpu = base.cpu / base.seconds * 3600 if base.seconds else 0.0
    rows.append(
        f"| baseline (no rules) | 0 | 0 | — | — | — | — | — | {base.peak_rss / 2**20:,.0f} | — |"
    )
    for rs in results.sets:
        live: Live = results.live[rs.key]
        cpu = live.cpu / live.seconds * 3600 - base_cpu if live.seconds else math.nan
        rows.append(
            f"| {rs.title} | {len(live.groups):,} ({live.evaluated:,}) | {live.evaluations:,} "
            f"| {fmt(live.cycle * 1000, 1)} | {fmt(live.slowest * 1000, 1)} "
            f"| {fmt(live.per_hour, 1)} | {live.missed:.0f} | {fmt(cpu, 1)} "
            f"| {live.peak_rss / 2**20:,.0f} | {(live.peak_rss - base.peak_rss) / 2**20:+,.0f} |"
        )
    return rows


def worst(results: Results, key: str, count: int = 3) -> list[str]:
    """The SLOs a rule set is furthest off on, with what their workflow has."""
    acc = [a for a in results.accuracy[key] if a.error_pp is not None]
    acc.sort(key=lambda a: -(a.error_pp or 0.0))
    lines = []
    for a in acc[:count]:
        flow = a.flow
        traits = [f"{flow.monthly_runs:,.0f} runs/month"]
        if flow.new_model_at is not None:
            traits.append(f"new model from {utc(flow.new_model_at)[:16]}")
        if flow.late_outcome:
            traits.append("escalation_miss not pre-initialised")
        if flow.business_hours:
            traits.append("idle 00-06 daily")
        if flow.incident:
            traits.append("in the incident")
        counts = ""
        if a.bad is not None and a.total is not None:
            counts = f"; counted {a.bad:,.2f} bad of {a.total:,.2f}"
        lines.append(
            f"  - {flow.slo}: {fmt(a.error_pp, 3)} pp (budget {fmt((a.budget or 0) * 100, 3)}% "
            f"vs truth {fmt(a.truth_budget * 100, 3)}%; truth {a.truth_bad:,} bad of "
            f"{a.truth_total:,}{counts}; {', '.join(traits)})"
        )
    return lines


def targets(results: Results) -> list[str]:
    """agent-slo against the issue's targets."""
    acc = results.accuracy[AGENT]
    errors = [a.error_pp for a in acc if a.error_pp is not None]
    nan = len(acc) - len(errors)
    agent, sloth, naive = (cycle(results.costs[k]) for k in (AGENT, SLOTH, NAIVE))
    worst_error = max(errors) if errors else math.nan
    checks = [
        (f"budget within 0.1 pp on every workflow (worst {fmt(worst_error, 3)} pp)",
         bool(errors) and worst_error <= 0.1),
        (f"no NaN ({nan})", nan == 0),
    ]  # fmt: skip
    measures = [("one cycle, each rule once", agent[0], sloth[0], naive[0])]
    measures.append(("an hour of evaluations, each group at its interval", *(
        c[2] for c in (agent, sloth, naive))))  # fmt: skip
    if results.live:
        measures.append(("Prometheus's own rule evaluation an hour (live)", *(
            results.live[k].per_hour for k in (AGENT, SLOTH, NAIVE))))  # fmt: skip
    for name, mine, theirs, naive_cost in measures:
        checks.append((f"{name}: at most 1/3 of Sloth-style ({fmt(mine / theirs, 3)})",
                       mine <= theirs / 3))  # fmt: skip
        checks.append((f"{name}: at most 1/10 of naive exact ({fmt(mine / naive_cost, 3)})",
                       mine <= naive_cost / 10))  # fmt: skip
    return [f"- {'met' if ok else 'MISSED'}: {text}" for text, ok in checks]


def markdown(results: Results, command: str) -> str:
    """The whole report."""
    flows, truths = results.flows, results.truths
    period = [truths[f.name].window(results.end - PERIOD, results.end) for f in flows]
    runs = sum(t for _, t in period)
    bad = sum(b for b, _ in period)
    lost = sum(t.lost for t in truths.values())
    low = min(t for _, t in period)
    high = max(t for _, t in period)
    lines = [
        f"Run of {time.strftime('%Y-%m-%d', time.gmtime(results.end / 1000))}, "
        f"{machine()}; `{command}`; {results.wall / 60:.1f} minutes "
        f"({', '.join(f'{k} {v:.0f} s' for k, v in results.phases.items())}).",
        "",
        f"Data: {len(flows)} workflows, {results.series_raw:,} raw series at T, "
        f"{results.samples_raw:,} raw samples (30 days and 6 hours at 60 s), T = "
        f"{utc(results.end)}. In the period: {runs:,} runs, {bad:,} bad "
        f"({', '.join(BAD)}); per workflow {low:,} to {high:,} runs; {lost} runs lost "
        "between a replica's last scrape and its restart (in no sample, for every rule set).",
        "",
        "**Budget remaining against the truth** (percentage points of the budget: 100 = "
        "untouched; each rule set's latest evaluation before T against the truth of the 30 "
        "days ending there):",
        "",
        *accuracy_rows(results),
        "",
        "**One evaluation cycle** (every rule of the rule set once, as an instant query at T "
        f"through the HTTP API; median of {results.options.repeat} after a warm-up; "
        "Prometheus ms = its own execTotalTime, wall ms = the client's; an hour = each rule "
        "at its group's interval):",
        "",
        *cost_rows(results),
        "",
        "By group (Prometheus ms of one cycle):",
        "",
        *parts(results),
        "",
        gap_line(results),
        "",
        "Heaviest rules: "
        + "; ".join(f"{rs.title}: {heaviest(results, rs.key)}" for rs in results.sets),
        "",
    ]
    if results.live:
        lines += [
            "**Prometheus evaluating the rules itself** (one Prometheus per rule set and a "
            "baseline without rules, side by side on copies of the TSDB; durations from "
            "/api/v1/rules, every evaluation seen; CPU from /proc; memory = VmHWM):",
            "",
            *live_rows(results),
            "",
        ]
    back = results.backfill
    lines.append(
        f"Backfill: {back['levels']} levels, {back['samples']:,} recorded samples; rules "
        "backfilled over the whole data (the rest over the last 15 minutes): "
        + "; ".join(
            f"{rs.title}: {', '.join(f'`{n}`' for n in back['history_rules'][rs.key]) or 'none'}"
            for rs in results.sets
        )
        + "."
    )
    if back.get("promtool_slo"):
        lines.append(
            f"promtool `create-blocks-from rules` on {back['promtool_slo']}, level by level: "
            f"{back['promtool_checked']:,} samples, {len(back['promtool_mismatches'])} differ "
            "from this benchmark's range queries."
        )
    lines += ["", "agent-slo against the targets:", *targets(results)]
    lines += ["- furthest from the truth:", *worst(results, AGENT)]
    return "\n".join(lines) + "\n"
