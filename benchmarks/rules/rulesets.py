"""The rule sets compared, for the same SLO of every workflow: 99% of runs not bad over 30 days.

- ``agent-slo``: the rules ``agent-slo generate`` writes for the workflow's spec.
- ``Sloth-style``: Sloth's rules for the same SLO, in the shape Sloth generates them
  (``shared/anchors/sloth/_gen``): a ratio of rates per alert window from the raw counters,
  the period as the average of the recorded 5-minute ratios, meta rules and two alerts.
- ``Pyrra default``: Pyrra's rules (``slo/rules.go``): ``increase(raw[30d])`` per outcome in a
  group every 2m30s, a ratio of rates per burn-rate window every 30 s, four alerts and an
  absent alert; the budget as Pyrra's UI reads it from the recorded increase.
- ``Pyrra performance``: Pyrra's ``performanceOverAccuracy`` mode: ``increase(raw[5m])`` per
  outcome every 30 s, and the period as ``sum_over_time`` of it over a ``[30d:5m]`` subquery
  (the group Pyrra writes for Thanos Ruler; here the same Prometheus evaluates it).
- ``naive exact``: ``sum(increase(raw[w]))`` of bad and all runs for every alert window and
  the period, their ratios, the budget and the four alerts.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .data import BAD, DAY, HOUR, METRIC, MINUTE, OBJECTIVE, Workflow

__all__ = [
    "PeriodQueries",
    "RuleSet",
    "agent_slo",
    "naive",
    "prom_duration",
    "pyrra",
    "sloth",
    "sloth_groups",
]

BUDGET = round(1 - OBJECTIVE, 10)
ALERT_TIERS = (  # long, short, burn factor, severity (the SRE Workbook's, as Sloth uses)
    ("1h", "5m", 14.4, "page"),
    ("6h", "30m", 6.0, "page"),
    ("1d", "2h", 3.0, "ticket"),
    ("3d", "6h", 1.0, "ticket"),
)
SLOTH_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")


@dataclass(frozen=True)
class PeriodQueries:
    """How to read one SLO's period figures from a rule set's recorded series."""

    budget: str  # budget remaining, 1 = untouched
    stamp: str  # when the recorded samples behind it were evaluated (s)
    bad: str | None = None  # bad runs over the period, when the rule set counts them
    total: str | None = None


@dataclass(frozen=True)
class RuleSet:
    """Rule files (name → document) and how to read each SLO's period figures."""

    key: str  # folder name
    title: str
    files: dict[str, dict[str, Any]]
    period: Callable[[Workflow], PeriodQueries]

    def groups(self) -> list[tuple[str, dict[str, Any]]]:
        """(file name, group) of every group."""
        return [(name, g) for name, doc in self.files.items() for g in doc["groups"]]


def bad_selector(flow: Workflow) -> str:
    """The workflow's bad runs."""
    return f'{METRIC}{{workflow="{flow.name}",outcome=~"{"|".join(BAD)}"}}'


def total_selector(flow: Workflow) -> str:
    """All the workflow's runs."""
    return f'{METRIC}{{workflow="{flow.name}"}}'


def go_float(value: float) -> str:
    """A float as Go's strconv 'g' -1 formats it (how Sloth and Pyrra print numbers)."""
    text = repr(float(value))
    return text.removesuffix(".0")


def prom_duration(ms: int) -> str:
    """A duration as Prometheus prints one (model.Duration.String)."""
    if ms == 0:
        return "0s"
    out = ""
    for unit, size, exact in (
        ("y", 365 * DAY, True),
        ("w", 7 * DAY, True),
        ("d", DAY, False),
        ("h", HOUR, False),
        ("m", MINUTE, False),
        ("s", 1_000, False),
        ("ms", 1, False),
    ):
        if exact and ms % size:
            continue
        if ms >= size:
            out += f"{ms // size}{unit}"
            ms %= size
    return out


# --------------------------------------------------------------------------------------------
# agent-slo


