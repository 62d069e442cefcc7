"""Command line: ``.venv/bin/python -m benchmarks.rules --workflows 10``."""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from .report import markdown
from .run import REPO, Options, Progress, run, save_json


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the options, run, print the report."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.rules",
        description="Rule cost and accuracy of agent-slo, Sloth-style, Pyrra and naive rules "
        "on 30 days of synthetic agent outcomes, on a real Prometheus.",
    )
    parser.add_argument("--workflows", type=int, default=10, help="workflows (default 10)")
    parser.add_argument("--repeat", type=int, default=5, help="timings per rule (default 5)")
    parser.add_argument("--seed", type=int, default=20261201, help="data seed")
    parser.add_argument(
        "--work-dir", type=Path, default=REPO / "benchmarks" / ".work" / "rules", help="scratch"
    )
    parser.add_argument(
        "--no-promtool-check",
        dest="promtool_check",
        action="store_false",
        help="skip writing one SLO's levels with promtool as well",
    )
    parser.add_argument(
        "--no-live", dest="live", action="store_false", help="skip the live Prometheus phase"
    )
    parser.add_argument("--live-min-seconds", type=float, default=150.0)
    parser.add_argument("--live-max-seconds", type=float, default=420.0)
    parser.add_argument(
        "--raw-import",
        choices=("remote-write", "openmetrics"),
        default="remote-write",
        help="how the raw data enters the TSDB: remote write with staleness markers, as "
        "scrapes store it (default), or promtool's OpenMetrics import, which has none",
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    if shutil.which("prometheus") is None or shutil.which("promtool") is None:
        parser.error("prometheus and promtool must be on PATH (scripts/setup installs them)")
    options = Options(
        workflows=args.workflows,
        seed=args.seed,
        repeat=args.repeat,
        work=args.work_dir,
        promtool_check=args.promtool_check,
        live=args.live,
        live_min_seconds=args.live_min_seconds,
        live_max_seconds=args.live_max_seconds,
        keep=args.keep,
        raw_import=args.raw_import,
    )
    log = Progress()
    results = run(options, log)
    command = shlex.join([".venv/bin/python", "-m", "benchmarks.rules", *(argv or sys.argv[1:])])
    report = markdown(results, command)
    print(report)
    if args.json:
        save_json(results, args.json)
    if not options.keep:
        shutil.rmtree(options.work, ignore_errors=True)
    log("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
