"""Benchmark: validate and generate 1,000 SLO specs; the size of the output.

Run: .venv/bin/python benchmarks/generate_bench.py [--repeat N]

Baselines measured in the same run:
- "yaml-roundtrip": yaml.safe_load of every spec file and yaml.safe_dump of what was loaded,
  the floor of any YAML-in, YAML-out tool;
- Sloth's generated rules for its public examples (shared/anchors/sloth/_gen), for the size
  of the output per SLO.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from rulegen import pipeline, writer

REPO = Path(__file__).resolve().parent.parent
SLOTH_GEN = REPO.parent / "shared" / "anchors" / "sloth" / "_gen"
SLOS = 1_000
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

SLI_KINDS = (
    "    sli: {outcomes: {bad: [major_rewrite, rejected, wrong_action]}}\n",
    "    sli: {outcomes: {exclude: [escalated]}}\n",
    "    sli: {latency: {threshold: 2m}}\n",
    '    sli:\n      ratio:\n        errors: \'svc_requests_total{job="svc%d",code=~"5.."}\'\n'
    "        total: 'svc_requests_total{job=\"svc%d\"}'\n"
    '        test_labels: {errors: {code: "503"}, good: {code: "200"}}\n',
)


def spec_text(rng: random.Random, index: int, slos: int) -> str:
    """One realistic spec file with ``slos`` SLOs."""
    tier = rng.choice(("low", "medium", "high"))
    period = rng.choice(("7d", "28d", "30d"))
    lines = [
        "apiVersion: agent-slo/v1",
        f"workflow: wf-{index}",
        f"tier: {tier}",
        f"period: {period}",
        f"labels: {{team: team-{index % 17}}}",
        "dimensions:",
        "  model: {max_values: 10, values: [model-a, model-b]}",
        "  prompt_version: {max_values: 50}",
        "policies:",
        "  - {name: warning, failure_rate_above: 30, action: Tighten prompt constraints}",
        "  - {name: red_line, failure_rate_above: 50, action: Stop using AI, severity: page}",
        "slos:",
    ]
    body = "\n".join(lines) + "\n"
    for j in range(slos):
        objective = rng.choice(("80", "90", "95", "99", "99.5", "99.9"))
        body += f"  - name: wf-{index}-slo-{j}\n    objective: {objective}\n"
        kind = rng.choice(SLI_KINDS)
        body += kind.replace("%d", str(index)) if "%d" in kind else kind
        if rng.random() < 0.3:
            body += "    tightening:\n      - {date: 2027-03-01, objective: 99.95}\n"
    return body


def write_specs(root: Path, files: int, slos_per_file: int) -> list[Path]:
    """Deterministic specs in ``root``."""
    rng = random.Random(20261124)
    root.mkdir(parents=True)
    paths = []
    for i in range(files):
        path = root / f"wf-{i:04d}.yaml"
        path.write_text(spec_text(rng, i, slos_per_file), encoding="utf-8")
        paths.append(path)
    return paths


def timed(func: Callable[[], object], repeat: int) -> list[float]:
    """Wall times of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return times


def yaml_roundtrip(paths: list[Path]) -> None:
    """The baseline: load every file, dump what was loaded."""
    for path in paths:
        yaml.safe_dump(yaml.safe_load(path.read_text(encoding="utf-8")))


def sloth_size() -> tuple[float, float]:
    """Bytes and rules per SLO in Sloth's generated output for its examples."""
    total_bytes = rules = slos = 0
    for path in sorted(SLOTH_GEN.glob("*.y*ml")):
        text = path.read_text(encoding="utf-8")
        total_bytes += len(text.encode())
        for doc in yaml.safe_load_all(text):
            if not doc:
                continue
            groups = doc.get("groups") or doc.get("spec", {}).get("groups", [])
            for group in groups:
                rules += len(group["rules"])
                if "-meta-recordings-" in group["name"]:
                    slos += 1
    return total_bytes / slos, rules / slos


def measure(paths: list[Path], out: Path, repeat: int) -> list[tuple[str, list[float]]]:
    """Wall times of the baseline, validate, generate and the CLI on one set of specs."""

    def baseline() -> None:
        yaml_roundtrip(paths)

    def validate() -> None:
        pipeline.load(paths)

    def generate() -> None:
        writer.write(out, pipeline.generate(pipeline.load(paths)).files)

    rows = [
        ("yaml-roundtrip (baseline)", timed(baseline, repeat)),
        ("validate (load + check)", timed(validate, repeat)),
        ("generate (+ render + write)", timed(generate, repeat)),
    ]
    cli = shutil.which("agent-slo", path=str(Path(sys.executable).parent))
    if cli is not None:
        command = [cli, "generate", str(paths[0].parent), "-o", str(out)]

        def process() -> None:
            subprocess.run(command, check=True, capture_output=True)

        rows.append(("CLI `agent-slo generate` (process)", timed(process, 1)))
    return rows


def main() -> None:
    """Run every measurement and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="agent-slo-bench-"))
    try:
        print(f"{'shape':<22} {'measure':<34} {'median s':>9} {'min s':>7} {'x baseline':>10}")
        for files, per_file in ((250, 4), (1_000, 1)):
            shape = f"{files} files x {per_file} SLOs"
            paths = write_specs(work / f"specs-{files}", files, per_file)
            out = work / f"out-{files}"
            rows = measure(paths, out, args.repeat)
            base = statistics.median(rows[0][1])
            for name, times in rows:
                median = statistics.median(times)
                print(
                    f"{shape:<22} {name:<34} {median:>9.3f} {min(times):>7.3f} "
                    f"{median / base:>10.1f}"
                )
            files_out = sorted(p for p in out.rglob("*") if p.is_file())
            rule_files = [p for p in files_out if p.name.endswith(".rules.yml")]
            test_files = [p for p in files_out if p.name.endswith(".test.yml")]
            rules = sum(
                len(g["rules"])
                for p in rule_files
                for g in yaml.load(p.read_text(encoding="utf-8"), Loader=LOADER)["groups"]  # noqa: S506 - the C SafeLoader
            )
            scenarios = sum(
                len(yaml.load(p.read_text(encoding="utf-8"), Loader=LOADER)["tests"])  # noqa: S506 - the C SafeLoader
                for p in test_files
            )
            rule_bytes = sum(p.stat().st_size for p in rule_files)
            test_bytes = sum(p.stat().st_size for p in test_files)
            print(
                f"{shape:<22} output: {len(rule_files)} rule files ({rule_bytes / 1e6:.1f} MB, "
                f"{rules} rules), {len(test_files)} test files ({test_bytes / 1e6:.1f} MB, "
                f"{scenarios} scenarios)"
            )
            if files == 250:
                sloth_bytes, sloth_rules = sloth_size()
                print(
                    f"{'per SLO':<22} agent-slo {rule_bytes / SLOS / 1e3:.1f} kB and "
                    f"{rules / SLOS:.1f} rules (zero-tolerance files included); Sloth "
                    f"{sloth_bytes / 1e3:.1f} kB and {sloth_rules:.1f} rules; ratio "
                    f"{rule_bytes / SLOS / sloth_bytes:.1f}x bytes, "
                    f"{rules / SLOS / sloth_rules:.1f}x rules"
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
