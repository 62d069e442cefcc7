"""The synthetic data set: agent outcome counters of N workflows over 30 days, and its truth.

Every workflow reports ``agent_outcomes_total{workflow, model, outcome}`` through two exporter
replicas (``instance``), scraped every minute. The traffic has a daily and weekly rhythm,
bursts, idle hours and volumes from a few hundred to a hundred thousand runs a month; the
period holds an incident, a counter reset of each replica (a restart without its state), three
scrape gaps (one replica for 12 minutes, the other for 70, both for 20) and, in every third
workflow, a new model that appears mid-period; in every fourth workflow, one bad outcome is
not pre-initialised (its series appear at their first run, already above 0).

The truth is counted from the runs, not from the samples: a run counts once, at the first
successful scrape of its replica at or after it, unless its replica restarts in between (then
no sample ever shows it, and it is lost for every rule set alike). Runs during a scrape gap
count at the first scrape after it; runs after a reset count from zero.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
import time
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, TextIO

__all__ = [
    "BAD",
    "DAY",
    "HOUR",
    "INSTANCES",
    "METRIC",
    "MINUTE",
    "OBJECTIVE",
    "OUTCOMES",
    "PERIOD",
    "Event",
    "Features",
    "Schedule",
    "Series",
    "Truth",
    "Workflow",
    "counter_values",
    "events_of",
    "generate",
    "last_values",
    "make_workflows",
    "series_of",
    "truth_of",
    "write_openmetrics",
]

SECOND = 1_000  # milliseconds
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR
WEEK = 7 * DAY
PERIOD = 30 * DAY
HISTORY = 6 * HOUR  # data before the period, so that its first steps have a step before them
SCRAPE = MINUTE
SCRAPE_OFFSET = 23_417  # scrapes are not aligned with rule evaluations

METRIC = "agent_outcomes_total"
JOB = "agent-slo"
INSTANCES = ("exporter-a:9464", "exporter-b:9464")
INSTANCE_SHARE = 0.55  # of the runs served by the first replica
OUTCOMES = ("success", "minor_fix", "rejected", "timeout", "escalation_miss")
GOOD = ("success", "minor_fix")
BAD = ("rejected", "timeout", "escalation_miss")
GOOD_WEIGHTS = (0.8, 0.2)
BAD_WEIGHTS = (0.45, 0.35, 0.2)
LATE_OUTCOME = "escalation_miss"  # not pre-initialised in every fourth workflow
MODELS = ("model-a", "model-b")  # pre-initialised: the exporter knows them from the spec
NEW_MODEL = "model-c"  # appears mid-period in every third workflow
OBJECTIVE = 0.99
INCIDENT_BAD_SHARE = 0.35


class Event(NamedTuple):
    """One run: when it ended, on which replica, with which model and outcome."""

    at: int  # ms
    instance: int  # index in INSTANCES
    model: str
    outcome: str


@dataclass(frozen=True)
class Features:
    """Where the period's incidents are, in ms after the period's start."""

    resets: tuple[tuple[int, int], ...] = (
        (1, 9 * DAY + 13 * HOUR + 27 * MINUTE + 40_500),  # exporter-b restarts, state lost
        (0, 22 * DAY + 6 * HOUR + 11 * MINUTE + 5_200),  # exporter-a likewise
    )
    gaps: tuple[tuple[tuple[int, ...], int, int], ...] = (
        ((1,), 5 * DAY + 3 * HOUR, 5 * DAY + 3 * HOUR + 12 * MINUTE),
        ((0,), 19 * DAY + 10 * HOUR, 19 * DAY + 11 * HOUR + 10 * MINUTE),  # over an hour
        ((0, 1), 26 * DAY + 15 * HOUR, 26 * DAY + 15 * HOUR + 20 * MINUTE),
    )
    incident: tuple[int, int] = (17 * DAY + 14 * HOUR, 17 * DAY + 17 * HOUR)
    new_model_day: int = 12


@dataclass(frozen=True)
class Schedule:
    """When each replica is scraped (successfully or not) and when it restarts."""

    end: int  # T: the data ends here (ms)
    stamps: Sequence[int]  # every scrape time, for both replicas
    resets: tuple[tuple[int, ...], ...]  # by replica: restart times (ms)
    gaps: tuple[tuple[tuple[int, int], ...], ...]  # by replica: [from, to) without scrapes

    @classmethod
    def of(cls, end: int, features: Features = Features()) -> Schedule:
        """Scrapes every minute from the history before the period up to ``end`` (T)."""
        period_start = end - PERIOD
        first = end - PERIOD - HISTORY + SCRAPE_OFFSET
        stamps = range(first, end + 1, SCRAPE)
        resets = tuple(
            tuple(sorted(period_start + at for i, at in features.resets if i == instance))
            for instance in range(len(INSTANCES))
        )
        gaps = tuple(
            tuple(
                sorted(
                    (period_start + lo, period_start + hi)
                    for who, lo, hi in features.gaps
                    if instance in who
                )
            )
            for instance in range(len(INSTANCES))
        )
        return cls(end, stamps, resets, gaps)

    def scraped(self, instance: int) -> list[bool]:
        """For every scrape, whether ``instance`` answered it."""
        ok = [True] * len(self.stamps)
        for lo, hi in self.gaps[instance]:
            for k in range(
                bisect.bisect_left(self.stamps, lo), bisect.bisect_left(self.stamps, hi)
            ):
                ok[k] = False
        return ok


@dataclass(frozen=True)
class Workflow:
    """One simulated workflow and its traffic model."""

    index: int
    monthly_runs: float
    bad_share: float
    business_hours: bool  # idle 00:00-06:00 UTC every day (else idle Sunday 02:00-05:00)
    incident: bool
    late_outcome: bool  # LATE_OUTCOME is not pre-initialised
    new_model_at: int | None  # when NEW_MODEL starts taking runs (ms), if it does
    bursts: tuple[tuple[int, int, float], ...]  # [from, to) ms, traffic multiplier

    @property
    def name(self) -> str:
        """The workflow label."""
        return f"wf-{self.index:03d}"

    @property
    def slo(self) -> str:
        """Its SLO's name."""
        return f"{self.name}-quality"

    def preinitialised(self, model: str, outcome: str) -> bool:
        """Whether the exporter exports this series at 0 before its first run."""
        return model in MODELS and not (self.late_outcome and outcome == LATE_OUTCOME)

    def series(self) -> list[tuple[str, str]]:
        """Every (model, outcome) the workflow can report."""
        models = (*MODELS, NEW_MODEL) if self.new_model_at is not None else MODELS
        return [(m, o) for m in models for o in OUTCOMES]


