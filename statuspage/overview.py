"""The overview: every SLO, the worst first, from its recorded series alone.

One instant query a recorded figure for every SLO at once (``slo:period_events:increase``,
``slo:period_error_budget_remaining:ratio``, ...), one for the alerts, and the budget's
history behind every autonomy streak in two rounds (:mod:`statuspage.streaks`): the page
costs the same few queries for 5 SLOs or 500, and never reads 30 days of raw counters. The
status comes from the one status engine (:func:`decisions.policy.judge`), the streaks from
:func:`decisions.autonomy.from_checks`, as in the report.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from decisions.policy import Status, judge, review_order, worst_first
from decisions.promapi import Prometheus
from decisions.report import NO_DATA
from rulegen import names
from rulegen.model import SLO, Workflow
from statuspage import queries, streaks

__all__ = [
    "RULES_NOT_LOADED",
    "Alert",
    "Catalog",
    "Entry",
    "Overview",
    "Row",
    "filter_rows",
    "overview",
    "requests",
]

#: An SLO whose rules Prometheus does not evaluate: nothing recorded to read.
RULES_NOT_LOADED: Final = Status(
    "rules_not_loaded",
    "Prometheus records nothing for this SLO: load its generated rules (agent-slo generate).",
)


@dataclass(frozen=True)
class Entry:
    """One SLO of the specs with its workflow."""

    slo: SLO
    workflow: Workflow

    @property
    def team(self) -> str:
        """The ``team`` label of the spec, or empty."""
        return self.slo.labels.get("team", "")

    @property
    def exhausted(self) -> Status:
        """The status of a spent budget, with the spec's action."""
        return Status("exhausted", self.slo.exhausted_action)


class Catalog:
    """The SLOs of the specs, by name, in the order of the specs."""

    def __init__(self, workflows: Sequence[Workflow]) -> None:
        self.entries = [Entry(s, w) for w in workflows for s in w.slos]
        self.by_name = {e.slo.name: e for e in self.entries}

    def visible(self, workflows: frozenset[str] | None) -> list[Entry]:
        """The SLOs of ``workflows`` (``None``: every SLO)."""
        return [e for e in self.entries if workflows is None or e.workflow.name in workflows]


@dataclass(frozen=True)
class Alert:
    """One alert of Prometheus' ``ALERTS``: its name, severity, state and what tells it
    apart (burn-rate windows, policy, outcome)."""

    name: str
    severity: str
    state: str  # pending or firing
    detail: str

    @classmethod
    def of(cls, labels: Mapping[str, str]) -> Alert:
        """The alert of an ``ALERTS`` series."""
        parts = []
        if names.LABEL_LONG_WINDOW in labels:
            parts.append(
                f"{labels[names.LABEL_LONG_WINDOW]}/{labels.get(names.LABEL_SHORT_WINDOW, '')}"
            )
        for label in (names.LABEL_POLICY, names.LABEL_OUTCOME):
            if label in labels:
                parts.append(labels[label])
        return cls(
            labels.get("alertname", "?"),
            labels.get(names.LABEL_SEVERITY, ""),
            labels.get("alertstate", ""),
            " ".join(parts),
        )


@dataclass(frozen=True)
class Row:
    """One SLO on the overview. Figures are ``None`` where Prometheus recorded none."""

    slo: str
    workflow: str
    description: str
    team: str
    tier: str
    period: str
    objective: float  # in force now, from the spec
    recorded_objective: float | None  # slo:objective:ratio
    runs: int | None
    failures: int | None
    sli: float | None  # good runs / runs over the period
    allowed_failures: float | None
    budget_remaining: float | None  # 1 untouched, 0 spent, negative overspent
    runs_left: float | None  # failures still allowed
    burn_rate: float | None  # slo:current_burn_rate:ratio
    status: str
    action: str
    past_threshold: bool  # a policy threshold passed or the budget spent
    alerts: list[Alert]
    days_in_budget: float | None
    grants_earned: int
    grants: int
    next_grant: str | None  # the next grant on the ladder and when it is due
    runbook_url: str | None
    dashboard_url: str | None

    @property
    def firing(self) -> list[Alert]:
        """The alerts firing now."""
        return [a for a in self.alerts if a.state == "firing"]

    def sort_key(self) -> tuple[int, float, str]:
        """The review's order (:func:`decisions.policy.review_order`), the alerts firing
        counted."""
        return review_order(self.status, self.budget_remaining, self.slo, bool(self.firing))