def agent_spec(flow: Workflow) -> str:
    """The workflow's agent-slo spec."""
    return (
        "apiVersion: agent-slo/v1\n"
        f"workflow: {flow.name}\n"
        "tier: high\n"
        "period: 30d\n"
        "dimensions:\n"
        "  model: {max_values: 10, values: [model-a, model-b]}\n"
        "slos:\n"
        f"  - name: {flow.slo}\n"
        f"    objective: {OBJECTIVE * 100:g}\n"
        "    sli:\n"
        f"      outcomes: {{bad: [{', '.join(BAD)}]}}\n"
    )


def agent_slo(flows: Sequence[Workflow], work: Path, cli: Path) -> RuleSet:
    """``agent-slo generate`` on one spec per workflow; every rule file it writes."""
    specs, out = work / "specs", work / "generated"
    specs.mkdir(parents=True, exist_ok=True)
    for flow in flows:
        (specs / f"{flow.name}.yaml").write_text(agent_spec(flow))
    subprocess.run(
        [str(cli), "generate", str(specs), "-o", str(out)], check=True, capture_output=True
    )
    files = {p.name: yaml.safe_load(p.read_text()) for p in sorted((out / "rules").glob("*.yml"))}

    def period(flow: Workflow) -> PeriodQueries:
        slo = f'{{slo="{flow.slo}"}}'
        budget = f"slo:period_error_budget_remaining:ratio{slo}"
        return PeriodQueries(
            budget,
            f"timestamp({budget})",
            f"sum without (window) (slo:period_bad_events:increase{slo})",
            f"sum without (window) (slo:period_events:increase{slo})",
        )

    return RuleSet("agent-slo", "agent-slo", files, period)


# --------------------------------------------------------------------------------------------
# Sloth


def sloth_groups(
    service: str,
    name: str,
    objective: float,
    error_query: str,
    total_query: str,
    *,
    labels: dict[str, str],
    alert: str,
    alert_labels: dict[str, str],
    summary: str,
    page_labels: dict[str, str],
    ticket_labels: dict[str, str],
) -> list[dict[str, Any]]:
    """The three groups Sloth generates for one SLO of a 30-day period (``prometheus/v1``).

    ``error_query`` and ``total_query`` hold ``{{.window}}`` where Sloth puts each window.
    """
    slo_id = f"{service}-{name}"
    ids = {"sloth_id": slo_id, "sloth_service": service, "sloth_slo": name}
    selector = ", ".join(f'{k}="{v}"' for k, v in ids.items())
    budget = go_float((100 - objective) / 100)

    def with_labels(rule: dict[str, Any], extra: dict[str, str]) -> dict[str, Any]:
        return {**rule, "labels": dict(sorted({**labels, **ids, **extra}.items()))}

    sli = []
    for window in SLOTH_WINDOWS:
        errors = error_query.replace("{{.window}}", window)
        total = total_query.replace("{{.window}}", window)
        rule = {
            "record": f"slo:sli_error:ratio_rate{window}",
            "expr": f"({errors})\n/\n({total})\n",
        }
        sli.append(with_labels(rule, {"sloth_window": window}))
    ratio5m = f"slo:sli_error:ratio_rate5m{{{selector}}}"
    period = (
        f"sum_over_time({ratio5m}[30d])\n"
        "/ ignoring (sloth_window)\n"
        f"count_over_time({ratio5m}[30d])\n"
    )
    sli.append(
        with_labels(
            {"record": "slo:sli_error:ratio_rate30d", "expr": period}, {"sloth_window": "30d"}
        )
    )

    def burn(window: str) -> str:
        return (
            f"slo:sli_error:ratio_rate{window}{{{selector}}}\n"
            "/ on(sloth_id, sloth_slo, sloth_service) group_left\n"
            f"slo:error_budget:ratio{{{selector}}}\n"
        )

    meta = [
        {"record": "slo:objective:ratio", "expr": f"vector({go_float(objective / 100)})"},
        {"record": "slo:error_budget:ratio", "expr": f"vector(1-{go_float(objective / 100)})"},
        {"record": "slo:time_period:days", "expr": "vector(30)"},
        {"record": "slo:current_burn_rate:ratio", "expr": burn("5m")},
        {
            "record": "slo:period_burn_rate:ratio",
            "expr": burn("30d").replace("ratio_rate30d", "ratio_rate30d"),
        },
        {
            "record": "slo:period_error_budget_remaining:ratio",
            "expr": f"1 - slo:period_burn_rate:ratio{{{selector}}}",
        },
    ]
    meta = [with_labels(rule, {}) for rule in meta]
    info = {
        "sloth_mode": "cli-gen-prom",
        "sloth_objective": go_float(objective),
        "sloth_spec": "prometheus/v1",
        "sloth_version": "dev",
    }
    meta.append(with_labels({"record": "sloth_slo_info", "expr": "vector(1)"}, info))

    def condition(short: str, long: str, factor: float) -> str:
        threshold = f"({go_float(factor)} * {budget})"
        return (
            f"    max(slo:sli_error:ratio_rate{short}{{{selector}}} > {threshold}) "
            "without (sloth_window)\n"
            "    and\n"
            f"    max(slo:sli_error:ratio_rate{long}{{{selector}}} > {threshold}) "
            "without (sloth_window)\n"
        )

    alerts = []
    for severity, extra in (("page", page_labels), ("ticket", ticket_labels)):
        tiers = [t for t in ALERT_TIERS if t[3] == severity]
        expr = "(\n" + condition(tiers[0][1], tiers[0][0], tiers[0][2]) + ")\nor\n(\n"
        expr += condition(tiers[1][1], tiers[1][0], tiers[1][2]) + ")\n"
        alerts.append(
            {
                "alert": alert,
                "expr": expr,
                "labels": dict(
                    sorted({**alert_labels, **extra, "sloth_severity": severity}.items())
                ),
                "annotations": {
                    "summary": summary,
                    "title": f"({severity}) "
                    "{{$labels.sloth_service}} {{$labels.sloth_slo}} "
                    "SLO error budget burn rate is too fast.",
                },
            }
        )
    return [
        {"name": f"sloth-slo-sli-recordings-{slo_id}", "rules": sli},
        {"name": f"sloth-slo-meta-recordings-{slo_id}", "rules": meta},
        {"name": f"sloth-slo-alerts-{slo_id}", "rules": alerts},
    ]


