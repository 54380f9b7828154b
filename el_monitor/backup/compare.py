"""Is a replica's copy of the event tables the primary's?  Compared chunk by chunk, on the
servers: each side answers a count and an XOR of row checksums per primary-key range
(``store.checksum``), and only those numbers cross the network.  Each server works through a
table's ranges on a thread of its own, so both are busy at once and neither waits for the
other range by range.

What is compared, per table:

* ids up to the replica's largest id when the comparison starts: every row, every column;
* ids beyond it (what the replica may not have applied yet, and rows only the replica has):
  only rows whose ``timestamp`` is older than the lag allowance (or NULL).  Rows newer than
  that are left out and counted as such; an old row missing there is a difference.

A quiet table (nothing written within the lag allowance, the replica holding the primary's
ids up to the last) is first compared whole, as mysqldbcompare does: ``CHECKSUM TABLE`` and a
count on each side, about 1.7 times as fast as the ranges.  Most tables are old schema
revisions that no longer change.  Only when the two sums differ (or cannot agree: columns in
another order) is it compared range by range, so a difference is still located to its
chunks.  Tables of more than ``whole_table_max`` ids go by ranges, so no statement runs long.

A chunk that differs while the replica replicates is checked again once the replica has
applied everything the primary had written by then (a GTID wait of at most ``wait_seconds``),
so a change still on its way is not reported; what still differs is.  Chunk bounds come from the
primary's primary-key index (``store.checksum.chunks``), ``chunk_size`` ids wide.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import NamedTuple, TypeVar

from el_monitor.event.capsule import mediawiki_timestamp
from el_monitor.progress import ProgressSink
from el_monitor.store import Store
from el_monitor.store.base import TableColumn
from el_monitor.store.checksum import (
    IdSpan,
    RangeChecksum,
    chunks,
    count_range,
    id_span,
    newest_timestamp,
    range_checksum,
    require_mysql,
    table_checksum,
)
from el_monitor.store.replication import gtid_binlog_pos, wait_for_gtid
from el_monitor.store.retention_rows import event_tables

SAME = "same"
DIFFERS = "differs"
MISSING_ON_REPLICA = "missing on replica"
MISSING_ON_PRIMARY = "missing on primary"
COLUMNS_DIFFER = "columns differ"
SKIPPED = "skipped"
DIFFERENCES = frozenset({DIFFERS, MISSING_ON_REPLICA, MISSING_ON_PRIMARY, COLUMNS_DIFFER})
WHOLE_TABLE = "whole table (CHECKSUM TABLE)"  # the note of a table found the same at once
RECHECKS = 3  # a chunk that keeps changing under load is reported after this many tries

T = TypeVar("T")


@dataclass(frozen=True)
class CompareOptions:
    chunk_size: int = 100_000
    lag_allowance: float = 300.0  # seconds: rows with a newer timestamp may be unapplied
    wait_for_replica: bool = True  # recheck a differing chunk after a GTID wait
    wait_seconds: float = 10.0  # at most this long a wait: a replica further behind differs
    now: float | None = None  # epoch seconds the allowance counts back from; None: now
    # A quiet table of at most this many ids: CHECKSUM TABLE before any range (0: never).
    # One statement a side for all of it: ten million rows take a few seconds to a minute.
    whole_table_max: int = 10_000_000


class ChunkDiff(NamedTuple):
    first: int
    last: int
    primary: RangeChecksum
    replica: RangeChecksum


class TableResult(NamedTuple):
    table: str
    state: str  # SAME, DIFFERS, MISSING_ON_*, COLUMNS_DIFFER or SKIPPED
    rows: int = 0  # rows compared (the primary's)
    left_out: int = 0  # the primary's rows newer than the allowance, not compared
    chunks: tuple[ChunkDiff, ...] = ()
    note: str = ""


class _Sides:
    """The two servers, each with a thread of its own that runs its statements in the order
    given: a side goes on to its next chunk without waiting for the other to finish this one.
    (The caller uses a store only while its thread is idle.)"""

    def __init__(self, primary: Store, replica: Store, pools: Sequence[ThreadPoolExecutor]):
        self.primary, self.replica, self._pools = primary, replica, pools

    def submit(self, call: Callable[..., T], *args: object) -> tuple[Future[T], Future[T]]:
        """``call(store, *args)`` queued on each side."""
        return (
            self._pools[0].submit(call, self.primary, *args),
            self._pools[1].submit(call, self.replica, *args),
        )

    def both(self, call: Callable[..., T], *args: object) -> tuple[T, T]:
        """``call(store, *args)`` on each side, at once; both results."""
        first, second = self.submit(call, *args)
        return first.result(), second.result()


def compare_tables(
    primary: Store,
    replica: Store,
    tables: Sequence[str] = (),
    options: CompareOptions | None = None,
    progress: ProgressSink | None = None,
) -> list[TableResult]:
    """Every event table of either side (and ``tables``), or only ``tables`` when given."""
    options = options or CompareOptions()
    require_mysql(primary), require_mysql(replica)
    pools = [ThreadPoolExecutor(1, thread_name_prefix=side) for side in ("primary", "replica")]
    try:
        sides = _Sides(primary, replica, pools)
        found = sides.both(event_tables)
        names = list(tables) or sorted(set(found[0]) | set(found[1]), key=str.lower)
        if progress is not None:
            progress.set_total(sum(_row_estimate(primary, n, found[0]) for n in names))
        cutoff = mediawiki_timestamp(int((options.now or time.time()) - options.lag_allowance))
        return [_compare(sides, name, found, cutoff, options, progress) for name in names]
    finally:
        for pool in pools:  # after a failure: what is still queued is not run
            pool.shutdown(cancel_futures=True)


def _row_estimate(store: Store, table: str, tables: dict[str, dict[str, str]]) -> int:
    span = id_span(store, table) if table in tables else None
    return 0 if span is None else span.last - span.first + 1


def _compare(
    sides: _Sides,
    table: str,
    found: tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]],
    cutoff: str,
    options: CompareOptions,
    progress: ProgressSink | None,
) -> TableResult:
    on_primary, on_replica = (table in side for side in found)
    if not on_primary and not on_replica:
        return TableResult(table, SKIPPED, note="not an event table on either server")
    if not on_replica:
        return TableResult(table, MISSING_ON_REPLICA)
    if not on_primary:
        return TableResult(table, MISSING_ON_PRIMARY)
    columns, replica_columns = sides.both(_columns, table)
    if set(columns) != set(replica_columns):
        differ = sorted({c.name for c in set(columns) ^ set(replica_columns)})
        return TableResult(table, COLUMNS_DIFFER, note="not alike on both: " + ", ".join(differ))
    replica_span = id_span(sides.replica, table)  # first: what it had applied when we began
    primary_span = id_span(sides.primary, table)
    # CHECKSUM TABLE follows the column order: only columns listed alike can agree.
    if columns == replica_columns and primary_span == replica_span:
        same = _same_whole(sides, table, primary_span, cutoff, options, progress)
        if same is not None:
            return same
    ranges = list(_ranges(sides.primary, table, primary_span, replica_span, options, cutoff))
    queued = [
        sides.submit(range_checksum, table, chunk.first, chunk.last, columns, before)
        for chunk, before in ranges
    ]
    sums = []
    for (chunk, _), (primary_sum, replica_sum) in zip(ranges, queued, strict=True):
        sums.append((primary_sum.result(), replica_sum.result()))
        if progress is not None:
            progress.advance(chunk.last - chunk.first + 1, note=table)
    diffs: list[ChunkDiff] = []
    rows = left_out = 0
    for (chunk, before), pair in zip(ranges, sums, strict=True):
        if pair[0] != pair[1] and options.wait_for_replica:
            pair = _recheck(sides, table, chunk, columns, before, options.wait_seconds)
        if pair[0] != pair[1]:
            diffs.append(ChunkDiff(chunk.first, chunk.last, *pair))
        rows += pair[0].rows
        if before is not None:
            left_out += count_range(sides.primary, table, chunk.first, chunk.last) - pair[0].rows
    return TableResult(table, DIFFERS if diffs else SAME, rows, left_out, tuple(diffs))


def _same_whole(
    sides: _Sides,
    table: str,
    span: IdSpan | None,
    cutoff: str,
    options: CompareOptions,
    progress: ProgressSink | None,
) -> TableResult | None:
    """``table`` found the same at once, or None: it is empty or larger than allowed, was
    written to within the lag allowance (its newest timestamp is not older), or its
    whole-table sums differ."""
    width = 0 if span is None else span.last - span.first + 1
    if not 0 < width <= options.whole_table_max:
        return None
    newest = newest_timestamp(sides.primary, table)
    if newest is not None and newest >= cutoff:
        return None
    primary, replica = sides.both(table_checksum, table)
    if primary != replica:
        return None
    if progress is not None:
        progress.advance(width, note=table)
    return TableResult(table, SAME, primary.rows, note=WHOLE_TABLE)


def _columns(store: Store, table: str) -> list[TableColumn]:
    """``table``'s columns, names and types in lower case: alike on both sides or not."""
    return [TableColumn(c.name.lower(), c.sql_type.lower()) for c in store.columns(table)]


