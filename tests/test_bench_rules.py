"""The rule benchmark's own checks: its ground truth, its rule sets and how it levels them."""

from __future__ import annotations

import random
import subprocess
import sys
from array import array
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # the benchmarks are not installed

from benchmarks.rules import backfill, data, ingest, prom, rulesets  # noqa: E402

A, B = 0, 1  # the two replicas


def tiny_schedule() -> data.Schedule:
    """Six scrapes; replica A misses two (a gap), replica B restarts between two."""
    return data.Schedule(
        end=360,
        stamps=[60, 120, 180, 240, 300, 360],
        resets=((), (200,)),
        gaps=(((170, 250),), ()),
    )


TINY_EVENTS = [
    data.Event(50, A, "model-a", "rejected"),  # seen at 60
    data.Event(100, A, "model-a", "success"),  # seen at 120
    data.Event(130, B, "model-a", "success"),  # seen at 180, wiped at 200 afterwards
    data.Event(150, A, "model-a", "timeout"),  # A's gap: seen at 300
    data.Event(190, B, "model-a", "success"),  # wiped by B's restart at 200: lost
    data.Event(210, B, "model-a", "rejected"),  # after the restart: seen at 240
    data.Event(330, A, "model-c", "rejected"),  # a new series, first seen at 1
    data.Event(361, A, "model-a", "rejected"),  # after T
]


def test_truth_is_the_hand_count_across_a_gap_a_reset_and_a_new_series() -> None:
    """Runs count once, at the first scrape that shows them; the run wiped by a restart
    before any scrape is lost, the run in a gap counts when scraping resumes."""
    truth = data.truth_of(TINY_EVENTS, tiny_schedule())
    assert truth.window(0, 360) == (4, 6)
    assert truth.window(120, 300) == (2, 3)  # the runs seen at 180, 240 and 300
    assert truth.window(240, 299) == (0, 0)
    assert truth.lost == 1


def test_counters_restart_from_zero_and_hold_runs_during_a_gap() -> None:
    """Each series holds the runs since its replica's restart, scraped or not."""
    values = data.counter_values(TINY_EVENTS, tiny_schedule())
    assert values[B, "model-a", "success"] == [0, 0, 1, 0, 0, 0]
    assert values[B, "model-a", "rejected"] == [0, 0, 0, 1, 1, 1]
    assert values[A, "model-a", "timeout"] == [0, 0, 1, 1, 1, 1]
    assert values[A, "model-c", "rejected"] == [0, 0, 0, 0, 0, 1]


def sample_count(
    events: list[data.Event], schedule: data.Schedule, lo: int, hi: int
) -> tuple[int, int]:
    """Runs in (lo, hi] read off the scraped samples: each sample's rise over the series'
    previous sample, or its whole value after a restart of its replica or when new."""
    values = data.counter_values(events, schedule)
    bad = total = 0
    for (instance, _, outcome), series in values.items():
        scraped = schedule.scraped(instance)
        previous: tuple[int, int] | None = None  # stamp, value
        for k, stamp in enumerate(schedule.stamps):
            if not scraped[k]:
                continue
            value = series[k]
            restarted = previous is not None and any(
                previous[0] < r <= stamp for r in schedule.resets[instance]
            )
            rise = value if previous is None or restarted else value - previous[1]
            previous = (stamp, value)
            if lo < stamp <= hi:
                total += rise
                bad += rise if outcome in data.BAD else 0
    return bad, total


def test_truth_matches_the_samples_on_generated_data() -> None:
    """On two days of generated traffic with the period's gaps and restarts scaled in, the
    truth counted from the runs equals the rises of the samples."""
    end = 2 * data.DAY
    hour, minute = data.HOUR, data.MINUTE
    schedule = data.Schedule(
        end=end,
        stamps=range(end - 20 * hour + 23_417, end + 1, minute),
        resets=((end - 8 * hour + 5_200,), (end - 17 * hour + 27 * minute + 40_500,)),
        gaps=(
            ((end - 14 * hour, end - 12 * hour - 50 * minute), (end - 4 * hour, end - 3 * hour)),
            ((end - 15 * hour, end - 15 * hour + 12 * minute), (end - 4 * hour, end - 3 * hour)),
        ),
    )
    features = data.Features(incident=(data.PERIOD - 9 * hour, data.PERIOD - 8 * hour))
    flow = data.Workflow(
        index=3,
        monthly_runs=60_000,
        bad_share=0.05,
        business_hours=False,
        incident=True,
        late_outcome=True,
        new_model_at=end - 10 * data.HOUR,
        bursts=((end - 5 * data.HOUR, end - 4 * data.HOUR, 5.0),),
    )
    events = list(data.events_of(flow, schedule, random.Random(1), features))
    truth = data.truth_of(events, schedule)
    for lo, hi in ((0, end), (end - 12 * data.HOUR, end - 3 * data.HOUR)):
        assert truth.window(lo, hi) == sample_count(events, schedule, lo, hi)
    assert truth.window(0, end)[1] > 500
    assert any(e.model == data.NEW_MODEL for e in events)


