"""MariaDB at bulk speed: ``forward`` of real-size NavigationTiming events (``retention_data``'s
page loads: about 1 KB a line, 30 and more fields) into MariaDB, through the MySQL store's LOAD
DATA path and through its INSERT statements, against the ceiling: ``LOAD DATA LOCAL INFILE`` of
the same rows from a file by a bare client.  The store alone too (rows built beforehand,
``Store.insert`` of forwarder-sized batches) on both paths, to tell its share from the
pipeline's.  Runs are interleaved (ceiling, LOAD DATA, INSERTs, three rounds) and each figure
is the best of its three, so a burst of load on a shared machine moves one round, not a ratio.

    EL_TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/test python benchmarks/bench_mysql_bulk.py \
        --rows 100000
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import orjson
import pymysql
from bench_stores import MemorySource, event_rows, run_alone, scratch_database
from corpus_events import START
from measure import REPEAT, Run, timed
from results import Figure, Reference, ratio_at_least
from retention_data import SANITIZED, Events

from el_monitor.ingest.forwarder import Forwarder, ForwarderSettings
from el_monitor.schema.registry import SchemaRegistry
from el_monitor.store.mysql import MySQLStore
from el_monitor.store.mysql_text import LOAD_FORMAT, boolean_positions, load_text

ROWS = "rows/s"
BATCH = ForwarderSettings(host="bench").batch_size  # what a forwarder hands the store at once


def capsules(rows: int, seed: int) -> list[dict]:
    events = Events(seed)
    return [events.capsule(*SANITIZED, START + i // 1000) for i in range(rows)]


def forward(registry: SchemaRegistry, url: str, lines: list[bytes], bulk: bool) -> Run:
    """A Forwarder over ``lines`` in memory into a scratch database, the rows then counted."""
    with scratch_database(url) as scratch:
        store = MySQLStore(scratch, bulk=bulk)
        inserted = 0

        def work() -> int:
            nonlocal inserted
            forwarder = Forwarder(
                ForwarderSettings(host="bench"), MemorySource(lines), registry, store
            )
            inserted = forwarder.run(threading.Event()).counts.get("overall", "inserted")
            return len(lines)

        try:
            rate = timed(work)
        finally:
            store.close()
        return Run(rate, _problem(event_rows(scratch), inserted, len(lines)))


def store_only(registry: SchemaRegistry, url: str, found: list[dict], bulk: bool) -> Run:
    """``Store.insert`` of rows built beforehand, a forwarder's batch at a time."""
    with scratch_database(url) as scratch:
        store = MySQLStore(scratch, bulk=bulk)
        layout = store.layout(*SANITIZED, _schema(registry))
        rows = [layout.row(c) for c in found]

        def work() -> int:
            for start in range(0, len(rows), BATCH):
                store.insert({layout: rows[start : start + BATCH]})
            return len(rows)

        return _checked(scratch, work, store.close, len(found))


def ceiling(registry: SchemaRegistry, url: str, found: list[dict], tmp: Path) -> Run:
    """A bare client's ``LOAD DATA LOCAL INFILE`` of the same rows (the store's own text, from
    a file), in one transaction, into the table the store made."""
    with scratch_database(url) as scratch:
        store = MySQLStore(scratch)
        try:
            layout = store.layout(*SANITIZED, _schema(registry))
            path = tmp / "rows.txt"
            path.write_bytes(load_text([layout.row(c) for c in found], boolean_positions(layout)))
        finally:
            store.close()
        conn = pymysql.connect(**_params(scratch), local_infile=True, autocommit=False)
        columns = ", ".join(f"`{name}`" for name in layout.column_names)
        statement = (
            f"LOAD DATA LOCAL INFILE '{path}' IGNORE INTO TABLE `{layout.name}` "
            f"CHARACTER SET utf8mb4 {LOAD_FORMAT} ({columns})"
        )

        def work() -> int:
            with conn.cursor() as cursor:
                cursor.execute(statement)
            conn.commit()
            return len(found)

        return _checked(scratch, work, conn.close, len(found))


def mysql_bulk(registry: SchemaRegistry, url: str, rows: int, seed: int) -> list[Figure]:
    found = capsules(rows, seed)
    lines = [orjson.dumps(c) for c in found]
    runs: dict[str, list[Run]] = {}
    with tempfile.TemporaryDirectory(prefix="el-bench-load-") as tmp:
        measures: dict[str, Callable[[], Run]] = {
            "ceiling": lambda: ceiling(registry, url, found, Path(tmp)),
            "forward bulk": lambda: forward(registry, url, lines, bulk=True),
            "forward inserts": lambda: forward(registry, url, lines, bulk=False),
            "store bulk": lambda: store_only(registry, url, found, bulk=True),
            "store inserts": lambda: store_only(registry, url, found, bulk=False),
        }
        for _ in range(REPEAT):
            for name, measure in measures.items():
                runs.setdefault(name, []).append(measure())
    best = {name: max(r.rate for r in taken) for name, taken in runs.items()}
    problem = {
        name: next((r.problem for r in taken if r.problem), "") for name, taken in runs.items()
    }
    load = Reference("LOAD DATA", best["ceiling"])
    taken = f"best of {REPEAT}"
    nav = f"NavigationTiming ({len(lines[0]) // 10 * 10}+ B a line)"

    def figure(name: str, key: str, target: bool = False) -> Figure:
        goal = ratio_at_least(0.60, "LOAD DATA") if target else None
        return Figure(name, best[key], ROWS, taken, load, goal, problem[key])

    return [
        figure(f"LOAD DATA LOCAL INFILE of {nav} rows", "ceiling"),
        figure(f"forward {nav} -> MariaDB, LOAD DATA path", "forward bulk", target=True),
        figure("  the same, INSERT statements (before)", "forward inserts"),
        figure(f"Store.insert of {BATCH:,}-row batches, LOAD DATA path", "store bulk"),
        figure("  the same, INSERT statements (before)", "store inserts"),
    ]


def _checked(scratch: str, work: Callable[[], int], close: Callable[[], None], sent: int) -> Run:
    """``work`` timed, then ``close``; the rows it left in ``scratch`` counted."""
    try:
        rate = timed(work)
    finally:
        close()
    count = event_rows(scratch)
    return Run(rate, _problem(count, count, sent))


def _schema(registry: SchemaRegistry) -> dict:
    found = registry.get(*SANITIZED)
    assert found is not None, SANITIZED
    return found.schema


def _params(url: str) -> dict:
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 3306,
        "user": unquote(parts.username or "root"),
        "password": unquote(parts.password or ""),
        "database": parts.path.lstrip("/"),
        "charset": "utf8mb4",
    }


def _problem(rows: int, inserted: int, expected: int) -> str:
    if rows == inserted == expected:
        return ""
    return f"{rows:,} rows committed, {inserted:,} counted inserted, {expected:,} sent"


if __name__ == "__main__":
    run_alone(__doc__.split("\n\n")[0], mysql_bulk)
