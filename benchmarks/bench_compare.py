"""``backup compare``: rows compared per second between two copies of 1M NavigationTiming rows
(``retention_data``'s realistic page loads, 55 columns), two scratch databases of the server,
against ``CHECKSUM TABLE`` of both copies at once measured in the same run: the server's own
full-row checksum, which reads and hashes the same rows in C with no ranges and no SQL
expression (a ceiling).  A bare ``COUNT(*)`` of both through the primary key (every row read,
nothing hashed) is shown too.

The compare runs as ``el-monitor backup compare --no-replication`` runs it (``compare_tables``,
default chunk size, both databases queried at once).  It must find the copies the same, then
exactly the one chunk holding a row changed in the copy: otherwise the figure is WRONG.

Alone: ``EL_TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/test .venv/bin/python
benchmarks/bench_compare.py [--rows 1000000]``
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import retention_data as data
from bench_stores import run_alone, scratch_database
from measure import log
from results import Figure, Planned, Reference, at_least

from el_monitor.backup.compare import SAME, CompareOptions, TableResult, compare_tables
from el_monitor.schema.registry import SchemaRegistry
from el_monitor.store import Store, open_store

RATE = "rows/s"
COMPARE = Planned("backup compare (2 databases)", RATE, at_least(500_000, RATE))
RUNS = 2
TABLE = data.SANITIZED_TABLE


def compare(registry: SchemaRegistry, url: str | None, rows: int, seed: int = 1) -> list[Figure]:
    if url is None:
        return [COMPARE.not_measured("skipped (--no-mysql)")]
    try:
        open_store(url).close()
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server: not measured
        return [COMPARE.not_measured(f"not measured: {exc}")]
    with scratch_database(url) as first, scratch_database(url) as second:
        primary, copy = open_store(first), open_store(second)
        try:
            return _measure(registry, primary, copy, rows, seed)
        finally:
            primary.close()
            copy.close()


def _measure(
    registry: SchemaRegistry, primary: Store, copy: Store, rows: int, seed: int
) -> list[Figure]:
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    log(f"compare: seeding {rows:,} NavigationTiming rows, then a copy in a second database ...")
    data.seed_table(primary, registry, data.Events(seed), data.SANITIZED, rows, now)
    _copy_table(primary, copy)
    checksum_table = _both(primary, copy, lambda s: s.query(f"CHECKSUM TABLE `{TABLE}`"))
    count = _both(
        primary, copy, lambda s: s.query(f"SELECT COUNT(*) FROM `{TABLE}` FORCE INDEX (PRIMARY)")
    )
    best, problem = float("inf"), ""
    for _ in range(RUNS):
        log("compare: backup compare of the two copies ...")
        start = time.perf_counter()
        results = compare_tables(primary, copy, options=CompareOptions(wait_for_replica=False))
        best = min(best, time.perf_counter() - start)
        problem = problem or _not_same(results, rows)
    problem = problem or _changed_row_missed(primary, copy, rows)
    chunk = CompareOptions().chunk_size
    return [
        COMPARE.measured(
            rows / best,
            f"best of {RUNS}, {rows:,} rows, {chunk:,}-id chunks",
            Reference("CHECKSUM TABLE of both at once", rows / checksum_table),
            problem,
        ),
        Figure(
            "  COUNT(*) by primary key, both at once",
            rows / count,
            RATE,
            "1 run, every row read, nothing hashed",
            Reference("CHECKSUM TABLE of both at once", rows / checksum_table),
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


def _changed_row_missed(primary: Store, copy: Store, rows: int) -> str:
    """One row changed in the copy: exactly the chunk holding it must be listed."""
    [(changed,)] = copy.query(
        f"SELECT id FROM `{TABLE}` ORDER BY id LIMIT 1 OFFSET %s", (rows // 2,)
    )
    copy.execute(f"UPDATE `{TABLE}` SET `event_transferSize` = -1 WHERE id = %s", (changed,))
    [result] = compare_tables(primary, copy, options=CompareOptions(wait_for_replica=False))
    found = [(c.first, c.last, c.primary.rows) for c in result.chunks]
    size = CompareOptions().chunk_size
    if len(found) == 1 and found[0][0] <= changed <= found[0][1] and found[0][2] <= size:
        return ""
    return f"row {changed} changed: chunks {found} listed"


def main() -> None:
    run_alone("the backup compare figure alone", compare)


if __name__ == "__main__":
    main()