def test_the_data_has_every_required_feature() -> None:
    """Two replicas, low and high volume, new label values mid-period, a gap over an hour."""
    end = 100 * data.DAY
    flows = data.make_workflows(12, end, random.Random(7))
    assert min(f.monthly_runs for f in flows) <= 300
    assert max(f.monthly_runs for f in flows) >= 100_000
    assert any(f.new_model_at and end - 20 * data.DAY < f.new_model_at < end for f in flows)
    assert any(f.late_outcome for f in flows) and any(f.business_hours for f in flows)
    assert len(data.INSTANCES) == 2
    features = data.Features()
    assert max(hi - lo for _, lo, hi in features.gaps) > data.HOUR
    assert {i for i, _ in features.resets} == {0, 1}


def test_every_rule_set_parses(tmp_path: Path, promtool: str) -> None:
    """The five rule sets for two workflows pass ``promtool check rules``."""
    end = 100 * data.DAY
    flows = data.make_workflows(2, end, random.Random(1))
    cli = Path(sys.executable).parent / "agent-slo"
    sets = [
        rulesets.agent_slo(flows, tmp_path / "agent", cli),
        rulesets.sloth(flows),
        rulesets.pyrra(flows, performance=False),
        rulesets.pyrra(flows, performance=True),
        rulesets.naive(flows),
    ]
    for ruleset in sets:
        paths = backfill.write_rule_files(ruleset, tmp_path / ruleset.key)
        done = subprocess.run(
            [promtool, "check", "rules", *map(str, paths)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, (ruleset.key, done.stdout, done.stderr)


def test_sloth_rules_are_rendered_as_sloth_generates_them() -> None:
    """Sloth's getting-started example renders to exactly the rules in the anchor."""
    anchor = Path(__file__).parent / "fixtures" / "sloth-getting-started.yml"
    metric = "http_request_duration_seconds_count"
    groups = rulesets.sloth_groups(
        "myservice",
        "requests-availability",
        99.9,
        f'sum(rate({metric}{{job="myservice",code=~"(5..|429)"}}[{{{{.window}}}}]))',
        f'sum(rate({metric}{{job="myservice"}}[{{{{.window}}}}]))',
        labels={"cmd": "examplesgen.sh", "owner": "myteam", "repo": "myorg/myservice", "tier": "2"},
        alert="MyServiceHighErrorRate",
        alert_labels={"category": "availability"},
        summary="High error rate on 'myservice' requests responses",
        page_labels={"severity": "pageteam", "routing_key": "myteam"},
        ticket_labels={"severity": "slack", "slack_channel": "#alerts-myteam"},
    )
    assert groups == yaml.safe_load(anchor.read_text())["groups"]


def test_pyrra_windows_for_30_days() -> None:
    """Pyrra's burn-rate windows for a 30-day SLO, rounded to the minute as Pyrra does."""
    windows = [
        (rulesets.prom_duration(long), rulesets.prom_duration(short), rulesets.prom_duration(f))
        for long, short, f, _, _ in rulesets.pyrra_windows(30 * data.DAY)
    ]
    assert windows == [
        ("1h4m", "5m", "2m"),
        ("6h26m", "32m", "16m"),
        ("1d1h43m", "2h9m", "1h4m"),
        ("4d6h51m", "6h26m", "3h13m"),
    ]
    assert rulesets.prom_duration(rulesets.pyrra_absent_for(30 * data.DAY)) == "11m"


def test_reads_know_ranges_offsets_and_subqueries() -> None:
    """How far back an expression reads each recorded series."""
    names = ["a:b:c", "a:b:c5m"]
    expr = 'last_over_time(a:b:c5m{x="}"}[30d] offset 1ms) - a:b:c offset 1d + f(a:b:c[1h:5m])'
    assert backfill.reads(expr, names) == [
        ("a:b:c5m", 30 * data.DAY + 1),
        ("a:b:c", 5 * data.MINUTE + data.DAY),
        ("a:b:c", data.HOUR + 5 * data.MINUTE),
    ]


def test_agent_slo_levels_and_history(tmp_path: Path) -> None:
    """agent-slo's rules level without a cycle; the steps need the whole data, the ratios
    only the last minutes."""
    flows = data.make_workflows(1, 100 * data.DAY, random.Random(1))
    cli = Path(sys.executable).parent / "agent-slo"
    ruleset = rulesets.agent_slo(flows, tmp_path, cli)
    level = backfill.levels(ruleset)
    assert level["slo:events:counter5m"] == 1
    assert level["slo:events:step5m"] > level["slo:events:counter_base"]
    need = backfill.needs(ruleset)
    assert need["slo:events:step5m"] > 30 * data.DAY
    assert need["slo:sli_error:ratio_rate1h"] < data.HOUR


def test_staleness_markers_where_prometheus_writes_them() -> None:
    """A marker at the first scrape without the series: a failed scrape, or a series gone
    with its replica's restart (a series not pre-initialised); none while it stays away."""
    assert data.presence([True, True, False, False, True]) == bytearray([1, 1, 2, 0, 1])
    schedule = tiny_schedule()
    flow = data.Workflow(1, 1_000, 0.01, False, False, False, 0, ())
    values = data.counter_values(TINY_EVENTS, schedule)
    scraped = [schedule.scraped(i) for i in range(2)]
    series = {
        (s.labels["instance"], s.labels["model"], s.labels["outcome"]): s
        for s in data.series_of(flow, values, scraped)
    }
    a, b = data.INSTANCES
    assert series[a, "model-a", "success"].kinds == bytearray([1, 1, 2, 0, 1, 1])  # A's gap
    assert series[b, "model-a", "success"].kinds == bytearray([1, 1, 1, 1, 1, 1])
    assert series[a, "model-c", "rejected"].kinds == bytearray([0, 0, 0, 0, 0, 1])
    assert (a, "model-c", "success") not in series  # never had a run


def test_remote_write_keeps_staleness_markers(tmp_path: Path) -> None:
    """Ingested by remote write, a series is gone for instant queries from its marker on,
    and its samples stay in the TSDB's blocks."""
    base = 1_700_000_000_000
    stamps = [base + k * data.MINUTE for k in range(8)]
    labels = {"__name__": "m_total", "instance": "x", "job": "j"}
    series = [
        data.Series(labels, array("q", range(8)), bytearray([1, 1, 1, 2, 0, 1, 1, 1])),
        data.Series({**labels, "instance": "y"}, array("q", [5] * 8), bytearray([1] * 8)),
    ]
    blocks = ingest.remote_write_tsdb(series, stamps, tmp_path, tmp_path / "ingest.log")
    data_dir = prom.assemble(tmp_path / "tsdb", [blocks])
    with prom.serving(data_dir, {"global": {}}, tmp_path / "prometheus.log") as server:
        assert server.scalar('m_total{instance="x"}', stamps[2] + 30_000) == 2
        assert server.scalar('m_total{instance="x"}', stamps[3] + 30_000) is None
        assert server.scalar('m_total{instance="x"}', stamps[5]) == 5
        assert server.scalar('count_over_time(m_total{instance="x"}[1h])', stamps[7]) == 6
        assert server.scalar('m_total{instance="y"}', stamps[7]) == 5


def test_the_same_seed_gives_the_same_data_whenever_it_runs() -> None:
    """Runs ending at different times see the same runs, shifted with T."""
    ends = (1_800_000_000_000, 1_800_000_000_000 + 3 * data.DAY + 35 * data.MINUTE)
    shifted = []
    for end in ends:
        [flow] = data.make_workflows(1, end, random.Random(3))
        schedule = data.Schedule.of(end)
        events = data.events_of(flow, schedule, random.Random(4))
        shifted.append([e._replace(at=e.at - end) for e in events])
    assert shifted[0] == shifted[1]
    assert len(shifted[0]) > 50_000
