"""The README walkthrough, followed as a newcomer would, on real services.

The commands are read from the README itself: the receiver of Alertmanager's notifications,
the Prometheus configuration, every `agent-slo record` line and the query; the lines the
README shows the receiver printing are the lines it prints. Only time is scaled down:
Prometheus scrapes and evaluates every second instead of every 15 s, the 5-minute step group
runs every 5 s, Alertmanager waits 1 s, and the README's `sleep 30`s become polls. Every
figure the walkthrough states is checked.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness import REPO, process, running_alertmanager, running_receiver, wait_http
from realprom import Prometheus, free_port, running_prometheus

README = REPO / "README.md"
SLO = "code-review-acceptance"


def walkthrough() -> tuple[str, str]:
    """The walkthrough's shell block and the prose after it."""
    text = README.read_text()
    section = text.split("## Walkthrough", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```sh\n(.*?)```(.*)", section, re.S)
    assert match, "the README walkthrough has no ```sh block"
    return match.group(1), match.group(2)


def prometheus_config(block: str) -> dict[str, Any]:
    """The prometheus.yml the walkthrough writes."""
    match = re.search(r"cat > /tmp/prometheus.yml <<YAML\n(.*?)\nYAML\n", block, re.S)
    assert match, "the walkthrough no longer writes /tmp/prometheus.yml"
    config: dict[str, Any] = yaml.safe_load(match.group(1).replace("$PWD", str(REPO)))
    return config


def record_lines(block: str) -> list[str]:
    """Each shell line of the walkthrough that records outcomes, in order."""
    lines = [line for line in block.splitlines() if "agent-slo record" in line]
    assert lines, "the walkthrough records nothing"
    return lines


def receiver_command(block: str, cli: Path) -> list[str]:
    """The walkthrough's `agent-slo webhook` command, run with this virtualenv's agent-slo."""
    (line,) = [x for x in block.splitlines() if x.startswith("agent-slo webhook")]
    words = shlex.split(line.split("&", 1)[0].split("#", 1)[0])
    return [str(cli), *words[1:]]


def receiver_lines(prose: str) -> list[list[re.Pattern[str]]]:
    """The lines the prose shows the receiver printing, block by block; any time matches."""
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
    return [
        [
            re.compile(r"\S+".join(re.escape(part) for part in re.split(stamp, line)))
            for line in block.splitlines()
        ]
        for block in re.findall(r"\n```\n(.*?)\n```\n", prose, re.S)
    ]


def query_expr(block: str) -> str:
    match = re.search(r"--data-urlencode 'query=(.*?)'", block)
    assert match, "the walkthrough queries nothing"
    return match.group(1)


def firing(prom: Prometheus) -> set[tuple[str, ...]]:
    """(alertname, slo, severity, long_window or policy) of every firing alert."""
    return {
        (
            a["metric"]["alertname"],
            a["metric"].get("slo", ""),
            a["metric"].get("severity", ""),
            a["metric"].get("long_window", a["metric"].get("policy", "")),
        )
        for a in prom.query('ALERTS{alertstate="firing"}')
    }


def wait_firing(prom: Prometheus, expected: set[tuple[str, ...]], timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    got: set[tuple[str, ...]] = set()
    while time.monotonic() < deadline:
        got = firing(prom)
        if got == expected:
            return
        time.sleep(0.5)
    raise AssertionError(f"firing {sorted(got)}, expected {sorted(expected)}")


def scaled_rules(tmp_path: Path) -> Path:
    """The committed generated rules, with the step group running every 5 s."""
    folder = tmp_path / "rules"
    folder.mkdir()
    for path in sorted((REPO / "generated" / "rules").glob("*.rules.yml")):
        text = path.read_text()
        assert "interval: 5m" in text or "zero-tolerance" in path.name, path
        (folder / path.name).write_text(text.replace("interval: 5m", "interval: 5s"))
    return folder


def test_readme_walkthrough(tmp_path: Path) -> None:
    """The walkthrough's figures appear on a fresh Prometheus: 0.2 over the hour with a new
    label value, all 25 runs in the period at the next step, only the announced alerts."""
    block, prose = walkthrough()
    assert "reads 0.2" in prose
    first_alerts, page = receiver_lines(prose)
    exporter_port, am_port, receiver_port = free_port(), free_port(), free_port()
    config = prometheus_config(block)
    assert config["global"] == {"scrape_interval": "15s", "evaluation_interval": "15s"}
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [
        str(scaled_rules(tmp_path) / Path(f).name) for f in config["rule_files"]
    ]
    config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] = [
        f"127.0.0.1:{am_port}"
    ]
    config["scrape_configs"][0]["static_configs"][0]["targets"] = [f"127.0.0.1:{exporter_port}"]
    cli = Path(sys.executable).parent / "agent-slo"
    env = {
        **os.environ,
        "PATH": f"{cli.parent}{os.pathsep}{os.environ['PATH']}",
        "AGENT_SLO_URL": f"http://127.0.0.1:{exporter_port}",
    }
    with ExitStack() as stack:
        printed = stack.enter_context(
            running_receiver(tmp_path, receiver_command(block, cli), receiver_port)
        )
        stack.enter_context(running_alertmanager(tmp_path, am_port, receiver_port))
        stack.enter_context(
            process(
                [
                    str(cli), "serve", "--specs", str(REPO / "slo-specs"),
                    "--state", str(tmp_path / "agent-slo.db"), "--port", str(exporter_port),
                ],
                tmp_path / "exporter.log",
            )
        )  # fmt: skip
        wait_http(f"http://127.0.0.1:{exporter_port}/readyz")
        prom = stack.enter_context(running_prometheus(tmp_path, [], config=config))
        # `sleep 30`: Prometheus has evaluated the rules on the counters at 0.
        prom.wait_for(f'slo:events:counter{{slo="{SLO}"}}')
        lines = record_lines(block)
        *first, burst = lines
        for line in first:
            subprocess.run(["bash", "-c", line], env=env, check=True, capture_output=True)

        # `sleep 30` and the query: 0.2 over the hour, 25 runs, 5 bad.
        expr = query_expr(block)
        assert expr == f'slo:sli_error:ratio_rate1h{{slo="{SLO}"}}'
        prom.wait_value(expr, 0.2)
        assert prom.value(f'slo:events:increase1h{{slo="{SLO}"}}') == 25
        assert prom.value(f'slo:bad_events:increase1h{{slo="{SLO}"}}') == 5
        # The next step: the period holds all 25 runs; the budget is spent, exactly.
        prom.wait_value(f'slo:period_events:increase{{slo="{SLO}"}}', 25)
        assert prom.value(f'slo:period_bad_events:increase{{slo="{SLO}"}}') == 5
        prom.wait_value(f'slo:period_error_budget_remaining:ratio{{slo="{SLO}"}}', 0)
        announced = {
            ("ErrorBudgetExhausted", SLO, "ticket", ""),
            ("ErrorBudgetBurn", SLO, "ticket", "16h50m"),
        }
        wait_firing(prom, announced)
        time.sleep(3)  # and nothing else, a few evaluations and steps later
        assert firing(prom) == announced
        # The receiver prints the two tickets as the README shows them.
        for line in first_alerts:
            printed.wait_for(line, timeout=30)
        assert len(printed.lines()) == 1 + len(first_alerts)  # its start, then the tickets

        # Step 7: the fast burn.
        assert "--count 176" in burst
        subprocess.run(["bash", "-c", burst], env=env, check=True, capture_output=True)
        prom.wait_value(f'slo:events:increase1h{{slo="{SLO}"}}', 201)
        assert prom.value(f'slo:bad_events:increase1h{{slo="{SLO}"}}') == 181
        wait_firing(
            prom,
            announced
            | {("ErrorBudgetBurn", SLO, "ticket", window) for window in ("14m", "1h25m", "5h35m")}
            | {("ErrorBudgetPolicy", SLO, "page", "red_line")},
        )
        # Alertmanager routes them: the red line to the pager, as the README shows it.
        (line,) = page
        printed.wait_for(line, timeout=30)


@pytest.mark.parametrize("figure", ["0.2", "all 25 runs", "16h50m", "ErrorBudgetExhausted"])
def test_walkthrough_states_the_checked_figures(figure: str) -> None:
    """The prose after the walkthrough states the figures test_readme_walkthrough checks."""
    _, prose = walkthrough()
    assert figure in prose