def _ranges(
    primary: Store,
    table: str,
    primary_span: IdSpan | None,
    replica_span: IdSpan | None,
    options: CompareOptions,
    cutoff: str,
) -> Iterator[tuple[IdSpan, str | None]]:
    """(id range, rows before which timestamp or None for all) in id order: the ids both
    sides should have in full, then the tail where only rows older than ``cutoff`` count."""
    spans = [s for s in (primary_span, replica_span) if s is not None]
    if not spans:
        return
    first = min(s.first for s in spans)
    applied = min(s.last for s in spans) if len(spans) == 2 else first - 1
    end = max(s.last for s in spans)
    for chunk in chunks(primary, table, IdSpan(first, applied), options.chunk_size):
        yield chunk, None
    if end > applied:
        for chunk in chunks(primary, table, IdSpan(applied + 1, end), options.chunk_size):
            yield chunk, cutoff


def _recheck(
    sides: _Sides,
    table: str,
    chunk: IdSpan,
    columns: Sequence[TableColumn],
    before: str | None,
    wait: float,
) -> tuple[RangeChecksum, RangeChecksum]:
    """The chunk's sums again, the replica's read once it has applied everything the
    primary had written when the primary's were read; a few times while they differ and the
    replica keeps up (a wait that times out ends it: the replica is too far behind)."""
    for _ in range(RECHECKS):
        ours = range_checksum(sides.primary, table, chunk.first, chunk.last, columns, before)
        caught_up = wait_for_gtid(sides.replica, gtid_binlog_pos(sides.primary), wait)
        theirs = range_checksum(sides.replica, table, chunk.first, chunk.last, columns, before)
        if ours == theirs or not caught_up:
            break
    return ours, theirs
