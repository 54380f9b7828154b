"""``backup compare``: table rows compared per second over 1M NavigationTiming rows
(``retention_data``'s realistic page loads, 55 columns), twice: two databases of one private
server holding the same rows (``--no-replication``), and a private primary with its GTID
replica (ROW binlogs, the rows replicated).  The tests' harness starts the servers, with buffer
pools that hold the tables: the figure is the compare's, not the disk's.  Each against
``CHECKSUM TABLE`` of both copies at once, measured in the same run: the server's own
full-row checksum, in C with no ranges and no SQL expression (a ceiling).  A bare ``COUNT(*)``
of both through the primary key (every row read, nothing hashed) is shown too.

The compare runs as ``el-monitor backup compare`` runs it (``compare_tables``, default chunk
size, both servers queried at once; the replica's replication checked first), on a table of
an old revision (its newest row an hour old), which it compares whole at once; and again by
chunks only, as it compares a table still written to.  Each must find the copies the same;
then, with a row changed in the copy, exactly the one chunk holding it: otherwise the figure
is WRONG.

Alone: ``EL_TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/test .venv/bin/python
benchmarks/bench_compare.py [--rows 1000000]``
"""

from __future__ import annotations

import datetime
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import corpus_events
import retention_data as data
from bench_stores import run_alone
from measure import log, use_test_harness
from results import Figure, Planned, Reference, at_least

from el_monitor.backup.compare import (
    SAME,
    WHOLE_TABLE,
    CompareOptions,
    TableResult,
    compare_tables,
)
from el_monitor.backup.replication import RUNNING, replication_of
from el_monitor.schema.registry import SchemaRegistry
from el_monitor.store import Store, open_store
from el_monitor.store.dumps import with_database

RATE = "rows/s"
COMPARE = Planned("backup compare (2 databases)", RATE, at_least(500_000, RATE))
REPLICA = Planned("backup compare (primary -> replica)", RATE, at_least(500_000, RATE))
REPLICA_POOL = "--innodb-buffer-pool-size=1G"  # the table and its indexes stay in memory
DATABASES_POOL = "--innodb-buffer-pool-size=3G"  # both copies do
RUNS = 2
TABLE = data.SANITIZED_TABLE
QUIET = datetime.timedelta(hours=1)  # the newest row's age: no longer written to
COPY = "copy"  # the second database of the two-database figure


def compare(registry: SchemaRegistry, url: str | None, rows: int, seed: int = 1) -> list[Figure]:
    if url is None:
        return [p.not_measured("skipped (--no-mysql)") for p in (COMPARE, REPLICA)]
    use_test_harness(corpus_events.ROOT)
    from harness.mariadb import MariaDBServer, missing_reason

    reason = missing_reason()
    if reason:
        return [p.not_measured(f"not measured: {reason}") for p in (COMPARE, REPLICA)]
    with tempfile.TemporaryDirectory(prefix="el-bench-compare-") as tmp:
        with MariaDBServer(Path(tmp) / "databases", 1, (DATABASES_POOL,)) as server:
            figures = _databases(registry, server.url, rows, seed)
        with (
            MariaDBServer(Path(tmp) / "primary", 1, (REPLICA_POOL,)) as first,
            MariaDBServer(Path(tmp) / "replica", 2, (REPLICA_POOL,)) as second,
        ):
            second.replicate_from(first)
            return [*figures, *_replicated(registry, first, second, rows, seed)]


def _databases(registry: SchemaRegistry, url: str, rows: int, seed: int) -> list[Figure]:
    primary = open_store(url)
    primary.execute(f"CREATE DATABASE `{COPY}`")
    copy = open_store(with_database(url, COPY))
    try:
        log(f"compare: seeding {rows:,} NavigationTiming rows and a copy of them ...")
        _seed(registry, primary, rows, seed)
        _copy_table(primary, copy)
        return _measure(COMPARE, primary, copy, rows, "")
    finally:
        primary.close()
        copy.close()


def _replicated(
    registry: SchemaRegistry, first: Any, second: Any, rows: int, seed: int
) -> list[Figure]:
    primary, replica = open_store(first.url), open_store(second.url)
    try:
        log(f"compare: seeding {rows:,} rows on a private primary, replicated ...")
        _seed(registry, primary, rows, seed)
        second.wait_caught_up(first, timeout=900)
        state = replication_of(primary, replica, first.url)
        problem = "" if state.state == RUNNING else f"replication {state}"
        return _measure(REPLICA, primary, replica, rows, problem)
    finally:
        primary.close()
        replica.close()