def sloth(flows: Sequence[Workflow]) -> RuleSet:
    """Sloth's rules for every workflow's SLO, one file per workflow, as Sloth writes them."""
    files = {}
    for flow in flows:
        groups = sloth_groups(
            flow.name,
            "quality",
            OBJECTIVE * 100,
            f"sum(rate({bad_selector(flow)}[{{{{.window}}}}]))",
            f"sum(rate({total_selector(flow)}[{{{{.window}}}}]))",
            labels={},
            alert="WorkflowHighErrorRate",
            alert_labels={},
            summary=f"Too many bad runs of {flow.name}",
            page_labels={"severity": "page"},
            ticket_labels={"severity": "ticket"},
        )
        files[f"sloth-{flow.name}.rules.yml"] = {"groups": groups}

    def period(flow: Workflow) -> PeriodQueries:
        budget = f'slo:period_error_budget_remaining:ratio{{sloth_id="{flow.slo}"}}'
        return PeriodQueries(budget, f"timestamp({budget})")

    return RuleSet("sloth", "Sloth-style", files, period)


# --------------------------------------------------------------------------------------------
# Pyrra


def pyrra_windows(window: int) -> list[tuple[int, int, int, float, str]]:
    """Pyrra's four burn-rate alerts for an SLO window (ms): long, short, for, factor, severity.

    Go's integer division of the window, then rounding to the minute (half away from zero).
    """

    def rounded(ms: int) -> int:
        return (ms + MINUTE // 2) // MINUTE * MINUTE

    w = window
    return [
        (
            rounded(w // (28 * 24)),
            rounded(w // (28 * 24 * 12)),
            rounded(w // (28 * 24 * 30)),
            14.0,
            "critical",
        ),
        (
            rounded(w // (28 * 4)),
            rounded(w // (28 * 24 * 2)),
            rounded(w // (28 * 24 * 4)),
            7.0,
            "critical",
        ),
        (rounded(w // 28), rounded(w // (28 * 12)), rounded(w // (28 * 24)), 2.0, "warning"),
        (rounded(w // 7), rounded(w // (28 * 4)), rounded(w // (28 * 8)), 1.0, "warning"),
    ]


def pyrra_objective(
    flow: Workflow, name: str, *, performance: bool
) -> dict[str, list[dict[str, Any]]]:
    """Pyrra's groups for the workflow's SLO: file role ("prometheus", "thanos") → groups."""
    window = 30 * DAY
    target = go_float(OBJECTIVE)
    labels = {"slo": name, "workflow": flow.name}
    total = total_selector(flow)
    short_interval = "30s"
    long_interval = "2m30s"  # Pyrra's increase interval for windows of 28 to 35 days
    absent = {
        "alert": "SLOMetricAbsent",
        "expr": f"absent({total}) == 1",
        "for": prom_duration(pyrra_absent_for(window)),
        "labels": {**labels, "severity": "critical"},
    }
    if performance:
        short_group = {
            "name": f"{name}-increase",
            "interval": short_interval,
            "rules": [
                {
                    "record": "agent_outcomes:increase5m",
                    "expr": f"sum by (outcome) (increase({total}[5m]))",
                    "labels": labels,
                },
                absent,
            ],
        }
        long_group = {
            "name": f"{name}-increase",
            "interval": long_interval,
            "rules": [
                {
                    "record": "agent_outcomes:increase30d",
                    "expr": "sum by (outcome) (sum_over_time("
                    f'agent_outcomes:increase5m{{workflow="{flow.name}"}}[30d:5m]))',
                    "labels": labels,
                }
            ],
        }
        increase_groups = {"prometheus": [short_group], "thanos": [long_group]}
    else:
        increase = {
            "name": f"{name}-increase",
            "interval": long_interval,
            "rules": [
                {
                    "record": "agent_outcomes:increase30d",
                    "expr": f"sum by (outcome) (increase({total}[30d]))",
                    "labels": labels,
                },
                absent,
            ],
        }
        increase_groups = {"prometheus": [increase], "thanos": []}
    tiers = pyrra_windows(window)
    rates = sorted({d for long, short, _, _, _ in tiers for d in (long, short)})
    rules: list[dict[str, Any]] = []
    for rate in rates:
        w = prom_duration(rate)
        rules.append(
            {
                "record": f"agent_outcomes:burnrate{w}",
                "expr": f"sum(rate({bad_selector(flow)}[{w}])) / sum(rate({total}[{w}]))",
                "labels": labels,
            }
        )
    matchers = f'slo="{name}",workflow="{flow.name}"'

    def burnrate(window: int) -> str:
        return f"agent_outcomes:burnrate{prom_duration(window)}"

    for long, short, wait, factor, severity in tiers:
        threshold = f"({go_float(factor)} * (1-{target}))"
        rules.append(
            {
                "alert": "ErrorBudgetBurn",
                "expr": f"{burnrate(short)}{{{matchers}}} > {threshold} "
                f"and {burnrate(long)}{{{matchers}}} > {threshold}",
                "for": prom_duration(wait),
                "labels": {
                    **labels,
                    "exhaustion": prom_duration(window // int(factor) // 1000 * 1000),
                    "long": prom_duration(long),
                    "severity": severity,
                    "short": prom_duration(short),
                },
            }
        )
    burnrates = {"name": name, "interval": short_interval, "rules": rules}
    increase_groups["prometheus"].append(burnrates)
    return increase_groups


def pyrra_absent_for(window: int) -> int:
    """Pyrra's ``for`` of the absent alert: the fastest alert's time to fire at 100% errors."""
    long, _, wait, factor, _ = pyrra_windows(window)[0]
    seconds = int(factor * BUDGET * long / 1000)
    ms = seconds * 1000 + wait
    return (ms + MINUTE // 2) // MINUTE * MINUTE


def pyrra(flows: Sequence[Workflow], *, performance: bool) -> RuleSet:
    """Pyrra's rules for every workflow's SLO, default or performance-over-accuracy mode."""
    files: dict[str, dict[str, Any]] = {}
    suffix = "-perf" if performance else ""
    for flow in flows:
        name = flow.slo + suffix  # distinct names: both modes share one TSDB in the benchmark
        for role, groups in pyrra_objective(flow, name, performance=performance).items():
            if groups:
                files[f"pyrra{suffix}-{flow.name}.{role}.rules.yml"] = {"groups": groups}

    def period(flow: Workflow) -> PeriodQueries:
        name = flow.slo + suffix
        outcomes = "|".join(BAD)
        total = f'agent_outcomes:increase30d{{workflow="{flow.name}",slo="{name}"}}'
        bad = total.replace(",slo=", f',outcome=~"{outcomes}",slo=')
        budget = (
            f"((1 - {go_float(OBJECTIVE)}) - (sum({bad} or vector(0)) / sum({total}))) "
            f"/ (1 - {go_float(OBJECTIVE)})"
        )
        return PeriodQueries(budget, f"max(timestamp({total}))", f"sum({bad})", f"sum({total})")

    if performance:
        return RuleSet("pyrra-perf", "Pyrra performance", files, period)
    return RuleSet("pyrra", "Pyrra default", files, period)


# --------------------------------------------------------------------------------------------
# naive exact


def naive(flows: Sequence[Workflow]) -> RuleSet:
    """``sum(increase(raw[w]))`` for every window, one group per SLO."""
    files = {}
    windows = sorted({w for long, short, _, _ in ALERT_TIERS for w in (long, short)}, key=to_ms)
    for flow in flows:
        labels = {"slo": flow.slo, "workflow": flow.name}
        slo = f'{{slo="{flow.slo}"}}'
        rules: list[dict[str, Any]] = []
        for window in (*windows, "30d"):
            for kind, selector in (
                ("bad_events", bad_selector(flow)),
                ("events", total_selector(flow)),
            ):
                rules.append(
                    {
                        "record": f"naive:{kind}:increase{window}",
                        "expr": f"sum(increase({selector}[{window}]))",
                        "labels": labels,
                    }
                )
            rules.append(
                {
                    "record": f"naive:sli_error:ratio_rate{window}",
                    "expr": f"naive:bad_events:increase{window}{slo}\n/\n"
                    f"naive:events:increase{window}{slo}",
                    "labels": labels,
                }
            )
        rules.append(
            {
                "record": "naive:period_error_budget_remaining:ratio",
                "expr": f"1 - naive:sli_error:ratio_rate30d{slo} / {go_float(BUDGET)}",
                "labels": labels,
            }
        )
        for long, short, factor, severity in ALERT_TIERS:
            threshold = f"({go_float(factor)} * {go_float(BUDGET)})"
            rules.append(
                {
                    "alert": "WorkflowErrorBudgetBurn",
                    "expr": f"naive:sli_error:ratio_rate{long}{slo} > {threshold} "
                    f"and naive:sli_error:ratio_rate{short}{slo} > {threshold}",
                    "labels": {
                        **labels,
                        "severity": severity,
                        "long_window": long,
                        "short_window": short,
                    },
                }
            )
        files[f"naive-{flow.name}.rules.yml"] = {
            "groups": [{"name": f"naive-{flow.slo}", "rules": rules}]
        }

    def period(flow: Workflow) -> PeriodQueries:
        slo = f'{{slo="{flow.slo}"}}'
        budget = f"naive:period_error_budget_remaining:ratio{slo}"
        return PeriodQueries(
            budget,
            f"timestamp({budget})",
            f"naive:bad_events:increase30d{slo}",
            f"naive:events:increase30d{slo}",
        )

    return RuleSet("naive", "naive exact", files, period)


def to_ms(duration: str) -> int:
    """A Prometheus duration (e.g. ``1d2h30m``, ``29d23h59m59s999ms``) in ms."""
    units = {"y": 365 * DAY, "w": 7 * DAY, "d": DAY, "h": HOUR, "m": MINUTE, "s": 1_000, "ms": 1}
    total = 0
    number = ""
    i = 0
    while i < len(duration):
        c = duration[i]
        if c.isdigit():
            number += c
            i += 1
            continue
        unit = "ms" if duration.startswith("ms", i) else c
        if unit not in units or not number:
            raise ValueError(f"not a duration: {duration!r}")
        total += int(number) * units[unit]
        number = ""
        i += len(unit)
    if number:
        raise ValueError(f"not a duration: {duration!r}")
    return total
