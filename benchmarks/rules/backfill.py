"""Recorded history: the rule sets' recording rules evaluated over the data, level by level.

Rules read other recorded series, across groups too (agent-slo's 5-minute steps read the
main group's per-target sums and the main group reads the steps), so the history is written
level by level: a rule's level is one more than the highest level of the recorded series it
reads; each level is evaluated against a Prometheus serving the raw data and every lower
level, written as blocks, and served to the next.

Each rule is evaluated exactly as ``promtool tsdb create-blocks-from rules`` evaluates it: a
range query on its group's grid (Prometheus offsets every group within its interval by a hash
of the group's file path and name, so the rule files keep one path for the grid probe, the
levels and the live Prometheus), from the start it needs to T. promtool itself writes one
block per rule and 2 hours, too slow for thousands of rules over 30 days; here the same range
queries run in ranges of 10,000 steps and go into one OpenMetrics import per level. One
SLO's levels are also written by promtool, and must come out identical (``--promtool-check``).

Only what T needs is evaluated over long ranges: a rule's range starts where the rules and
alerts reading it at T (with their ranges and offsets, transitively) need it to; every other
rule is evaluated over the last 15 minutes only, so that each group's latest evaluation
before T exists.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .data import MINUTE
from .prom import Client, promtool
from .rulesets import RuleSet, to_ms

__all__ = ["Rule", "evaluate", "levels", "needs", "plan", "probe_offsets", "reads"]

LOOKBACK = 5 * MINUTE  # Prometheus's default lookback for instant selectors
RECENT = 15 * MINUTE  # every rule is evaluated at least over the last 15 minutes
MAX_STEPS = 10_000  # points per series in one range query (Prometheus allows 11,000)
GLOBAL_INTERVAL = MINUTE  # the global evaluation_interval (Prometheus's default)


@dataclass(frozen=True)
class Rule:
    """One recording rule of a rule set, with where it sits."""

    ruleset: str
    file: str  # rule file name
    group: str
    interval: int  # ms
    record: str
    expr: str
    labels: dict[str, str]
    level: int
    start: int  # ms: evaluated from here to T


def reads(expr: str, names: Iterable[str]) -> list[tuple[str, int]]:
    """The recorded series ``expr`` reads and how far back: (name, lookback ms).

    A range selector or subquery reads its range back, an instant selector the lookback
    delta; an offset adds to either.
    """
    ordered = sorted(set(names), key=len, reverse=True)
    if not ordered:
        return []
    pattern = re.compile(r"(?<![\w:])(" + "|".join(map(re.escape, ordered)) + r")(?![\w:])")
    found = []
    for match in pattern.finditer(expr):
        i = match.end()
        if expr.startswith("{", i):
            i = closing_brace(expr, i) + 1
        while i < len(expr) and expr[i].isspace():
            i += 1
        back = LOOKBACK
        if expr.startswith("[", i):
            j = expr.index("]", i)
            back = to_ms(expr[i + 1 : j].split(":", maxsplit=1)[0].strip())
            if ":" in expr[i + 1 : j]:
                back += LOOKBACK  # a subquery evaluates an instant selector at each step
            i = j + 1
        offset = re.match(r"\s*offset\s+([0-9a-z]+)", expr[i:])
        if offset:
            back += to_ms(offset[1])
        found.append((match[1], back))
    return found


def closing_brace(expr: str, i: int) -> int:
    """Index of the ``}`` closing the ``{`` at ``i`` (label values may hold braces)."""
    quoted = False
    j = i + 1
    while j < len(expr):
        c = expr[j]
        if quoted:
            if c == "\\":
                j += 1
            elif c == '"':
                quoted = False
        elif c == '"':
            quoted = True
        elif c == "}":
            return j
        j += 1
    raise ValueError(f"unbalanced braces in {expr}")


def group_interval(group: dict[str, Any]) -> int:
    """A group's interval in ms (the global one when it has none)."""
    return to_ms(group["interval"]) if "interval" in group else GLOBAL_INTERVAL


def levels(ruleset: RuleSet) -> dict[str, int]:
    """Level of every recorded name: 1 + the highest level of the names its rules read."""
    rules = [(g, r) for _, g in ruleset.groups() for r in g["rules"] if "record" in r]
    records = {r["record"] for _, r in rules}
    level: dict[str, int] = {}
    pending = rules
    while pending:
        later = []
        for group, rule in pending:
            inputs = {name for name, _ in reads(rule["expr"], records)} - {rule["record"]}
            if all(name in level for name in inputs):
                mine = 1 + max((level[n] for n in inputs), default=0)
                level[rule["record"]] = max(level.get(rule["record"], 0), mine)
            else:
                later.append((group, rule))
        if len(later) == len(pending):
            raise RuntimeError(f"a cycle between the recording rules of {ruleset.title}")
        pending = later
    return level


def needs(ruleset: RuleSet) -> dict[str, int]:
    """How far before T every recorded name must exist (ms) for the rules to run at T."""
    items = [(g, r) for _, g in ruleset.groups() for r in g["rules"]]
    records = {r["record"] for _, r in items if "record" in r}
    need = dict.fromkeys(records, RECENT)
    interval = {r["record"]: group_interval(g) for g, r in items if "record" in r}
    changed = True
    while changed:
        changed = False
        for _, rule in items:
            mine = need[rule["record"]] if "record" in rule else 0
            for name, back in reads(rule["expr"], records):
                if name == rule.get("record"):
                    continue
                wanted = mine + back + interval[name]
                if wanted > need[name]:
                    need[name] = wanted
                    changed = True
    return need


def plan(ruleset: RuleSet, data_start: int, end: int) -> list[Rule]:
    """Every recording rule of the rule set, with its level and the range to evaluate."""
    level = levels(ruleset)
    need = needs(ruleset)
    out = []
    for file, group in ruleset.groups():
        for rule in group["rules"]:
            if "record" not in rule:
                continue
            out.append(
                Rule(
                    ruleset=ruleset.key,
                    file=file,
                    group=group["name"],
                    interval=group_interval(group),
                    record=rule["record"],
                    expr=rule["expr"],
                    labels={k: str(v) for k, v in rule.get("labels", {}).items()},
                    level=level[rule["record"]],
                    start=max(data_start, seconds_floor(end - need[rule["record"]])),
                )
            )
    return out


def seconds_floor(ms: int) -> int:
    """``ms`` down to a whole second (promtool takes its start in seconds)."""
    return ms - ms % 1000


def write_rule_files(ruleset: RuleSet, folder: Path) -> list[Path]:
    """The rule set's files in ``folder`` (the paths that fix each group's grid)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, doc in ruleset.files.items():
        path = folder / name
        path.write_text(yaml.safe_dump(doc, sort_keys=False, width=10_000))
        paths.append(path)
    return paths


def probe_offsets(
    rulesets: Sequence[RuleSet], folders: dict[str, Path], url: str, end: int, work: Path
) -> dict[tuple[str, str], int]:
    """Where each group evaluates within its interval: (file path, group) → offset (ms).

    promtool evaluates, over the last half hour, one ``vector(1)`` rule in each group,
    written to the group's own file path under its own name; the rule files are written
    back afterwards.
    """
    probes = []
    for ruleset in rulesets:
        folder = folders[ruleset.key]
        for name, doc in ruleset.files.items():
            path = folder / name
            groups = []
            for group in doc["groups"]:
                probe = {k: v for k, v in group.items() if k in ("name", "interval")}
                labels = {"probe_file": str(path), "probe_group": group["name"]}
                probe["rules"] = [{"record": "bench:grid", "expr": "vector(1)", "labels": labels}]
                groups.append(probe)
            path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
            probes.append(path)
    out = work / "grid-probe"
    shutil.rmtree(out, ignore_errors=True)
    promtool(
        "tsdb", "create-blocks-from", "rules", "--quiet",
        f"--start={(end - 30 * MINUTE) // 1000}", f"--end={end // 1000}", f"--url={url}",
        f"--eval-interval={GLOBAL_INTERVAL // 1000}s", f"--output-dir={out}", *map(str, probes),
    )  # fmt: skip
    intervals = {
        (str(folders[rs.key] / name), g["name"]): group_interval(g)
        for rs in rulesets
        for name, doc in rs.files.items()
        for g in doc["groups"]
    }
    offsets = {}
    for labels, at, _ in dump(out):
        key = (labels["probe_file"], labels["probe_group"])
        offsets[key] = at % intervals[key]
    for ruleset in rulesets:
        write_rule_files(ruleset, folders[ruleset.key])
    missing = set(intervals) - set(offsets)
    if missing:
        raise RuntimeError(f"no grid found for {len(missing)} groups, e.g. {min(missing)}")
    return offsets


LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def dump(blocks: Path) -> list[tuple[dict[str, str], int, float]]:
    """Every sample of a directory of blocks: (labels with __name__, ms, value)."""
    (blocks / "wal").mkdir(exist_ok=True)  # promtool tsdb dump opens it as a database
    samples = []
    for line in promtool("tsdb", "dump", str(blocks)).splitlines():
        series, value, at = line.rsplit(" ", 2)
        samples.append((dict(LABEL.findall(series)), int(at), float(value)))
    return samples


def series_text(labels: dict[str, str]) -> str:
    """``name{a="1",b="2"}`` with sorted labels (OpenMetrics)."""
    body = ",".join(f'{k}="{escape(v)}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{labels['__name__']}{{{body}}}"


def escape(value: str) -> str:
    """A label value in the exposition format."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


Samples = dict[tuple[str, int], float]  # (series text, ms) → value


Points = dict[str, list[tuple[float, str]]]  # series text → (s, value as Prometheus wrote it)


def evaluate(client: Client, rule: Rule, offset: int, end: int) -> Points:
    """The rule over its range on its group's grid, as promtool evaluates it."""
    first = rule.start + (offset - rule.start) % rule.interval
    points: Points = {}
    at = first
    while at <= end:
        last = min(end, at + (MAX_STEPS - 1) * rule.interval)
        for series in client.query_range(rule.expr, at, last, rule.interval):
            labels = {**series["metric"], **rule.labels, "__name__": rule.record}
            points.setdefault(series_text(labels), []).extend(series["values"])
        at = last + rule.interval
    return points


def evaluate_all(
    url: str,
    *,
    rules: Sequence[Rule],
    offsets: dict[tuple[str, str], int],
    folders: dict[str, Path],
    end: int,
    outs: Sequence[Path],
    keep: Callable[[Rule], bool],
) -> tuple[int, Samples]:
    """Evaluate ``rules`` two at a time into OpenMetrics files (the rules in turn).

    Returns the number of samples written and the samples of the rules ``keep`` selects.
    """
    local = threading.local()
    clients: list[Client] = []
    kept: Samples = {}
    written = 0

    def work(rule: Rule) -> Points:
        if not hasattr(local, "client"):
            local.client = Client(url)  # one connection per worker thread
            clients.append(local.client)
        offset = offsets[str(folders[rule.ruleset] / rule.file), rule.group]
        return evaluate(local.client, rule, offset, end)

    texts = [out.open("w") for out in outs]
    with ThreadPoolExecutor(2) as pool:
        jobs = [pool.submit(work, rule) for rule in rules]
        for i, (rule, job) in enumerate(zip(rules, jobs, strict=True)):
            points = job.result()
            text = texts[i % len(texts)]
            for series, values in points.items():  # each series in time order
                text.write("".join([f"{series} {v} {t:.3f}\n" for t, v in values]))
                written += len(values)
                if keep(rule):
                    kept.update(((series, round(t * 1000)), float(v)) for t, v in values)
    for text in texts:
        text.write("# EOF\n")
        text.close()
    for client in clients:
        client.close()
    return written, kept


def import_openmetrics(oms: Sequence[Path], blocks: Path) -> None:
    """OpenMetrics files → TSDB blocks (up to 31 days each), one promtool each, in parallel."""
    shutil.rmtree(blocks, ignore_errors=True)
    parts = [blocks.with_name(f"{blocks.name}-part{i}") for i in range(len(oms))]
    running = [
        subprocess.Popen(
            [
                "promtool", "tsdb", "create-blocks-from", "openmetrics", "--quiet",
                "--max-block-duration=744h", str(om), str(part),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for om, part in zip(oms, parts, strict=True)
    ]  # fmt: skip
    for process, om in zip(running, oms, strict=True):
        _, errors = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"promtool could not import {om}: {errors.decode()[-2000:]}")
    blocks.mkdir(parents=True)
    for part in parts:
        if part.exists():
            for block in part.iterdir():
                shutil.move(str(block), str(blocks / block.name))
            shutil.rmtree(part)


def promtool_level(
    rules: Sequence[Rule], folders: dict[str, Path], url: str, end: int, work: Path
) -> Samples:
    """``promtool tsdb create-blocks-from rules`` for ``rules`` (all of one rule set); samples.

    The rules are written, by group, to their own files' paths (so that promtool puts them on
    the same grid), once per distinct start; the full rule files are written back by the
    caller.
    """
    samples: Samples = {}
    for start in sorted({r.start for r in rules}):
        batch = [r for r in rules if r.start == start]
        docs: dict[str, dict[str, list[dict[str, Any]]]] = {}  # path → group → rules
        for rule in batch:
            path = str(folders[rule.ruleset] / rule.file)
            groups = docs.setdefault(path, {})
            entry = {"record": rule.record, "expr": rule.expr, "labels": rule.labels}
            groups.setdefault(rule.group, []).append(entry)
        for path, groups in docs.items():
            doc: dict[str, list[dict[str, Any]]] = {"groups": []}
            for name, entries in groups.items():
                # the group's interval, explicit: the grid is the hash modulo the interval
                interval = next(r.interval for r in batch if r.group == name)
                group = {"name": name, "interval": f"{interval}ms", "rules": entries}
                doc["groups"].append(group)
            Path(path).write_text(yaml.safe_dump(doc, sort_keys=False, width=10_000))
        out = work / "promtool-check"
        shutil.rmtree(out, ignore_errors=True)
        promtool(
            "tsdb", "create-blocks-from", "rules", "--quiet",
            f"--start={start // 1000}", f"--end={end // 1000}", f"--url={url}",
            f"--eval-interval={GLOBAL_INTERVAL // 1000}s", f"--output-dir={out}", *docs,
        )  # fmt: skip
        for labels, at, value in dump(out):
            if at >= start:
                samples[series_text(labels), at] = value
    return samples
