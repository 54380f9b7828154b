"""``backup compare``: table rows compared per second over 1M NavigationTiming rows
(``retention_data``'s realistic page loads, 55 columns), twice: two scratch databases of the
shared server holding the same rows (``--no-replication``), and a private primary with its
GTID replica (ROW binlogs, the rows replicated; the tests' harness starts both, with buffer
pools that hold the table).  Each against ``CHECKSUM TABLE`` of both copies at once, measured
in the same run: the server's own full-row checksum, which reads and hashes the same rows in C
with no ranges and no SQL expression (a ceiling).  A bare ``COUNT(*)`` of both through the
primary key (every row read, nothing hashed) is shown too.

The compare runs as ``el-monitor backup compare`` runs it (``compare_tables``, default chunk
size, both servers queried at once; the replica's replication checked first).  It must find
the copies the same, then exactly the one chunk holding a row changed in the copy: otherwise
the figure is WRONG.

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
from bench_stores import run_alone, scratch_database
from measure import log, use_test_harness
from results import Figure, Planned, Reference, at_least

from el_monitor.backup.compare import SAME, CompareOptions, TableResult, compare_tables
from el_monitor.backup.replication import RUNNING, replication_of
from el_monitor.schema.registry import SchemaRegistry
from el_monitor.store import Store, open_store

RATE = "rows/s"
COMPARE = Planned("backup compare (2 databases)", RATE, at_least(500_000, RATE))
REPLICA = Planned("backup compare (primary -> replica)", RATE, at_least(500_000, RATE))
POOL = "--innodb-buffer-pool-size=1G"  # the table and its indexes stay in memory
RUNS = 2
TABLE = data.SANITIZED_TABLE


def compare(registry: SchemaRegistry, url: str | None, rows: int, seed: int = 1) -> list[Figure]:
    if url is None:
        return [p.not_measured("skipped (--no-mysql)") for p in (COMPARE, REPLICA)]
    return [*_databases(registry, url, rows, seed), *_replicated(registry, rows, seed)]


def _databases(registry: SchemaRegistry, url: str, rows: int, seed: int) -> list[Figure]:
    try:
        open_store(url).close()
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server: not measured
        return [COMPARE.not_measured(f"not measured: {exc}")]
    with scratch_database(url) as first, scratch_database(url) as second:
        primary, copy = open_store(first), open_store(second)
        try:
            log(f"compare: seeding {rows:,} NavigationTiming rows and a copy of them ...")
            _seed(registry, primary, rows, seed)
            _copy_table(primary, copy)
            return _measure(COMPARE, primary, copy, rows, "")
        finally:
            primary.close()
            copy.close()


def _replicated(registry: SchemaRegistry, rows: int, seed: int) -> list[Figure]:
    use_test_harness(corpus_events.ROOT)
    from harness.mariadb import MariaDBServer, missing_reason

    reason = missing_reason()
    if reason:
        return [REPLICA.not_measured(f"not measured: {reason}")]
    with (
        tempfile.TemporaryDirectory(prefix="el-bench-compare-") as tmp,
        MariaDBServer(Path(tmp) / "primary", 1, (POOL,)) as first,
        MariaDBServer(Path(tmp) / "replica", 2, (POOL,)) as second,
    ):
        second.replicate_from(first)
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
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    data.seed_table(store, registry, data.Events(seed), data.SANITIZED, rows, now)


def _measure(
    planned: Planned, primary: Store, copy: Store, rows: int, problem: str
) -> list[Figure]:
    """Both figures of one pair of servers: the compare's best of RUNS, the bare count."""
    checksum_table = _both(primary, copy, lambda s: s.query(f"CHECKSUM TABLE `{TABLE}`"))
    count = _both(
        primary, copy, lambda s: s.query(f"SELECT COUNT(*) FROM `{TABLE}` FORCE INDEX (PRIMARY)")
    )
    options = CompareOptions(wait_for_replica=planned is REPLICA)
    best = float("inf")
    for _ in range(RUNS):
        log(f"compare: {planned.name} ...")
        start = time.perf_counter()
        results = compare_tables(primary, copy, options=options)
        best = min(best, time.perf_counter() - start)
        problem = problem or _not_same(results, rows)
    problem = problem or _changed_row_missed(primary, copy, rows, options)
    ceiling = Reference("CHECKSUM TABLE of both at once", rows / checksum_table)
    return [
        planned.measured(
            rows / best,
            f"best of {RUNS}, {rows:,} rows, {options.chunk_size:,}-id chunks",
            ceiling,
            problem,
        ),
        Figure(
            "  COUNT(*) by primary key, both at once",
            rows / count,
            RATE,
            "1 run, every row read, nothing hashed",
            ceiling,
        ),
    ]


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


def _not_same(results: list[TableResult], rows: int) -> str:
    [result] = results
    if result.state != SAME or result.rows != rows:
        return f"copies compared as {result.state}, {result.rows:,} rows of {rows:,}"
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
