"""Backfill: ``backup.backfill.Backfill`` storing a forwarder's valid log into an empty SQLite
database, in valid events/s, against the forwarder's own rate on the same events (a run with
its event logs on, into an empty database, rows committed); and a second backfill over the same
log, where every uuid is present.  Counts and rows are checked against the corpus's valid
count, so a fast but wrong run shows WRONG."""

from __future__ import annotations

import datetime
import threading
import time
from itertools import count
from pathlib import Path

from bench_stores import MemorySource, event_rows, remove_sqlite
from corpus_events import START
from measure import REPEAT, Run, best_of
from results import EVENTS, Figure, Reference
from workload import Corpus

from el_monitor.backup.backfill import Backfill, BackfillSettings
from el_monitor.backup.counts import BackfillCounts
from el_monitor.backup.gate import Gate, Window
from el_monitor.backup.logreader import files_for
from el_monitor.catalog.model import empty_catalog
from el_monitor.ingest.forwarder import Forwarder, ForwarderSettings
from el_monitor.ingest.policy import Policy
from el_monitor.schema.registry import SchemaRegistry
from el_monitor.store import open_store

SINCE = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
UNTIL = datetime.datetime(2100, 1, 1, tzinfo=datetime.UTC)
# Retention judged as of the corpus's own day: the figure must not depend on today's date.
AS_OF = datetime.datetime.fromtimestamp(START, datetime.UTC) + datetime.timedelta(days=1)


def backfill(data: Corpus, registry: SchemaRegistry, tmp: Path) -> list[Figure]:
    """The forwarder's rate (best of 3, the first run's valid log kept), then backfill's into
    an empty database (best of 3) and over a full one (every uuid present)."""
    logs = tmp / "backfill-logs"
    runs = count()

    def forwarded() -> Run:
        path = tmp / f"backfill-forward-{next(runs)}.db"
        log_dir = logs if not logs.exists() else tmp / "backfill-logs-discarded"
        try:
            return _forward(data, registry, f"sqlite:///{path}", log_dir)
        finally:
            remove_sqlite(path)

    forward = best_of(forwarded)
    reference = Reference("forwarder, same events", forward.rate)
    full = tmp / "backfill-full.db"

    def into_empty() -> Run:
        path = tmp / f"backfill-{next(runs)}.db"
        try:
            return _backfill(data, registry, f"sqlite:///{path}", logs, data.valid)
        finally:
            remove_sqlite(path)

    empty = best_of(into_empty)
    _backfill(data, registry, f"sqlite:///{full}", logs, data.valid)
    try:
        present = best_of(lambda: _backfill(data, registry, f"sqlite:///{full}", logs, 0))
    finally:
        remove_sqlite(full)
    taken = f"best of {REPEAT}"
    return [
        Figure("forwarder with event logs -> SQLite", forward.rate, EVENTS, taken,
               problem=forward.problem),
        Figure("backfill -> SQLite, all new", empty.rate, EVENTS, taken, reference,
               problem=empty.problem),
        Figure("backfill -> SQLite, all present", present.rate, EVENTS, taken, reference,
               problem=present.problem),
    ]  # fmt: skip


def _forward(data: Corpus, registry: SchemaRegistry, url: str, log_dir: Path) -> Run:
    """Valid events/s of one forwarder run writing its event logs to ``log_dir``."""
    store = open_store(url)
    try:
        settings = ForwarderSettings(host="bench", log_dir=str(log_dir))
        forwarder = Forwarder(settings, MemorySource(data.lines), registry, store)
        start = time.perf_counter()
        result = forwarder.run(threading.Event())
        seconds = time.perf_counter() - start
    finally:
        store.close()
    inserted = result.counts.get("overall", "inserted")
    problem = "" if inserted == data.valid else f"{inserted:,} inserted of {data.valid:,} valid"
    return Run(data.valid / seconds, problem)


def _backfill(data: Corpus, registry: SchemaRegistry, url: str, logs: Path, new: int) -> Run:
    """Valid events/s of one backfill of ``logs`` into ``url``, where ``new`` must be added."""
    store = open_store(url)
    try:
        gate = Gate(Window.of(SINCE, UNTIL), Policy(), empty_catalog(), (), AS_OF)
        settings = BackfillSettings(tuple(files_for(logs, SINCE, UNTIL)))
        start = time.perf_counter()
        counts = Backfill(store, registry, gate, settings).run()
        seconds = time.perf_counter() - start
    finally:
        store.close()
    return Run(data.valid / seconds, _problem(counts, data.valid, new, event_rows(url)))


def _problem(counts: BackfillCounts, valid: int, new: int, rows: int) -> str:
    if (counts.read, counts.inserted, counts.already_present, rows) != (valid, new, valid - new,
                                                                        valid):  # fmt: skip
        return (
            f"read {counts.read:,}, inserted {counts.inserted:,}, present "
            f"{counts.already_present:,}, {rows:,} rows; {valid:,} valid, {new:,} new"
        )
    return ""
