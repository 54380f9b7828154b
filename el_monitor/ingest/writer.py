"""The store sink: batches valid capsules, commits them, and spools when the database is away.

A flush groups the batch by schema revision, builds rows against each table's real layout and
inserts them in one transaction, together with the report's counts since the last flush (by
the events' own hour: ``counts.hourly``), so rows and counts are exactly as durable as each
other.  When the database cannot be reached the batch and its counts go to the spool (or,
without one, wait and retry), and later flushes drain the spool oldest first.  Only after a
flush is durable does the source's checkpoint move, so a crash replays what it counted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import NamedTuple

from el_monitor.counts.counters import Counters
from el_monitor.counts.hourly import (
    NOTHING,
    HourBook,
    Outcome,
    Pending,
    batch_rows,
    valid_by_hour,
    without_duplicates,
)
from el_monitor.errors import DUPLICATE, STORE, EventError, SchemaError
from el_monitor.event.jsontext import capsule_json
from el_monitor.ingest.load_ahead import LoadAhead
from el_monitor.ingest.spool import Spool, SpooledBatch
from el_monitor.schema.registry import SchemaRegistry
from el_monitor.store import (
    InsertResult,
    Store,
    StoreError,
    StoreUnavailable,
    TableLayout,
    TableMissing,
)
from el_monitor.store.catalogue import has_rows
from el_monitor.store.counts import count_statements, create_counts_tables
from el_monitor.store.sampling import record_sample_rate

log = logging.getLogger(__name__)

NOWHERE_POLL = 0.25  # seconds between looks for a new target while no flush can succeed


class Backoff:
    """Exponential retry delay: 1 s doubling to ``ceiling``, reset by a success."""

    def __init__(self, first: float = 1.0, ceiling: float = 30.0) -> None:
        self.first, self.ceiling = first, ceiling
        self.delay = 0.0
        self.next_attempt = 0.0

    def failed(self, now: float) -> None:
        self.delay = min(self.ceiling, self.delay * 2 if self.delay else self.first)
        self.next_attempt = now + self.delay

    def succeeded(self) -> None:
        self.delay = 0.0
        self.next_attempt = 0.0


class Heartbeat(NamedTuple):
    """Something to ping at least every ``interval`` seconds while the writer waits."""

    ping: Callable[[], None]
    interval: float


class StoreWriter:
    """Owns the batch of valid capsules between validation and the database."""

    def __init__(
        self,
        store: Store | None,
        registry: SchemaRegistry,
        counters: Counters,
        on_error: Callable[[EventError], None],
        spool: Spool | None = None,
        clock: Callable[[], float] = time.monotonic,
        book: HourBook | None = None,
        instance: str = "",
        wake: Callable[[], bool] | None = None,
        count_replays: bool = True,
        flush_interval: float = 1.0,
    ) -> None:
        self.store = store  # None: pointed nowhere (an empty --db-file), as if it were away
        # True (SIGHUP, or the database file rewritten) makes a flush that waits for the
        # database return, its batch kept, so the run loop can re-point the forwarder.
        self.wake = wake
        self.registry = registry
        self.counters = counters
        self.on_error = on_error
        self.spool = spool
        self.clock = clock
        self.book = book or HourBook()
        self.instance = instance  # this forwarder in the counts tables
        # False for a backfill: an event stored already was counted when it was, so the
        # counts tables get nothing for it (only what is new is counted, in its own hour).
        self.count_replays = count_replays
        self._counts_ready = False
        # Counts a flush could neither write nor spool (the database away, no spool): until a
        # flush writes them, the source's checkpoint must not move past the lines they count.
        self.counts_pending = False
        self._sample_rate_for: Callable[[str], int] | None = lambda schema: 1
        self._recorded_rates: dict[tuple[str, str], int] = {}
        self.backoff = Backoff()
        # systemd's watchdog, pinged while a flush waits for the database (set by the forwarder)
        self.alive: Heartbeat | None = None
        self.batch: list[dict] = []
        self.started = 0.0  # clock() when the batch got its first capsule
        # The busiest table's rows of the batch, made and sent as they come (``load_ahead``):
        # the table that took the most rows at the last flush, once its layout is in hand.
        self._ahead: LoadAhead | None = None
        self.flush_interval = flush_interval  # the longest a batch waits: its preload too
        self._busiest: tuple[str, str] | None = None
        self._ready: dict[tuple[str, str], TableLayout] = {}
        # Spool files waiting, including any an earlier run left behind.
        self.backlog = len(spool) if spool is not None else 0

    def set_sample_rates(self, rate_for: Callable[[str], int] | None) -> None:
        """The sample rates of the policy now in force; each revision's rate is recorded
        beside its data at its next commit (and a change of it made loud).  None for a writer
        that does not sample (backfill: its events were sampled when first taken in)."""
        self._sample_rate_for = rate_for

    def add(self, capsule: dict) -> None:
        if not self.batch:
            self.started = self.clock()
            self._ahead = self._load_ahead()
        self.batch.append(capsule)
        if self._ahead is not None:
            self._ahead.add(capsule)

    def _load_ahead(self) -> LoadAhead | None:
        """For a new batch, when the database is in use and well: its busiest table's rows
        sent as they come."""
        key = self._busiest
        layout = self._ready.get(key) if key is not None else None
        if (
            key is None
            or layout is None
            or self.store is None
            or self.backlog
            or self.backoff.delay
        ):
            return None
        preload = self.store.preload(layout, self.flush_interval)
        return None if preload is None else LoadAhead(key, layout, preload)

    def age(self) -> float:
        return self.clock() - self.started if self.batch else 0.0

    def due(self, batch_size: int, flush_interval: float) -> bool:
        """Whether a flush is due: a full batch, an old one, or a spool the store can drain."""
        if len(self.batch) >= batch_size or (self.batch and self.age() >= flush_interval):
            return True
        since = self.book.since  # counts without rows: written as often as rows would be
        if since is not None and time.monotonic() - since >= flush_interval:
            return True
        return bool(self.backlog) and self._store_ready()

    def can_flush(self) -> bool:
        """Whether a flush now could make the batch durable (else it could only wait)."""
        return self.spool is not None or self._store_ready()

    def retarget(self, store: Store | None) -> None:
        """Write to ``store`` from the next flush on (None: nowhere); the caller flushed the
        batch and closes the old one.  Tables are made there as needed, the spool drains
        into it, and the sample rates are recorded there too."""
        self.store = store
        self._counts_ready = False
        self._recorded_rates = {}
        self._ahead, self._ready = None, {}
        self.backoff.succeeded()

    def flush(self, stop: threading.Event | None = None, patient: bool = True) -> int:
        """Make the batch durable: committed, or spooled.  Without a (working) spool, retry
        with backoff until the database returns, ``stop`` or ``wake`` is set (``patient``
        False: try once).  Returns the number of events left pending, which stay in the
        batch."""
        capsules, self.batch = self.batch, []
        ahead, self._ahead = self._ahead, None
        counted = self.book.take()
        if self._store_ready():
            self._drain_spool()
        said_held = False
        while True:
            if self._store_ready():
                try:
                    self._commit(capsules, counted, ahead=ahead)
                    self.backoff.succeeded()
                    self.counts_pending = False
                    return 0
                except StoreUnavailable as exc:
                    self._unavailable(exc)
            if self._spool(capsules, counted):
                self.counts_pending = False
                return 0
            woken = self.wake is not None and self.wake()
            if not patient or woken or stop is not None and stop.is_set() or not capsules:
                self.batch = capsules + self.batch
                self.book.give_back(counted)
                self.counts_pending = bool(counted)
                return len(capsules)
            if self.store is None and not said_held:
                said_held = True
                log.warning("pointed nowhere and no spool: holding %d events (and reading no "
                            "more) until the database file names a database",
                            len(capsules))  # fmt: skip
            wait = self.retry_in()
            if self.alive is not None:  # waiting for the database is not a hang: say so
                self.alive.ping()
                wait = min(wait, self.alive.interval)
            if stop is not None:
                stop.wait(wait)
            else:
                time.sleep(wait)

    def retry_in(self) -> float:
        """Seconds until the store is worth another try; short polls while pointed nowhere
        or while the forwarder may be re-pointed (``wake``)."""
        if self.store is None:
            return NOWHERE_POLL
        wait = max(0.0, self.backoff.next_attempt - self.clock())
        return min(wait, NOWHERE_POLL) if self.wake is not None else wait

    def _current(self) -> Store:
        """The store a commit writes to; pointed nowhere, it is as if the database were away."""
        if self.store is None:
            raise StoreUnavailable("pointed nowhere (the database file is empty)")
        return self.store

    def commit_now(self) -> None:
        """Commit the batch at once, for work that runs once and can be run again (backfill):
        no spool, no waiting; raises StoreUnavailable with the batch kept."""
        capsules, self.batch = self.batch, []
        ahead, self._ahead = self._ahead, None
        counted = self.book.take()
        try:
            self._commit(capsules, counted, ahead=ahead)
        except StoreUnavailable:
            self.batch = capsules + self.batch
            self.book.give_back(counted)
            raise

    def _store_ready(self) -> bool:
        return self.store is not None and self.clock() >= self.backoff.next_attempt

    def _unavailable(self, exc: StoreUnavailable) -> None:
        self.backoff.failed(self.clock())
        log.warning("database unavailable (%s); retrying in %.0f s", exc, self.backoff.delay)

    def _spool(self, capsules: list[dict], counted: Pending) -> bool:
        """Whether the batch and its counts are now safe in the spool (a full disk means they
        are not)."""
        if self.spool is None:
            return False
        if capsules or counted:
            try:
                self.spool.put(capsules, counted.to_record())
            except OSError as exc:
                log.error("cannot spool %d events: %s", len(capsules), exc)
                return False
            self.backlog += 1
            for capsule in capsules:
                self.counters.schema(capsule["schema"]).spooled += 1
        return True

    def _drain_spool(self) -> None:
        if not self.backlog or self.spool is None:
            return
        for batch in self.spool.batches():
            capsules, counted, orphans = self._read_spooled(batch)
            try:
                self._commit(capsules, counted, spooled=True, orphans=orphans)
            except StoreUnavailable as exc:
                self._unavailable(exc)
                return
            self.spool.done(batch.path)
            log.info("drained %d spooled events from %s", len(capsules), batch.path.name)
        self.backlog = len(self.spool)  # what is left on disk: set-aside files are not

    def _read_spooled(self, batch: SpooledBatch) -> tuple[list[dict], Pending, list[Outcome]]:
        """A spooled batch's capsules whose schema the registry still has, its counts, and the
        others, set aside in a file of their own (one log line per schema revision) and
        counted as store errors, so one gone schema does not block the spool."""
        counted = NOTHING
        if batch.counts is not None:
            try:
                counted = Pending.from_record(batch.counts)
            except ValueError as exc:
                log.error("spooled batch %s: its counts are unreadable (%s); its events are "
                          "stored without them", batch.path.name, exc)  # fmt: skip
        known: list[dict] = []
        gone: list[dict] = []
        for capsule in batch.capsules:
            (known if self._registered(capsule) else gone).append(capsule)
        if not gone:
            return known, counted, []
        aside = self.spool.set_aside(batch.path, gone) if self.spool else batch.path
        orphans = []
        for (schema, revision), count in Counter(
            (c["schema"], c["revision"]) for c in gone
        ).items():
            log.error(
                "spooled batch %s holds %d events of schema %s revision %s, which is no longer "
                "in the registry: set aside in %s, counted as store errors (restore the schema "
                "and rename the file to .jsonl to store them)",
                batch.path.name, count, schema, revision, aside.name,
            )  # fmt: skip
            message = f"schema {schema}/{revision} is no longer in the registry; set aside in "
            orphans += [
                Outcome(c, self._store_error(c, message + aside.name))
                for c in gone
                if (c["schema"], c["revision"]) == (schema, revision)
            ]
        return known, counted, orphans

    def _registered(self, capsule: dict) -> bool:
        try:
            return self.registry.get(capsule["schema"], capsule["revision"]) is not None
        except SchemaError:
            return False

    def _commit(
        self,
        capsules: list[dict],
        counted: Pending,
        spooled: bool = False,
        orphans: list[Outcome] | None = None,
        ahead: LoadAhead | None = None,
    ) -> None:
        """Insert in one transaction with the counts of the batch, counting per schema (the
        rows ``ahead`` made as they came are not made again).  Raises StoreUnavailable."""
        if not capsules and not counted and not orphans:
            return
        store = self._current()
        if not self._counts_ready:
            create_counts_tables(store)
            self._counts_ready = True
        groups: dict[tuple[str, str], list[dict]] = {}
        for capsule in capsules:
            key = (capsule["schema"], capsule["revision"])
            group = groups.get(key)
            if group is None:
                groups[key] = [capsule]
            else:
                group.append(capsule)
        rows: dict[TableLayout, list[list]] = {}
        kept: dict[TableLayout, list[dict]] = {}
        rejected: list[tuple[dict, str]] = []  # reported only once the batch is committed
        for (schema, revision), group in groups.items():
            layout = self._layout(schema, revision)
            if isinstance(layout, StoreError):
                rejected += [(capsule, str(layout)) for capsule in group]
                continue
            built = ahead.built((schema, revision), layout, group) if ahead else None
            if built is None:
                built = layout.rows(group)
            rejected += built.refused
            if built.rows:  # a table whose every row was refused gets no statement
                rows[layout], kept[layout] = built.rows, built.kept
        early = [Outcome(capsule, self._store_error(capsule, m)) for capsule, m in rejected]
        early += orphans or []
        valid = valid_by_hour(
            [(schema, group) for (schema, _), group in groups.items()]
            + [(o.capsule["schema"], [o.capsule]) for o in orphans or []]
        )

        def outcomes(result: InsertResult) -> list[Outcome]:
            found = early + [
                Outcome(kept[r.layout][r.index], self._store_error(kept[r.layout][r.index],
                        r.message)) for r in result.rejected
            ]  # fmt: skip
            for duplicate in result.duplicates:
                capsule = kept[duplicate.layout][duplicate.index]
                found.append(Outcome(capsule, self._duplicate_error(capsule, duplicate.differs)))
            return found

        found: list[Outcome] = []  # of the transaction that committed: its bookkeeping's

        def bookkeeping(result: InsertResult) -> list:
            found[:] = outcomes(result)
            counted_valid, counted_found = valid, found
            if not self.count_replays:
                counted_valid, counted_found = without_duplicates(valid, found)
            counts, errors = batch_rows(
                self.instance, counted, counted_valid, counted_found, spooled
            )
            return count_statements(store.dialect, counts, errors)

        try:
            result = store.insert(rows, bookkeeping)
        except TableMissing:  # the counts tables were dropped while we ran: make them again
            log.warning("the counts tables are missing; creating them again")
            create_counts_tables(store)
            result = store.insert(rows, bookkeeping)
        for outcome in found:
            counts = self.counters.schema(outcome.capsule["schema"])
            if outcome.duplicate:
                counts.duplicate += 1
            if outcome.error is not None:
                counts.errors[(outcome.error.code, None)] += 1
                self.on_error(outcome.error)
        for layout, count in result.inserted.items():
            self.counters.schema(kept[layout][0]["schema"]).inserted += count
        if groups and not spooled:
            self._busiest = max(groups, key=lambda key: len(groups[key]))

    def _layout(self, schema: str, revision: str) -> TableLayout | StoreError:
        try:
            compiled = self.registry.get(schema, revision)
            if compiled is None:  # validated moments ago: only a registry gone away does this
                raise StoreError(f"schema {schema}/{revision} is no longer in the registry")
            layout = self._current().layout(schema, revision, compiled.schema)
        except (StoreError, SchemaError) as exc:
            log.error("cannot store %s/%s: %s", schema, revision, exc)
            return exc if isinstance(exc, StoreError) else StoreError(str(exc))
        self._record_sample_rate(schema, revision, layout)
        self._ready[(schema, revision)] = layout  # made, its rate recorded: nothing to do
        return layout

    def _record_sample_rate(self, schema: str, revision: str, layout: TableLayout) -> None:
        """Keep the rate in force beside the data, and make a change to it loud."""
        if self._sample_rate_for is None:
            return
        rate = self._sample_rate_for(schema)
        if self._recorded_rates.get((schema, revision)) == rate:
            return
        previous = record_sample_rate(self._current(), schema, revision, rate)
        self._recorded_rates[(schema, revision)] = rate
        if previous is None:
            return
        if has_rows(self._current(), layout.name):
            log.error(
                "sample rate of %s/%s changed from 1 in %d to 1 in %d although its table already "
                "has rows; the change is recorded in el_monitor_sampling (see `el-monitor "
                "schemas`)",
                schema,
                revision,
                previous,
                rate,
            )
        else:
            log.info("sample rate of %s/%s is now 1 in %d", schema, revision, rate)

    @staticmethod
    def _store_error(capsule: dict, message: str, code: str = STORE) -> EventError:
        raw = capsule_json(capsule).decode()
        return EventError(raw, message, code, capsule["schema"], capsule["revision"])

    @classmethod
    def _duplicate_error(cls, capsule: dict, differs: tuple[str, ...]) -> EventError | None:
        """None for a replay (the stored row is this one); an error when another event holds
        the uuid (its columns named, not its values: they may be a user's)."""
        if not differs:
            return None
        message = (
            f"uuid {capsule['uuid']} is stored already with different content "
            f"(differs in {', '.join(differs)}); this event was not stored"
        )
        return cls._store_error(capsule, message, DUPLICATE)
