"""Durable counter state in SQLite (WAL), written by one committer thread with group commit.

Callers hand checked batches to :meth:`Store.submit` (or several to
:meth:`Store.submit_all`) and get a future, or hand several at once in a
:class:`Submission` (:meth:`Store.send`) and get one call back for all of them: the HTTP
write path, where a future per batch would cost as much as the rest of the commit, or
commit such a submission in their own thread while that is quick
(:meth:`Store.commit_here`: the event loop does, see there why). The
committer takes every batch waiting, applies them in one transaction
(``synchronous=FULL``: on disk before the commit returns), then updates the in-memory
counters that ``/metrics`` reads and resolves the futures (or calls back). An event is
acknowledged only after its transaction committed, so a crash loses no acknowledged event,
and counters never go backwards across restarts.

The committer also folds dimension values beyond a dimension's cap into ``other``, in
commit order, and skips events whose idempotency key it has seen within the horizon.
"""

from __future__ import annotations

import bisect
import json
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from exporter.catalog import OTHER, UNKNOWN, Catalog
from exporter.events import Event

__all__ = [
    "Applied",
    "BatchError",
    "CounterKey",
    "HistogramKey",
    "Outcome",
    "Snapshot",
    "Store",
    "StoreError",
    "Submission",
]

CounterKey = tuple[str, str, tuple[tuple[str, str], ...]]  # workflow, outcome, dimensions
HistogramKey = tuple[str, tuple[tuple[str, str], ...]]  # workflow, dimensions
_MAX_GROUP: Final = 256  # batches per transaction
_DIMS_CACHE: Final = 65_536  # series whose stored dimension text is kept
_PRUNE_EVERY: Final = 60.0  # seconds between sweeps of expired idempotency keys
LOCK_WAIT = 5.0  # seconds a starting exporter waits for the state file's lock
SLOW_COMMIT: Final = 0.05  # seconds: a commit made in the caller's thread slower than this...
SLOW_PAUSE: Final = 60.0  # ...leaves every commit to the committer thread for this long
_HERE_EVENTS: Final = 64  # events at most in a commit made in the caller's thread
_HERE_WAIT: Final = 0.005  # seconds the caller waits for the in-memory counters
_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS counters (
    workflow TEXT NOT NULL, outcome TEXT NOT NULL, dims TEXT NOT NULL, value INTEGER NOT NULL,
    PRIMARY KEY (workflow, outcome, dims)
);
CREATE TABLE IF NOT EXISTS durations (
    workflow TEXT NOT NULL, dims TEXT NOT NULL, buckets TEXT NOT NULL,
    sum REAL NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (workflow, dims)
);
CREATE TABLE IF NOT EXISTS dimension_values (
    workflow TEXT NOT NULL, dimension TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (workflow, dimension, value)
);
CREATE TABLE IF NOT EXISTS idempotency (key TEXT PRIMARY KEY, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS idempotency_at ON idempotency (at);
"""


log = logging.getLogger("agent_slo.exporter")


class StoreError(Exception):
    """The store could not record a batch; nothing of it was applied."""


class BatchError(StoreError):
    """A batch holds something the store cannot record; the sender must change it."""


@dataclass(frozen=True)
class Applied:
    """What happened to one batch."""

    applied: int  # events counted
    duplicates: int  # events skipped: their id was seen within the horizon
    folded: int  # dimension values folded into "other"


@dataclass
class Histogram:
    """Bucket counts (not cumulative), sum and count of run durations."""

    buckets: list[int]
    sum: float = 0.0
    count: int = 0


@dataclass(frozen=True)
class Snapshot:
    """A consistent copy of every counter, for one scrape."""

    counters: dict[CounterKey, int]
    histograms: dict[HistogramKey, Histogram]
    folded: dict[tuple[str, str], int]


Outcome = Applied | StoreError  # what became of one batch


class _Pending:
    """One batch in the committer's hands, and what became of it."""

    __slots__ = ("events", "outcome")

    def __init__(self, events: list[Event]) -> None:
        self.events = events
        self.outcome: Outcome | None = None


class Submission:
    """Batches handed to the committer together. Once they are committed (or failed),
    ``done`` is called in the committer thread with an outcome per batch, in order; it must
    be quick and must not raise. A submission withdrawn before the committer takes it is
    never applied and ``done`` is not called."""

    __slots__ = ("_lock", "_state", "done", "pending")

    def __init__(self, batches: list[list[Event]], done: Callable[[list[Outcome]], None]) -> None:
        self.pending = [_Pending(events) for events in batches]
        self.done = done
        self._lock = threading.Lock()
        self._state = 0  # 0 queued, 1 taken by the committer, 2 withdrawn

    def withdraw(self) -> bool:
        """Withdraw the batches if the committer has not taken them yet (True): they will
        never be applied. False: they are being committed, ``done`` will be called."""
        with self._lock:
            if self._state == 0:
                self._state = 2
            return self._state == 2

    def take(self) -> bool:
        """For the committer: whether to apply the batches (they were not withdrawn)."""
        with self._lock:
            if self._state == 0:
                self._state = 1
            return self._state == 1

    def finish(self) -> None:
        """For the committer: call ``done`` with the outcomes."""
        self.done([p.outcome or StoreError("not recorded") for p in self.pending])


class _FutureSubmission(Submission):
    """One batch answered through a future (:meth:`Store.submit`): the future's
    cancellation withdraws it."""

    __slots__ = ("future",)

    def __init__(self, events: list[Event]) -> None:
        super().__init__([events], self._settle)
        self.future: Future[Applied] = Future()

    def withdraw(self) -> bool:
        return self.future.cancel()

    def take(self) -> bool:
        return self.future.set_running_or_notify_cancel()

    def _settle(self, outcomes: list[Outcome]) -> None:
        (outcome,) = outcomes
        if isinstance(outcome, Applied):
            self.future.set_result(outcome)
        else:
            self.future.set_exception(outcome)


class Store:
    """Counters, histograms, seen dimension values and idempotency keys, durable in SQLite."""

    def __init__(
        self,
        path: Path,
        catalog: Catalog,
        *,
        idempotency_horizon: float = 86_400.0,
        idempotency_max: int = 1_000_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.catalog = catalog
        self.horizon = idempotency_horizon
        self.max_keys = idempotency_max
        self.clock = clock
        # The in-memory counters (re-entrant: a commit made by commit_here holds it from
        # start to end, and updates them inside).
        self._lock = threading.RLock()
        self._committing = threading.Lock()  # one transaction at a time, whoever commits
        self._slow_until = 0.0  # commit_here declines until then
        self._queue: queue.SimpleQueue[Submission | None] = queue.SimpleQueue()
        self._dims_text: dict[tuple[tuple[str, str], ...], str] = {}  # bounded by _DIMS_CACHE
        self._counters: dict[CounterKey, int] = {}
        self._histograms: dict[HistogramKey, Histogram] = {}
        self._seen: dict[tuple[str, str], set[str]] = {}
        self._folded: dict[tuple[str, str], int] = {}
        self.errors = 0
        self._pruned_at = 0.0
        self._broken: str | None = None
        self.failing: str | None = None  # the last commit's storage error, until one succeeds
        saved = _recovered_path(path)
        if saved.exists():
            raise StoreError(
                f"{saved} holds the state saved when {path} was deleted or replaced while "
                f"the exporter ran: move it to {path}, removing any {path.name}-wal and "
                f"{path.name}-shm beside it (or delete it to start from zero)"
            )
        try:
            self._db = sqlite3.connect(
                path, timeout=LOCK_WAIT, check_same_thread=False, isolation_level=None
            )
            # The exporter alone uses the file: no file lock to take and release around
            # each transaction, the WAL's index in memory, and a second exporter started
            # on the same file refused instead of both counting into it.
            self._db.execute("PRAGMA locking_mode=EXCLUSIVE")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("BEGIN EXCLUSIVE")
            self._db.execute("COMMIT")
            self._db.executescript(_SCHEMA)
            self._keys = self._db.execute("SELECT COUNT(*) FROM idempotency").fetchone()[0]
            self._load()
            stat = path.stat()
        except (sqlite3.Error, OSError, ValueError) as exc:
            raise StoreError(_open_error(path, exc)) from exc
        self._identity = (stat.st_dev, stat.st_ino)
        self._thread = threading.Thread(target=self._run, name="agent-slo-committer", daemon=True)
        self._thread.start()

    # -- reading -------------------------------------------------------------------------

    def _load(self) -> None:
        for workflow, outcome, dims, value in self._db.execute(
            "SELECT workflow, outcome, dims, value FROM counters"
        ):
            self._counters[(workflow, outcome, _dims_from(dims))] = value
        for workflow, dims, buckets, total, count in self._db.execute(
            "SELECT workflow, dims, buckets, sum, count FROM durations"
        ):
            self._histograms[(workflow, _dims_from(dims))] = Histogram(
                json.loads(buckets), total, count
            )
        for workflow, dimension, value in self._db.execute(
            "SELECT workflow, dimension, value FROM dimension_values"
        ):
            self._seen.setdefault((workflow, dimension), set()).add(value)
        self._preinitialise()

    def _preinitialise(self) -> None:
        """Every known series at 0, so rate() and increase() see the first event."""
        for wf in self.catalog.workflows.values():
            choices = [(*wf.known_values.get(d, ()), UNKNOWN) for d in wf.dimensions]
            for combo in _product(choices, limit=10_000):
                dims = tuple(zip(wf.dimensions, combo, strict=True))
                for outcome in wf.outcomes:
                    self._counters.setdefault((wf.name, outcome, dims), 0)
                self._histograms.setdefault((wf.name, dims), Histogram([0] * (len(wf.buckets) + 1)))

    def ready(self) -> bool:
        """Whether batches can be committed (see :meth:`problem`)."""
        return self.problem() is None

    def problem(self) -> str | None:
        """Why batches cannot be committed now: the committer thread stopped, the state
        file is not the one it opened, or the last commit failed for the storage (a full
        disk); None when they can."""
        if not self._thread.is_alive():
            return "the writer thread has stopped"
        if self._broken is not None:
            return self._broken
        if self.failing is not None:
            return f"the last commit failed: {self.failing}"
        return None

    def snapshot(self) -> Snapshot:
        """A consistent copy of the counters."""
        with self._lock:
            return Snapshot(
                dict(self._counters),
                {
                    k: Histogram(list(h.buckets), h.sum, h.count)
                    for k, h in self._histograms.items()
                },
                dict(self._folded),
            )

    # -- writing -------------------------------------------------------------------------

    def submit(self, events: list[Event]) -> Future[Applied]:
        """Queue a checked batch; the future resolves once it is durable (or failed)."""
        (future,) = self.submit_all([events])
        return future

    def submit_all(self, batches: list[list[Event]]) -> list[Future[Applied]]:
        """Queue several checked batches; a future per batch, each resolved once its batch
        is durable (or failed); cancelling a future the committer has not taken withdraws
        its batch."""
        submissions = [_FutureSubmission(events) for events in batches]
        for submission in submissions:
            self._queue.put(submission)
        return [s.future for s in submissions]

    def send(self, submission: Submission) -> None:
        """Queue the batches of ``submission`` (one wake-up of the committer)."""
        self._queue.put(submission)

    def commit_here(self, submission: Submission) -> bool:
        """Commit ``submission`` in the calling thread and call its ``done`` there, if that
        is quick: nothing queued for the committer, not committing itself, small batches,
        the in-memory counters free within a few milliseconds, and no commit slower than
        :data:`SLOW_COMMIT` in the last :data:`SLOW_PAUSE` seconds (then the committer takes
        every commit, so that a slow disk never holds up the caller again). True if done;
        False: nothing was applied, send it instead.

        The event loop commits this way: with the committer thread, each commit costs two
        thread wake-ups (loop to committer, committer to loop) that on a virtual machine
        take longer than the commit's own work."""
        if time.monotonic() < self._slow_until or not self._queue.empty():
            return False
        if sum(len(p.events) for p in submission.pending) > _HERE_EVENTS:
            return False
        if not self._committing.acquire(blocking=False):
            return False
        try:
            if not self._lock.acquire(timeout=_HERE_WAIT):  # a scrape copies, or it is stuck
                self._pause("the in-memory counters were busy")
                return False
            try:
                if not submission.take():
                    return True
                start = time.monotonic()
                self._commit_group(submission.pending)
                took = time.monotonic() - start
            finally:
                self._lock.release()
        finally:
            self._committing.release()
        if took > SLOW_COMMIT:
            self._pause(f"a commit took {took * 1000:.0f} ms")
        submission.finish()
        return True

    def _pause(self, why: str) -> None:
        """Leave every commit to the committer thread for a while."""
        self._slow_until = time.monotonic() + SLOW_PAUSE
        log.warning("%s: commits go through the writer thread for the next %.0f s", why, SLOW_PAUSE)

    def apply(self, events: list[Event], timeout: float | None = None) -> Applied:
        """Submit a batch and wait until it is durable; raise :class:`StoreError` on failure."""
        return self.submit(events).result(timeout)

    def close(self) -> None:
        """Finish every queued batch, then stop the committer and close the database."""
        self._queue.put(None)
        self._thread.join()
        self._db.close()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            taken = [first]
            size = len(first.pending)
            stop = False
            while size < _MAX_GROUP:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                taken.append(item)
                size += len(item.pending)
            # A batch whose sender stopped waiting before it was taken is not recorded (the
            # sender was told so); the others can no longer be withdrawn.
            taken = [s for s in taken if s.take()]
            group = [p for s in taken for p in s.pending]
            if group:
                with self._committing:
                    self._commit_group(group)
            for submission in taken:
                try:
                    submission.finish()
                except Exception:  # the sender's callback: the committer goes on
                    log.exception("a write's callback failed")
            if stop:
                return

    def _commit_group(self, group: list[_Pending]) -> None:
        try:
            self._commit(group)
        except Exception as exc:  # the committer must outlive any batch
            log.exception("the committer failed a group of %d batch(es)", len(group))
            for pending in group:
                if pending.outcome is None:
                    pending.outcome = StoreError(f"not recorded: {exc}")

    def _commit(self, group: list[_Pending]) -> None:
        if self._broken is None:
            self._check_file()
        if self._broken is not None:
            self._fail(group, StoreError(self._broken))
            return
        now = self.clock()
        counters: dict[CounterKey, int] = {}
        histograms: dict[HistogramKey, Histogram] = {}
        seen: dict[tuple[str, str], set[str]] = {}  # values first seen in this transaction
        new_values: list[tuple[str, str, str]] = []
        folded: dict[tuple[str, str], int] = {}
        results: list[Applied] = []
        ids: dict[str, float] = {}
        try:
            self._db.execute("BEGIN IMMEDIATE")
            for pending in group:
                applied = duplicates = folds = 0
                for event in pending.events:
                    if event.id is not None and (event.id in ids or self._seen_id(event.id, now)):
                        duplicates += 1
                        continue
                    if event.id is not None:
                        ids[event.id] = now
                    dims, n = self._fold(event, seen, new_values, folded)
                    folds += n
                    key = (event.workflow, event.outcome, dims)
                    counters[key] = counters.get(key, self._counters.get(key, 0)) + event.count
                    if event.duration_seconds is not None:
                        self._observe(histograms, event, dims)
                    applied += 1
                results.append(Applied(applied, duplicates, folds))
            self._write(counters, histograms, new_values, ids, now)
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:  # the storage: every batch of the group fails
            self._storage_failed(group, exc)
            return
        except Exception as exc:  # noqa: BLE001 - what a batch holds: only that batch fails
            self._isolate(group, exc)
            return
        self._recovered()
        with self._lock:
            self._counters.update(counters)
            self._histograms.update(histograms)
            for workflow, dimension, value in new_values:
                self._seen.setdefault((workflow, dimension), set()).add(value)
            for folded_key, n in folded.items():
                self._folded[folded_key] = self._folded.get(folded_key, 0) + n
        for pending, result in zip(group, results, strict=True):
            pending.outcome = result

    def _storage_failed(self, group: list[_Pending], exc: sqlite3.Error) -> None:
        if self.failing is None:
            log.error("the state file %s cannot be written: %s", self.path, exc)
        self.failing = str(exc)
        self._fail(group, StoreError(f"could not record the batch: {exc}"))

    def _recovered(self) -> None:
        if self.failing is not None:
            log.info("the state file %s is written again", self.path)
            self.failing = None

    def _check_file(self) -> None:
        """Stop acknowledging if the state file was deleted or replaced: what would be
        committed from now on could not be found again after a restart."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            problem = "was deleted"
        else:
            if (stat.st_dev, stat.st_ino) == self._identity and stat.st_nlink > 0:
                return
            problem = "was replaced by another file"
        saved = _recovered_path(self.path)
        try:
            copy = sqlite3.connect(saved)
            try:
                self._db.backup(copy)
            finally:
                copy.close()
            where = f"the state up to now is saved in {saved}: stop the exporter, move it to "
            where += f"{self.path} and start again"
        except (sqlite3.Error, OSError) as exc:
            where = f"the state up to now could not be saved ({exc}): do not stop the exporter "
            where += "before copying /proc/<pid>/fd of its open state file"
        self._broken = f"the state file {self.path} {problem}; writes are refused"
        log.error("%s while the exporter ran, so that no acknowledged event is lost; %s",
                  self._broken, where)  # fmt: skip

    def _isolate(self, group: list[_Pending], exc: Exception) -> None:
        """A group failed for what a batch holds: commit its batches one by one, so that
        only the one at fault fails (4xx-worthy when a value cannot be stored)."""
        if len(group) > 1:
            self._rollback()
            for pending in group:
                self._commit([pending])
            return
        if isinstance(exc, ValueError | TypeError | OverflowError):
            error: StoreError = BatchError(f"a value cannot be stored: {exc}")
        else:
            log.exception("could not record a batch")
            error = StoreError(f"could not record the batch: {type(exc).__name__}")
        self._fail(group, error)

    def _rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    def _fail(self, group: list[_Pending], error: StoreError) -> None:
        if not isinstance(error, BatchError):  # the sender's mistake counts as a rejection
            self.errors += 1
        self._rollback()
        for pending in group:
            pending.outcome = error

    def _seen_id(self, key: str, now: float) -> bool:
        row = self._db.execute("SELECT at FROM idempotency WHERE key = ?", (key,)).fetchone()
        return row is not None and row[0] >= now - self.horizon

    def _fold(
        self,
        event: Event,
        seen: dict[tuple[str, str], set[str]],
        new_values: list[tuple[str, str, str]],
        folded: dict[tuple[str, str], int],
    ) -> tuple[tuple[tuple[str, str], ...], int]:
        """The event's dimensions with values past a dimension's cap folded into ``other``;
        ``seen`` holds the values first seen in this transaction (the committed ones are in
        ``self._seen``, left alone until the commit succeeds)."""
        wf = self.catalog.workflows[event.workflow]
        out = []
        folds = 0
        for name, given in event.dimensions:
            value = given
            if given != UNKNOWN and given not in wf.known_values.get(name, ()):
                key = (event.workflow, name)
                committed = self._seen.get(key, ())
                values = seen.setdefault(key, set())
                if given not in committed and given not in values:
                    known = len(wf.known_values.get(name, ()))
                    if known + len(committed) + len(values) >= wf.max_values[name]:
                        folded[key] = folded.get(key, 0) + 1
                        folds += 1
                        value = OTHER
                    else:
                        values.add(given)
                        new_values.append((event.workflow, name, given))
            out.append((name, value))
        return tuple(out), folds

    def _observe(
        self,
        histograms: dict[HistogramKey, Histogram],
        event: Event,
        dims: tuple[tuple[str, str], ...],
    ) -> None:
        wf = self.catalog.workflows[event.workflow]
        key = (event.workflow, dims)
        hist = histograms.get(key)
        if hist is None:
            current = self._histograms.get(key)
            hist = (
                Histogram(list(current.buckets), current.sum, current.count)
                if current
                else Histogram([0] * (len(wf.buckets) + 1))
            )
            histograms[key] = hist
        assert event.duration_seconds is not None
        index = bisect.bisect_left(wf.buckets, event.duration_seconds)
        hist.buckets[index] += event.count
        hist.sum += event.duration_seconds * event.count
        hist.count += event.count

    def _write(
        self,
        counters: dict[CounterKey, int],
        histograms: dict[HistogramKey, Histogram],
        new_values: list[tuple[str, str, str]],
        ids: dict[str, float],
        now: float,
    ) -> None:
        db = self._db
        if counters:
            db.executemany(
                "INSERT INTO counters (workflow, outcome, dims, value) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (workflow, outcome, dims) DO UPDATE SET value = excluded.value",
                [(w, o, self._dims_to(d), v) for (w, o, d), v in counters.items()],
            )
        if histograms:
            db.executemany(
                "INSERT INTO durations (workflow, dims, buckets, sum, count) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (workflow, dims) DO UPDATE SET "
                "buckets = excluded.buckets, sum = excluded.sum, count = excluded.count",
                [
                    (w, self._dims_to(d), json.dumps(h.buckets), h.sum, h.count)
                    for (w, d), h in histograms.items()
                ],
            )
        if new_values:
            db.executemany(
                "INSERT OR IGNORE INTO dimension_values (workflow, dimension, value) "
                "VALUES (?, ?, ?)",
                new_values,
            )
        if ids:
            db.executemany(
                "INSERT OR REPLACE INTO idempotency (key, at) VALUES (?, ?)", list(ids.items())
            )
            self._keys += len(ids)
            if self._keys > self.max_keys or now - self._pruned_at > _PRUNE_EVERY:
                self._prune(now)

    def _dims_to(self, dims: tuple[tuple[str, str], ...]) -> str:
        """The stored text of a series' dimensions, kept: a series is written again and
        again, and encoding it costs as much as the rest of its row."""
        text = self._dims_text.get(dims)
        if text is None:
            if len(self._dims_text) >= _DIMS_CACHE:
                self._dims_text.clear()
            text = self._dims_text[dims] = _dims_to(dims)
        return text

    def _prune(self, now: float) -> None:
        """Forget keys older than the horizon, then the oldest beyond the maximum."""
        db = self._db
        db.execute("DELETE FROM idempotency WHERE at < ?", (now - self.horizon,))
        self._keys = db.execute("SELECT COUNT(*) FROM idempotency").fetchone()[0]
        excess = self._keys - self.max_keys
        if excess > 0:
            db.execute(
                "DELETE FROM idempotency WHERE key IN "
                "(SELECT key FROM idempotency ORDER BY at LIMIT ?)",
                (excess,),
            )
            self._keys -= excess
        self._pruned_at = now


def _recovered_path(path: Path) -> Path:
    """Where the state is saved when its file is deleted or replaced while running."""
    return path.with_name(path.name + ".recovered")


def _open_error(path: Path, exc: Exception) -> str:
    """One line: why the state file cannot be opened, and what to do."""
    parent = path.resolve().parent
    if not parent.is_dir():
        fix = f"create the directory {parent}"
    elif not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        fix = f"let this user write {parent} and {path.name}"
    elif isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        fix = "another process holds it (an exporter already running on it?): stop that one first"
    elif isinstance(exc, sqlite3.DatabaseError) and "not a database" in str(exc):
        fix = "it is not an agent-slo state file (or it is corrupt): move it aside or pick another"
    else:
        fix = "check the path"
    return f"cannot open the state file {path}: {exc}; {fix}"


def _dims_to(dims: tuple[tuple[str, str], ...]) -> str:
    return json.dumps(dims, separators=(",", ":"))


def _dims_from(text: str) -> tuple[tuple[str, str], ...]:
    return tuple((str(k), str(v)) for k, v in json.loads(text))


def _product(choices: list[tuple[str, ...]], limit: int) -> Iterable[tuple[str, ...]]:
    """Combinations of known values, at most ``limit`` of them."""
    combos: list[tuple[str, ...]] = [()]
    for options in choices:
        combos = [(*c, o) for c in combos for o in options][:limit]
    return combos
