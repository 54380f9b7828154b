"""The store sink: batches valid capsules, commits them, and spools when the database is away.

A flush groups the batch by schema revision, builds rows against each table's real layout and
inserts them in one transaction.  When the database cannot be reached the batch goes to the
spool (or, without one, waits and retries), and later flushes drain the spool oldest first.
Only after a flush is durable does the source's checkpoint move.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable

from el_monitor.counts.counters import Counters
from el_monitor.errors import STORE, EventError
from el_monitor.event.jsontext import capsule_json
from el_monitor.ingest.spool import Spool
from el_monitor.schema.registry import SchemaRegistry
from el_monitor.store import Store, StoreError, StoreUnavailable, TableLayout
from el_monitor.store.catalogue import has_rows
from el_monitor.store.sampling import record_sample_rate

log = logging.getLogger(__name__)


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


class StoreWriter:
    """Owns the batch of valid capsules between validation and the database."""

    def __init__(
        self,
        store: Store,
        registry: SchemaRegistry,
        counters: Counters,
        on_error: Callable[[EventError], None],
        spool: Spool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.registry = registry
        self.counters = counters
        self.on_error = on_error
        self.spool = spool
        self.clock = clock
        self._sample_rate_for: Callable[[str], int] = lambda schema: 1
        self._recorded_rates: dict[tuple[str, str], int] = {}
        self.backoff = Backoff()
        self.batch: list[dict] = []
        self.started = 0.0  # clock() when the batch got its first capsule
        # Spool files waiting, including any an earlier run left behind.
        self.backlog = len(spool) if spool is not None else 0

    def set_sample_rates(self, rate_for: Callable[[str], int]) -> None:
        """The sample rates of the policy now in force; each revision's rate is recorded
        beside its data at its next commit (and a change of it made loud)."""
        self._sample_rate_for = rate_for

    def add(self, capsule: dict) -> None:
        if not self.batch:
            self.started = self.clock()
        self.batch.append(capsule)

    def age(self) -> float:
        return self.clock() - self.started if self.batch else 0.0

    def due(self, batch_size: int, flush_interval: float) -> bool:
        """Whether a flush is due: a full batch, an old one, or a spool the store can drain."""
        if len(self.batch) >= batch_size or (self.batch and self.age() >= flush_interval):
            return True
        return bool(self.backlog) and self._store_ready()

    def can_flush(self) -> bool:
        """Whether a flush now could make the batch durable (else it could only wait)."""
        return self.spool is not None or self._store_ready()

    def flush(self, stop: threading.Event | None = None) -> int:
        """Make the batch durable: committed, or spooled.  Without a (working) spool, retry
        with backoff until the database returns or ``stop`` is set.  Returns the number of
        events left pending, which stay in the batch."""
        capsules, self.batch = self.batch, []
        if self._store_ready():
            self._drain_spool()
        while True:
            if self._store_ready():
                try:
                    self._commit(capsules)
                    self.backoff.succeeded()
                    return 0
                except StoreUnavailable as exc:
                    self._unavailable(exc)
            if self._spool(capsules):
                return 0
            if stop is not None and stop.is_set() or not capsules:
                self.batch = capsules + self.batch
                return len(capsules)
            wait = max(0.0, self.backoff.next_attempt - self.clock())
            if stop is not None:
                stop.wait(wait)
            else:
                time.sleep(wait)

    def _store_ready(self) -> bool:
        return self.clock() >= self.backoff.next_attempt

    def _unavailable(self, exc: StoreUnavailable) -> None:
        self.backoff.failed(self.clock())
        log.warning("database unavailable (%s); retrying in %.0f s", exc, self.backoff.delay)

    def _spool(self, capsules: list[dict]) -> bool:
        """Whether the batch is now safe in the spool (a full disk means it is not)."""
        if self.spool is None:
            return False
        if capsules:
            try:
                self.spool.put(capsules)
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
        for path, capsules in self.spool.batches():
            try:
                self._commit(capsules)
            except StoreUnavailable as exc:
                self._unavailable(exc)
                return
            self.spool.done(path)
            log.info("drained %d spooled events from %s", len(capsules), path.name)
        self.backlog = len(self.spool)  # what is left on disk: set-aside files are not

    def _commit(self, capsules: list[dict]) -> None:
        """Insert in one transaction, counting per schema.  Raises StoreUnavailable."""
        rows: dict[TableLayout, list[list]] = defaultdict(list)
        kept: dict[TableLayout, list[dict]] = defaultdict(list)
        layouts: dict[tuple[str, str], TableLayout | StoreError] = {}
        rejected: list[tuple[dict, str]] = []  # reported only once the batch is committed
        for capsule in capsules:
            key = (capsule["schema"], capsule["revision"])
            layout = layouts.get(key)
            if layout is None:
                layout = layouts[key] = self._layout(*key)
            try:
                if isinstance(layout, StoreError):
                    raise layout
                row = layout.row(capsule)  # before rows[layout]: a refusal must not add a table
            except StoreError as exc:
                rejected.append((capsule, str(exc)))
                continue
            rows[layout].append(row)
            kept[layout].append(capsule)
        result = self.store.insert(rows)
        rejected += [(kept[r.layout][r.index], r.message) for r in result.rejected]
        for capsule, message in rejected:
            self._reject(capsule, message)
        for layout, count in result.inserted.items():
            self.counters.schema(kept[layout][0]["schema"]).inserted += count

    def _layout(self, schema: str, revision: str) -> TableLayout | StoreError:
        compiled = self.registry.get(schema, revision)
        try:
            if compiled is None:  # validated moments ago: only a registry gone away does this
                raise StoreError(f"schema {schema}/{revision} is no longer in the registry")
            layout = self.store.layout(schema, revision, compiled.schema)
        except StoreError as exc:
            log.error("cannot store %s/%s: %s", schema, revision, exc)
            return exc
        self._record_sample_rate(schema, revision, layout)
        return layout

    def _record_sample_rate(self, schema: str, revision: str, layout: TableLayout) -> None:
        """Keep the rate in force beside the data, and make a change to it loud."""
        rate = self._sample_rate_for(schema)
        if self._recorded_rates.get((schema, revision)) == rate:
            return
        previous = record_sample_rate(self.store, schema, revision, rate)
        self._recorded_rates[(schema, revision)] = rate
        if previous is None:
            return
        if has_rows(self.store, layout.name):
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

    def _reject(self, capsule: dict, message: str) -> None:
        counts = self.counters.schema(capsule["schema"])
        counts.errors[(STORE, None)] += 1
        raw = capsule_json(capsule).decode()
        self.on_error(EventError(raw, message, STORE, capsule["schema"], capsule["revision"]))