def make_workflows(count: int, end: int, rng: random.Random) -> list[Workflow]:
    """Workflows of 300 to 100,000 runs a month (the first two are the extremes)."""
    period_start = end - PERIOD
    features = Features()
    flows = []
    for i in range(count):
        bursts = []
        for _ in range(rng.randint(10, 20)):
            at = period_start - HISTORY + rng.randrange((PERIOD + HISTORY) // MINUTE) * MINUTE
            bursts.append((at, at + rng.randint(10, 45) * MINUTE, rng.uniform(4, 10)))
        if i == 0:
            monthly = 100_000.0
        elif i == 1:
            monthly = 300.0
        else:
            monthly = math.exp(rng.uniform(math.log(300), math.log(100_000)))
        new_model_at = None
        if i % 3 == 0:
            hours = rng.randrange(72)
            new_model_at = period_start + features.new_model_day * DAY + hours * HOUR
        flows.append(
            Workflow(
                index=i,
                monthly_runs=monthly,
                bad_share=rng.uniform(0.002, 0.009),
                business_hours=i % 2 == 1,
                incident=i % 3 != 2,
                late_outcome=i % 4 == 3,
                new_model_at=new_model_at,
                bursts=tuple(sorted(bursts)),
            )
        )
    return flows


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw (Knuth; a normal approximation for large means)."""
    if lam <= 0:
        return 0
    if lam > 60:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit = math.exp(-lam)
    k = 0
    p = rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def rhythm(clock: int) -> float:
    """Traffic multiplier at ``clock`` (the data's own time, see ``events_of``): a daily wave
    peaking at 15:00, half as much at weekends."""
    hour = clock % DAY / HOUR
    weekday = clock // DAY % 7  # Monday = 0
    rate = 1 + 0.6 * math.sin(2 * math.pi * (hour - 9) / 24)
    return rate * 0.5 if weekday >= 5 else rate


def idle(flow: Workflow, clock: int) -> bool:
    """Whether the workflow takes no runs at ``clock`` (the data's own time)."""
    hour = clock % DAY / HOUR
    if flow.business_hours:
        return hour < 6
    return clock // DAY % 7 == 6 and 2 <= hour < 5


def events_of(
    flow: Workflow, schedule: Schedule, rng: random.Random, features: Features = Features()
) -> Iterator[Event]:
    """The workflow's runs, in time order, from the start of the data to T.

    The days and weeks of the traffic run on the data's own clock, on which T is a Monday
    00:00: the same seed gives the same data, shifted in time, whenever it runs.
    """
    period_start = schedule.end - PERIOD
    clock = WEEK - schedule.end % WEEK  # added to a time (ms), the data's clock
    incident = (period_start + features.incident[0], period_start + features.incident[1])
    base = flow.monthly_runs / (30 * 1440) / 0.8  # the rhythm averages about 0.8
    bursts = list(flow.bursts)
    previous = schedule.stamps[0] - SCRAPE
    for stamp in schedule.stamps:
        middle = (previous + stamp) // 2
        if idle(flow, middle + clock):
            previous = stamp
            continue
        rate = base * rhythm(middle + clock)
        bad_share = flow.bad_share
        while bursts and bursts[0][1] <= middle:
            bursts.pop(0)
        if bursts and bursts[0][0] <= middle:
            rate *= bursts[0][2]
            bad_share *= 2
        if flow.incident and incident[0] <= middle < incident[1]:
            bad_share = INCIDENT_BAD_SHARE
        new_model = flow.new_model_at is not None and middle >= flow.new_model_at
        count = poisson(rng, rate * (stamp - previous) / MINUTE)
        runs = sorted(previous + 1 + int(rng.random() * (stamp - previous)) for _ in range(count))
        for at in runs:
            instance = 0 if rng.random() < INSTANCE_SHARE else 1
            pick = rng.random()
            if new_model:
                model = "model-a" if pick < 0.4 else "model-b" if pick < 0.7 else NEW_MODEL
            else:
                model = "model-a" if pick < 0.6 else "model-b"
            if rng.random() < bad_share:
                outcome = rng.choices(BAD, BAD_WEIGHTS)[0]
            else:
                outcome = rng.choices(GOOD, GOOD_WEIGHTS)[0]
            yield Event(at, instance, model, outcome)
        previous = stamp


SeriesKey = tuple[int, str, str]  # instance, model, outcome


def counter_values(events: Iterable[Event], schedule: Schedule) -> dict[SeriesKey, list[int]]:
    """Every series' counter value at every scrape (0 before its first run).

    A counter holds the runs since its replica's last restart; a run in the same scrape
    interval as a restart but before it is wiped with the rest.
    """
    stamps = schedule.stamps
    size = len(stamps)
    increments: dict[SeriesKey, list[int]] = {}
    for event in events:
        k = bisect.bisect_left(stamps, event.at)
        if k == size:
            continue  # after the last scrape
        resets = schedule.resets[event.instance]
        r = bisect.bisect_right(resets, event.at)
        if r < len(resets) and resets[r] <= stamps[k]:
            continue  # wiped by a restart before the next scrape
        key = (event.instance, event.model, event.outcome)
        if key not in increments:
            increments[key] = [0] * size
        increments[key][k] += 1
    values = {}
    for key, inc in increments.items():
        cuts = [bisect.bisect_left(stamps, r) for r in schedule.resets[key[0]]]
        bounds = [0, *(c for c in cuts if 0 < c < size), size]
        series: list[int] = []
        for lo, hi in itertools.pairwise(bounds):
            series.extend(itertools.accumulate(inc[lo:hi]))
        values[key] = series
    return values


@dataclass
class Truth:
    """Runs of one workflow by the scrape that first shows them (cumulative)."""

    stamps: Sequence[int]
    bad: array[int] = field(default_factory=lambda: array("q"))
    total: array[int] = field(default_factory=lambda: array("q"))
    lost: int = 0  # runs wiped by a restart before any scrape showed them

    def window(self, lo: int, hi: int) -> tuple[int, int]:
        """Bad and all runs first shown by a scrape in (lo, hi] (ms)."""
        i = bisect.bisect_right(self.stamps, lo)
        j = bisect.bisect_right(self.stamps, hi)
        if j == 0:
            return 0, 0
        bad = self.bad[j - 1] - (self.bad[i - 1] if i > 0 else 0)
        total = self.total[j - 1] - (self.total[i - 1] if i > 0 else 0)
        return bad, total


def truth_of(events: Iterable[Event], schedule: Schedule) -> Truth:
    """When each run becomes visible, counted from the runs and the schedule alone."""
    stamps = schedule.stamps
    size = len(stamps)
    next_ok = []
    for instance in range(len(INSTANCES)):
        ok = schedule.scraped(instance)
        nxt = [size] * (size + 1)
        for k in range(size - 1, -1, -1):
            nxt[k] = k if ok[k] else nxt[k + 1]
        next_ok.append(nxt)
    bad = [0] * size
    total = [0] * size
    lost = 0
    for event in events:
        k = bisect.bisect_left(stamps, event.at)
        if k == size:
            continue
        seen = next_ok[event.instance][k]
        if seen == size:
            continue  # not scraped by T
        resets = schedule.resets[event.instance]
        r = bisect.bisect_right(resets, event.at)
        if r < len(resets) and resets[r] <= stamps[seen]:
            lost += 1
            continue
        total[seen] += 1
        if event.outcome in BAD:
            bad[seen] += 1
    return Truth(
        stamps,
        array("q", itertools.accumulate(bad)),
        array("q", itertools.accumulate(total)),
        lost,
    )


SAMPLE, STALE = 1, 2  # what a series has at a scrape (0: nothing)


@dataclass(frozen=True)
class Series:
    """One raw series as Prometheus stores it: a value and what is stored at every scrape.

    A sample when its replica answered the scrape and exported the series; a staleness
    marker at the first scrape that no longer has it (a failed scrape, or a series gone
    with a restart), as Prometheus writes one.
    """

    labels: dict[str, str]
    values: array[int]
    kinds: bytearray

    @property
    def text(self) -> str:
        """``name{labels}`` as in the exposition format."""
        body = ",".join(f'{k}="{v}"' for k, v in sorted(self.labels.items()) if k != "__name__")
        return f"{self.labels['__name__']}{{{body}}}"


def presence(present: Sequence[bool]) -> bytearray:
    """SAMPLE where present, STALE where present just before, 0 elsewhere."""
    kinds = bytearray(len(present))
    previous = False
    for k, now in enumerate(present):
        if now:
            kinds[k] = SAMPLE
        elif previous:
            kinds[k] = STALE
        previous = now
    return kinds


def series_of(
    flow: Workflow, values: dict[SeriesKey, list[int]], scraped: Sequence[Sequence[bool]]
) -> list[Series]:
    """Every series the workflow's replicas export, with staleness as Prometheus marks it."""
    size = len(scraped[0])
    always = [presence(ok) for ok in scraped]  # a pre-initialised series: whenever scraped
    out = []
    for model, outcome in flow.series():
        for instance in range(len(INSTANCES)):
            key = (instance, model, outcome)
            counter = values.get(key)
            if flow.preinitialised(model, outcome):
                kinds = bytearray(always[instance])
            elif counter is None:
                continue
            else:  # exported from its first run until its replica restarts
                ok = scraped[instance]
                kinds = presence([ok[k] and counter[k] > 0 for k in range(size)])
            labels = {
                "__name__": METRIC,
                "instance": INSTANCES[instance],
                "job": JOB,
                "model": model,
                "outcome": outcome,
                "workflow": flow.name,
            }
            numbers = array("q", counter) if counter is not None else array("q", bytes(8 * size))
            out.append(Series(labels, numbers, kinds))
    return out


def write_openmetrics(series: Sequence[Series], out: TextIO, stamp_text: Sequence[str]) -> None:
    """The series' samples as OpenMetrics text (which cannot hold staleness markers).

    ``stamp_text`` is each scrape's timestamp as text, with the line's end.
    """
    for one in series:
        prefix = one.text + " "
        values = one.values
        out.write(
            "".join(
                [
                    prefix + str(values[k]) + stamp_text[k]
                    for k, kind in enumerate(one.kinds)
                    if kind == SAMPLE
                ]
            )
        )


def last_values(series: Sequence[Series]) -> dict[str, int]:
    """Every series present at the last scrape, with its value there."""
    return {s.text: s.values[-1] for s in series if s.kinds[-1] == SAMPLE}


def stamp_texts(schedule: Schedule) -> list[str]:
    """Every scrape's timestamp as OpenMetrics text, with the line's end."""
    return [f" {t // 1000}.{t % 1000:03d}\n" for t in schedule.stamps]


def generate(
    flows: Sequence[Workflow], schedule: Schedule, seed: int
) -> Iterator[tuple[Workflow, Truth, list[Series]]]:
    """Each workflow's truth and series, one workflow at a time."""
    scraped = [schedule.scraped(i) for i in range(len(INSTANCES))]
    for flow in flows:
        events = list(events_of(flow, schedule, random.Random(f"{seed}-{flow.index}")))
        truth = truth_of(events, schedule)
        yield flow, truth, series_of(flow, counter_values(events, schedule), scraped)


def data_end(now_ms: int) -> int:
    """T for a run starting at ``now_ms``: the last whole 5 minutes."""
    return now_ms - now_ms % (5 * MINUTE)


def utc(ms: int) -> str:
    """A time for humans."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"