@dataclass(frozen=True)
class Overview:
    """Every SLO visible, the worst first, as of ``at``."""

    at: float
    rows: list[Row]
    teams: list[str] = field(default_factory=list)
    tiers: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of ``/api/overview``."""
        return {
            "at": self.at,
            "slos": [{**asdict(r), "firing": len(r.firing)} for r in self.rows],
        }


def overview(prom: Prometheus, entries: Sequence[Entry], at: float) -> Overview:
    """The overview of ``entries`` as of Unix time ``at``: every query sent at once, then
    the checks of the days that end the streaks."""
    tasks = requests(prom, entries, at)
    with ThreadPoolExecutor(max_workers=len(tasks)) as pool:
        futures = {key: pool.submit(task) for key, task in tasks.items()}
        answers = {key: future.result() for key, future in futures.items()}
        found = streaks.streaks(
            prom,
            at,
            {e.slo.name: _checks(e) for e in entries},
            {e.slo.name: e.workflow.autonomy for e in entries},
            [answer for key, answer in answers.items() if key.startswith("history")],
            send=lambda jobs: list(pool.map(lambda job: job(), jobs)),
        )
    figures = {key: _by_slo(answers[key]) for key in queries.OVERVIEW}
    alerts: dict[str, list[Alert]] = {}
    for series in answers["alerts"]:
        alerts.setdefault(series["metric"][names.LABEL_SLO], []).append(Alert.of(series["metric"]))
    rows = [
        _row(
            entry,
            at,
            {key: found.get(entry.slo.name) for key, found in figures.items()},
            alerts.get(entry.slo.name, []) + alerts.get(entry.workflow.zero_tolerance_slo, []),
            found[entry.slo.name].to_dict(),
        )
        for entry in entries
    ]
    rows.sort(key=Row.sort_key)
    return Overview(
        at=at,
        rows=rows,
        teams=sorted({r.team for r in rows if r.team}),
        tiers=[t for t in ("low", "medium", "high") if any(r.tier == t for r in rows)],
        statuses=sorted({r.status for r in rows}),
    )


def requests(
    prom: Prometheus, entries: Sequence[Entry], at: float
) -> dict[str, Callable[[], list[dict[str, Any]]]]:
    """The overview's first round of queries, by key, ready to send at once: the recorded
    figures and the alerts as of ``at``, and every SLO's good checks a day
    (:func:`statuspage.streaks.day_spans`)."""
    longest = max((_checks(e) for e in entries), default=0)
    tasks: dict[str, Callable[[], list[dict[str, Any]]]] = {
        key: functools.partial(prom.query, expr, at) for key, expr in queries.OVERVIEW.items()
    }
    tasks["alerts"] = functools.partial(prom.query, queries.alerts_of_every_slo(), at)
    for span in streaks.day_spans(at, longest):
        tasks[f"history {span.start}"] = functools.partial(span.ask, prom)
    return tasks


def filter_rows(
    rows: Sequence[Row], team: str = "", tier: str = "", status: str = "", search: str = ""
) -> list[Row]:
    """The rows of ``team``, ``tier`` and ``status`` (empty: any) whose SLO, workflow,
    team or description holds ``search`` (case-insensitive)."""
    needle = search.strip().casefold()
    return [
        r
        for r in rows
        if (not team or r.team == team)
        and (not tier or r.tier == tier)
        and (not status or r.status == status)
        and (
            not needle
            or any(needle in text.casefold() for text in (r.slo, r.workflow, r.team, r.description))
        )
    ]


def _checks(entry: Entry) -> int:
    """Hourly checks the SLO's streak looks back over."""
    return streaks.checks_of([d for d, _ in entry.workflow.autonomy], entry.slo.period)


def _by_slo(result: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """One value an SLO; of several series of one SLO (labels changed in the spec), the
    latest written wins, as the SLO's rules now write only one."""
    out: dict[str, tuple[float, float]] = {}
    for series in result:
        name = series["metric"].get(names.LABEL_SLO, "")
        t, v = float(series["value"][0]), float(series["value"][1])
        if name not in out or t >= out[name][0]:
            out[name] = (t, v)
    return {name: v for name, (_, v) in out.items()}


def _row(
    entry: Entry,
    at: float,
    figures: Mapping[str, float | None],
    alerts: list[Alert],
    streak: Mapping[str, Any],
) -> Row:
    """One SLO's row: its recorded figures judged by its policies. A figure recorded as NaN
    or infinite is no figure: shown as none, as the JSON gives it (null)."""
    slo = entry.slo
    loaded = figures["objective"] is not None
    figures = {k: v if v is not None and math.isfinite(v) else None for k, v in figures.items()}
    events, bad = figures["events"], figures["bad"]
    remaining_, allowed = figures["remaining"], figures["allowed"]
    runs = None if events is None else round(events)
    failures = None if bad is None else round(bad)
    if not loaded:
        status = RULES_NOT_LOADED
    elif not runs or failures is None or remaining_ is None:
        status = NO_DATA
    else:
        status = judge(slo.policies, failures / runs, remaining_, entry.exhausted)
    severe = worst_first(slo.policies, entry.exhausted)
    grants = streak["grants"]
    ahead = next((g for g in grants if not g["earned"]), None)
    return Row(
        slo=slo.name,
        workflow=entry.workflow.name,
        description=slo.description,
        team=entry.team,
        tier=str(slo.risk),
        period=slo.period_name,
        objective=float(slo.phase_at(at).objective),
        recorded_objective=figures["objective"],
        runs=runs,
        failures=failures,
        sli=1 - failures / runs if runs and failures is not None else None,
        allowed_failures=allowed,
        budget_remaining=remaining_,
        runs_left=None if allowed is None or bad is None else allowed - bad,
        burn_rate=figures["burn"],
        status=status.name,
        action=status.action,
        past_threshold=status.name in severe,
        alerts=sorted(alerts, key=lambda a: (a.state != "firing", a.name, a.detail)),
        days_in_budget=streak["days_in_budget"] if status.name != RULES_NOT_LOADED.name else None,
        grants_earned=sum(1 for g in grants if g["earned"]),
        grants=len(grants),
        next_grant=None
        if ahead is None
        else ahead["grant"] + (f" (due {ahead['due']})" if ahead["due"] else ""),
        runbook_url=slo.runbook_url,
        dashboard_url=slo.dashboard_url,
    )