def _seed(registry: SchemaRegistry, store: Store, rows: int, seed: int) -> None:
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0) - QUIET
    data.seed_table(store, registry, data.Events(seed), data.SANITIZED, rows, now)


def _measure(
    planned: Planned, primary: Store, copy: Store, rows: int, problem: str
) -> list[Figure]:
    """The figures of one pair of servers: the compare as it runs (the table compared whole)
    and by chunks only, each the best of RUNS; the bare count."""
    checksum_table = _both(primary, copy, lambda s: s.query(f"CHECKSUM TABLE `{TABLE}`"))
    count = _both(
        primary, copy, lambda s: s.query(f"SELECT COUNT(*) FROM `{TABLE}` FORCE INDEX (PRIMARY)")
    )
    replicated = planned is REPLICA
    whole = CompareOptions(wait_for_replica=replicated)
    by_chunks = CompareOptions(wait_for_replica=replicated, whole_table_max=0)
    quick, quick_problem = _best(planned.name, primary, copy, rows, whole, WHOLE_TABLE)
    slow, slow_problem = _best(planned.name + " by chunks", primary, copy, rows, by_chunks, "")
    problem = problem or quick_problem or slow_problem
    problem = problem or _changed_row_missed(primary, copy, rows, whole)
    problem = problem or _changed_row_missed(primary, copy, rows, by_chunks)
    ceiling = Reference("CHECKSUM TABLE of both at once", rows / checksum_table)
    taken = f"best of {RUNS}, {rows:,} rows"
    return [
        planned.measured(rows / quick, f"{taken}, an old revision's: whole", ceiling, problem),
        Figure(
            "  by chunks only, as a table still written to",
            rows / slow,
            RATE,
            f"{taken}, {by_chunks.chunk_size:,}-id chunks",
            ceiling,
            problem=problem,
        ),
        Figure(
            "  COUNT(*) by primary key, both at once",
            rows / count,
            RATE,
            "1 run, every row read, nothing hashed",
            ceiling,
        ),
    ]


def _best(
    name: str, primary: Store, copy: Store, rows: int, options: CompareOptions, note: str
) -> tuple[float, str]:
    """The shortest of RUNS compares, in seconds, and what went wrong: the copies not found
    the same, over ``rows`` rows, with ``note``."""
    best, problem = float("inf"), ""
    for _ in range(RUNS):
        log(f"compare: {name} ...")
        start = time.perf_counter()
        results = compare_tables(primary, copy, options=options)
        best = min(best, time.perf_counter() - start)
        problem = problem or _not_same(results, rows, note)
    return best, problem


def _copy_table(primary: Store, copy: Store) -> None:
    """The seeded table into the second database, as is (ids included): bench SQL."""
    source = f"`{primary.query('SELECT DATABASE()')[0][0]}`.`{TABLE}`"
    copy.execute(f"CREATE TABLE `{TABLE}` LIKE {source}")
    copy.execute(f"INSERT INTO `{TABLE}` SELECT * FROM {source}")


def _both(primary: Store, copy: Store, call: Callable[[Store], Any]) -> float:
    """Seconds ``call`` takes on both stores at once (two connections, two threads)."""
    with ThreadPoolExecutor(1) as pool:
        start = time.perf_counter()
        pending = pool.submit(call, copy)
        call(primary)
        pending.result()
        return time.perf_counter() - start


def _not_same(results: list[TableResult], rows: int, note: str) -> str:
    [result] = results
    if result.state != SAME or result.rows != rows or result.note != note:
        return f"copies compared {result.state} ({result.note}), {result.rows:,} rows of {rows:,}"
    return ""


def _changed_row_missed(primary: Store, copy: Store, rows: int, options: CompareOptions) -> str:
    """One row changed in the copy: exactly the chunk holding it must be listed."""
    [(changed,)] = copy.query(
        f"SELECT id FROM `{TABLE}` ORDER BY id LIMIT 1 OFFSET %s", (rows // 2,)
    )
    copy.execute(f"UPDATE `{TABLE}` SET `event_transferSize` = -1 WHERE id = %s", (changed,))
    [result] = compare_tables(primary, copy, options=options)
    found = [(c.first, c.last, c.primary.rows) for c in result.chunks]
    size = options.chunk_size
    if len(found) == 1 and found[0][0] <= changed <= found[0][1] and found[0][2] <= size:
        return ""
    return f"row {changed} changed: chunks {found} listed"


def main() -> None:
    run_alone("the backup compare figure alone", compare)


if __name__ == "__main__":
    main()
