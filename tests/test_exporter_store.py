"""The store: idempotency horizon and size, persistence of folded values, pre-initialisation."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from exporters import catalog_of

from exporter.catalog import Catalog
from exporter.events import Event
from exporter.store import SLOW_COMMIT, Applied, Outcome, Store, Submission

SPEC = """\
apiVersion: agent-slo/v1
workflow: w
dimensions:
  model: {max_values: 2, values: [known]}
slos:
  - name: s
    sli: {outcomes: {}}
"""


def _catalog() -> Catalog:
    return catalog_of(SPEC)


def _event(event_id: str | None = None, model: str = "known") -> Event:
    return Event("w", "success", (("model", model),), 1, None, event_id)


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_ids_are_forgotten_after_the_horizon(tmp_path: Path) -> None:
    """A retry within the horizon is a duplicate; after it, the same id counts again."""
    clock = Clock()
    store = Store(tmp_path / "s.db", _catalog(), idempotency_horizon=60, clock=clock)
    assert store.apply([_event("a")]).applied == 1
    clock.now += 59
    assert store.apply([_event("a")]).duplicates == 1
    clock.now += 2
    assert store.apply([_event("a")]).applied == 1
    store.close()


def test_ids_are_bounded(tmp_path: Path) -> None:
    """Beyond idempotency_max keys the oldest are forgotten, so memory and disk stay bounded."""
    clock = Clock()
    store = Store(tmp_path / "s.db", _catalog(), idempotency_max=10, clock=clock)
    for i in range(30):
        clock.now += 1
        store.apply([_event(f"id-{i}")])
    assert store.apply([_event("id-29")]).duplicates == 1
    assert store.apply([_event("id-0")]).applied == 1
    store.close()


def test_state_survives_a_restart(tmp_path: Path) -> None:
    """Counters, seen dimension values and ids come back after a restart."""
    store = Store(tmp_path / "s.db", _catalog())
    store.apply([_event("x", "m1"), _event(None, "m2"), _event(None, "m3")])
    store.close()
    store = Store(tmp_path / "s.db", _catalog())
    counters = {k: v for k, v in store.snapshot().counters.items() if v}
    assert counters == {
        ("w", "success", (("model", "m1"),)): 1,
        ("w", "success", (("model", "other"),)): 2,
    }
    assert store.apply([_event("x", "m1")]).duplicates == 1
    assert store.apply([_event(None, "m9")]).folded == 1
    store.close()


def test_known_series_start_at_zero(tmp_path: Path) -> None:
    """Every outcome for every known value (and `unknown`) is pre-initialised at 0."""
    store = Store(tmp_path / "s.db", _catalog())
    counters = store.snapshot().counters
    assert counters[("w", "policy_violation", (("model", "known"),))] == 0
    assert counters[("w", "success", (("model", "unknown"),))] == 0
    assert len(counters) == 2 * len(_catalog().workflows["w"].outcomes)
    store.close()


def _here(store: Store, events: list[Event]) -> tuple[bool, list[object], list[str]]:
    """commit_here of one batch: whether it was taken, its outcomes, and the thread that
    called back."""
    outcomes: list[object] = []
    threads: list[str] = []

    def done(out: list[Outcome]) -> None:
        outcomes.extend(out)
        threads.append(threading.current_thread().name)

    return store.commit_here(Submission([events], done)), outcomes, threads


def test_a_quick_commit_is_made_and_answered_in_the_callers_thread(tmp_path: Path) -> None:
    """commit_here applies the batch durably in the calling thread and calls back there;
    a restart finds it."""
    store = Store(tmp_path / "s.db", _catalog())
    taken, outcomes, threads = _here(store, [_event("a"), _event()])
    assert (taken, outcomes, threads) == (
        True,
        [Applied(2, 0, 0)],
        [threading.current_thread().name],
    )
    assert _here(store, [_event("a")])[1] == [Applied(0, 1, 0)]  # its id is stored too
    store.close()
    again = Store(tmp_path / "s.db", _catalog())
    assert again.snapshot().counters[("w", "success", (("model", "known"),))] == 2
    again.close()


def test_commit_here_declines_what_would_hold_the_caller_up(tmp_path: Path) -> None:
    """Declined, nothing applied: a batch too large, counters held by another thread (then
    the writer thread takes every commit for SLOW_PAUSE), and a commit slower than
    SLOW_COMMIT is made but sends the next ones to the writer thread."""
    clock = Clock()
    store = Store(tmp_path / "s.db", _catalog(), clock=clock)
    key = ("w", "success", (("model", "known"),))
    assert _here(store, [_event()] * 65)[0] is False
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with store._lock:  # a scrape copying them, or a stall
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    assert _here(store, [_event()])[0] is False
    release.set()
    holder.join()
    assert _here(store, [_event()])[0] is False  # paused: the writer thread's turn
    assert store.snapshot().counters[key] == 0
    assert store.apply([_event()]) == Applied(1, 0, 0)
    store.close()

    slow = Store(tmp_path / "t.db", _catalog(), clock=lambda: time.sleep(SLOW_COMMIT * 2) or 1e9)
    assert _here(slow, [_event()])[:2] == (True, [Applied(1, 0, 0)])
    assert _here(slow, [_event()])[0] is False
    assert slow.snapshot().counters[key] == 1
    slow.close()
