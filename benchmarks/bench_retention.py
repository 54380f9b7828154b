"""Retention on MariaDB: purge and sanitize rates over rows spread across 200 days, the longest
statement the runs issue, and a forwarder's insert rate into the same tables while retention
runs against the same forwarder alone.

The engine is driven as ``el-monitor retention run --execute --schema S`` drives it
(``plan_run`` then ``run_retention`` with the CLI's pre-steps and default batch size); every
statement goes through a thin timing wrapper on the store (``StatementClock``), so the longest
write transaction (the time its row locks are held, commit included) is measured, not assumed.
Each rate is stated against a ceiling measured in the same run on a copy of the same rows:
bare ``DELETE``/``UPDATE ... WHERE id BETWEEN`` windows of the same batch size.  While the
forwarder is timed, retention runs in a child process (as a cron job would, beside the
forwarder, and without sharing its interpreter lock), each run on a fresh slice of days.

Runnable alone: ``benchmarks/bench_retention.py [--quick]``.
"""

from __future__ import annotations

import argparse
import datetime
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import corpus_events
import retention_data as data
from bench_stores import DEFAULT_MYSQL_URL, MemorySource, scratch_database
from measure import log
from private_mariadb import production_server
from results import EVENTS, Figure, Planned, Reference, at_least, below, ratio_at_least

from el_monitor.catalog.load import load_catalog
from el_monitor.catalog.model import Catalog
from el_monitor.cli.retention import pre_steps
from el_monitor.ingest.forwarder import Forwarder, ForwarderSettings
from el_monitor.retention.engine import BATCH_SIZE, RunResult, plan_run, run_retention
from el_monitor.schema.registry import SchemaRegistry, open_registry, require_schemas
from el_monitor.store import Store, open_store
from el_monitor.store.retention_rows import ANY, FINAL, count_due, due_batch, read_values

RATE = "rows/s"
PURGE = Planned("retention purge (no keep list)", RATE, at_least(50_000, RATE))
SANITIZE = Planned("retention sanitize (keep + hash)", RATE, at_least(30_000, RATE))
LONGEST = Planned("  longest write transaction (locks held)", "s", below(1, "s"))
WITH_RETENTION = "forwarder while retention runs"
CLEANER_PACE = 5_000.0  # rows/s: eventlogging_cleaner's 10k-row batches with a 2 s sleep
PAIRS = 3  # back-to-back forwarder runs alone and beside retention
SLICE_DAYS = 20  # days of rows each concurrent retention run handles
_DDL = ("ALTER", "CREATE", "DROP")


class StatementClock:
    """Times every statement of one store: reads (``query``) and write transactions
    (``execute_all``: all their statements and the commit, i.e. how long row locks are held),
    DDL apart.  Installed on the instance, so the engine's own calls go through it."""

    def __init__(self, store: Store) -> None:
        self.longest: dict[str, tuple[float, str]] = {}
        self.counts: dict[str, int] = {}
        query, execute_all = store.query, store.execute_all

        def timed_query(sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
            start = time.perf_counter()
            try:
                return query(sql, params)
            finally:
                self._record("read", time.perf_counter() - start, sql)

        def timed_all(statements: Any) -> list[int]:
            start = time.perf_counter()
            try:
                return execute_all(statements)
            finally:
                sql = statements[0][0] if statements else ""
                kind = "ddl" if sql.lstrip().upper().startswith(_DDL) else "write"
                self._record(kind, time.perf_counter() - start, sql)

        store.query = timed_query  # type: ignore[method-assign]
        store.execute_all = timed_all  # type: ignore[method-assign]

    def _record(self, kind: str, seconds: float, sql: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if seconds > self.longest.get(kind, (-1.0, ""))[0]:
            self.longest[kind] = (seconds, " ".join(sql.split()[:4])[:60])

    def reset(self) -> None:
        self.longest.clear()
        self.counts.clear()


def run_engine(store: Store, catalog: Catalog, known: set[str], now: datetime.datetime,
               only: str | None = None) -> RunResult:  # fmt: skip
    """``el-monitor retention run --execute [--schema ONLY]``, at ``now``, without its output."""
    plan = plan_run(store, catalog, now, known, execute=True, only=only)
    steps = pre_steps(argparse.Namespace(schema=only, log_dir=None))
    return run_retention(plan, pre_steps=steps, batch_size=BATCH_SIZE)


def retention(registry: SchemaRegistry, url: str | None, rows: int, seed: int = 1) -> list[Figure]:
    planned = (PURGE, SANITIZE, LONGEST)
    if url is None:
        return [p.not_measured("skipped (--no-mysql)") for p in planned]
    try:
        open_store(url).close()
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server: not measured
        return [p.not_measured(f"not measured: {exc}") for p in planned]
    with tempfile.TemporaryDirectory(prefix="el-bench-retention-") as tmp:
        catalog_path = data.catalog_file(Path(tmp))
        with scratch_database(url) as scratch:
            return _measure(registry, scratch, catalog_path, rows, seed)


def _measure(
    registry: SchemaRegistry, url: str, catalog_path: Path, rows: int, seed: int
) -> list[Figure]:
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    catalog = load_catalog(catalog_path, registry)
    known = {name for name, _ in require_schemas(registry, str(corpus_events.SCHEMAS))}
    events = data.Events(seed)
    store = open_store(url)
    try:
        for schema in (data.PURGED, data.SANITIZED):
            log(f"retention: seeding {rows:,} {schema[0]} rows over {data.DAYS} days ...")
            data.seed_table(store, registry, events, schema, rows, now)
        cutoff = data.mediawiki_cutoff(now)
        ceilings = _ceilings(store, cutoff)
        clock = StatementClock(store)
        figures = []
        for planned, table, schema in (
            (PURGE, data.PURGED_TABLE, data.PURGED[0]),
            (SANITIZE, data.SANITIZED_TABLE, data.SANITIZED[0]),
        ):
            due = count_due(store, table, cutoff, ANY).rows
            log(f"retention: {schema}: {due:,} rows due, retention run --execute ...")
            start = time.perf_counter()
            result = run_engine(store, catalog, known, now, only=schema)
            rate = due / (time.perf_counter() - start)
            problem = _purge_problem if planned is PURGE else _sanitize_problem
            taken = (
                f"1 run, {due:,} of {rows:,} rows, <= {BATCH_SIZE:,} a batch "
                f"({rate / CLEANER_PACE:.1f}x eventlogging_cleaner)"
            )
            figures.append(
                planned.measured(
                    rate, taken, ceilings[table], problem(store, table, cutoff, due, rows, result)
                )
            )
        figures.append(
            Figure(
                "  eventlogging_cleaner's pace",
                CLEANER_PACE,
                RATE,
                "stated, not run: 10k-row batches, 2 s sleep",
            )
        )
        longest = dict(clock.longest)
        counts = dict(clock.counts)
    finally:
        store.close()
    pairs = _beside_forwarder(url, registry, catalog_path, events, now, rows)
    return [*figures, *_statement_figures(longest, counts, pairs.longest_write), *pairs.figures]


def _ceilings(store: Store, cutoff: str) -> dict[str, Reference]:
    """Bare DELETE / UPDATE windows over a copy of each table's due rows, the copy dropped
    before the engine runs (it would be an event table to it)."""
    out = {}
    for table, how in ((data.PURGED_TABLE, "DELETE"), (data.SANITIZED_TABLE, "UPDATE")):
        copy = f"bench_ceiling_{table}"
        log(f"retention: ceiling: {how} by id windows on a copy of {table} ...")
        data.copy_table(store, table, copy)
        try:
            if how == "DELETE":
                done, seconds = data.ceiling_delete(store, copy, cutoff, BATCH_SIZE)
            else:
                token = f"event_{data.HASH[0]}"
                done, seconds = data.ceiling_update(store, copy, cutoff, BATCH_SIZE, token)
        finally:
            store.execute(f"DROP TABLE {store.dialect.quote(copy)}")
        out[table] = Reference(f"bare {how} WHERE id BETWEEN, {BATCH_SIZE:,}", done / seconds)
    return out


def _purge_problem(
    store: Store, table: str, cutoff: str, due: int, rows: int, result: RunResult
) -> str:
    deleted = sum(t.deleted for t in result.tables)
    left = count_due(store, table, "99999999999999", ANY).rows
    old = count_due(store, table, cutoff, ANY).rows
    if deleted != due or left != rows - due or old:
        return f"purge: {deleted:,} deleted of {due:,} due, {left:,} rows left, {old:,} past cutoff"
    return ""


def _sanitize_problem(
    store: Store, table: str, cutoff: str, due: int, rows: int, result: RunResult
) -> str:
    """Every due row marked final, none left unmarked; sampled rows: a dropped timing NULL,
    a kept one present, the token a 64-hex HMAC."""
    sanitized = sum(t.sanitized for t in result.tables)
    marked = count_due(store, table, cutoff, FINAL).rows
    left = count_due(store, table, cutoff, None).rows
    if sanitized != due or marked != due or left:
        return f"sanitize: {sanitized:,} sanitized, {marked:,} marked of {due:,}, {left:,} left"
    ids = due_batch(store, table, cutoff, FINAL, 50).ids
    sample = read_values(store, table, ids, ["event_pageviewToken", "event_connectEnd",
                                             "event_responseStart"])  # fmt: skip
    if any(len(str(token)) != 64 or dropped is not None for _, _, token, dropped, _ in sample):
        return "sanitize: a sampled row kept a dropped field or an unhashed token"
    if all(kept is None for *_, kept in sample):
        return "sanitize: kept field responseStart NULL in every sampled row"
    return ""


def _statement_figures(
    longest: dict[str, tuple[float, str]], counts: dict[str, int], child_write: float
) -> list[Figure]:
    """The longest write transaction of every run (the target), then, for information, the
    longest read and the marker's DDL (online on InnoDB: inserts go on while it runs)."""
    write, write_sql = longest.get("write", (0.0, ""))
    taken = f"max of {counts.get('write', 0):,} + concurrent runs' ({child_write:.3f} s)"
    figures = [
        Figure(LONGEST.name, max(write, child_write), "s", taken, target=LONGEST.target,
               problem="" if write_sql else "no write transaction was timed"),
    ]  # fmt: skip
    for kind, name in (("read", "  longest read (no row locks)"), ("ddl", "  longest DDL")):
        if kind in longest:
            seconds, sql = longest[kind]
            figures.append(Figure(name, seconds, "s", f"of {counts[kind]:,}: {sql}"))
    return figures


class _Pairs:
    def __init__(self, figures: list[Figure], longest_write: float) -> None:
        self.figures, self.longest_write = figures, longest_write


def _beside_forwarder(
    url: str,
    registry: SchemaRegistry,
    catalog_path: Path,
    events: data.Events,
    now: datetime.datetime,
    rows: int,
) -> _Pairs:
    """``PAIRS`` rounds of the forwarder alone, then beside a retention run (in a child
    process) over the next ``SLICE_DAYS`` days of both tables; the middle pair's ratio."""
    store = open_store(url)
    try:
        log("retention: forwarder alone, a warm-up to size its runs ...")
        warm = _forward(store, registry, events.lines(5_000, now))
        per_run = rows * SLICE_DAYS // data.DAYS * 2  # rows both tables have due a slice
        lines = max(5_000, int(warm.rate * per_run / 50_000 * 0.5))  # ~half a run at 50k/s
        alone, beside, overlaps, longest, problems = [], [], [], 0.0, []
        for k in range(1, PAIRS + 1):
            log(f"retention: forwarder alone, then beside retention ({k}/{PAIRS}) ...")
            alone.append(_forward(store, registry, events.lines(lines, now)).rate)
            at = now + datetime.timedelta(days=k * SLICE_DAYS)
            run = _forward_beside_retention(store, registry, events.lines(lines, now), url,
                                            catalog_path, at)  # fmt: skip
            beside.append(run.rate)
            overlaps.append(run.overlap)
            longest = max(longest, run.longest_write)
            problems += [p for p in (warm.problem, run.problem) if p]
    finally:
        store.close()
    ratios = [b / a for a, b in zip(alone, beside, strict=True)]
    middle = sorted(range(PAIRS), key=ratios.__getitem__)[PAIRS // 2]
    problem = problems[0] if problems else ""
    base = alone[middle]
    spread = f"{min(ratios):.2f}-{max(ratios):.2f}x"
    return _Pairs(
        [
            Figure(
                "forwarder alone, same tables",
                base,
                EVENTS,
                f"middle of {PAIRS} pairs, {lines:,} events",
                problem=problem,
            ),
            Figure(
                f"  {WITH_RETENTION}",
                beside[middle],
                EVENTS,
                f"same pair (all {spread}; overlap {min(overlaps):.0%})",
                Reference("alone", base),
                ratio_at_least(0.80, "alone"),
                problem,
            ),
        ],  # fmt: skip
        longest,
    )


class _Forwarded:
    def __init__(self, rate: float, problem: str = "", overlap: float = 1.0,
                 longest_write: float = 0.0) -> None:  # fmt: skip
        self.rate, self.problem = rate, problem
        self.overlap, self.longest_write = overlap, longest_write


def _forward(store: Store, registry: SchemaRegistry, lines: list[bytes]) -> _Forwarded:
    """A Forwarder (default settings) over ``lines`` in memory: events/s to the last commit."""
    forwarder = Forwarder(ForwarderSettings(host="bench"), MemorySource(lines), registry, store)
    start = time.perf_counter()
    result = forwarder.run(threading.Event())
    rate = len(lines) / (time.perf_counter() - start)
    inserted = result.counts.get("overall", "inserted")
    if result.pending or inserted != len(lines):
        return _Forwarded(rate, f"forwarder: {inserted:,} of {len(lines):,} inserted")
    return _Forwarded(rate)


def _forward_beside_retention(
    store: Store,
    registry: SchemaRegistry,
    lines: list[bytes],
    url: str,
    catalog_path: Path,
    at: datetime.datetime,
) -> _Forwarded:
    """The forwarder started once the child's retention run has begun; the share of the
    forwarder's time the run overlapped is returned with its rate."""
    context = multiprocessing.get_context("spawn")  # no inherited database connection
    parent, child = context.Pipe()
    process = context.Process(
        target=_retention_child, args=(url, str(catalog_path), at.isoformat(), child)
    )
    process.start()
    try:
        if not parent.poll(120):
            raise RuntimeError("the retention child did not start")
        parent.recv()  # it is about to plan the run
        began = time.time()
        run = _forward(store, registry, lines)
        ended = time.time()
        if not parent.poll(600):
            raise RuntimeError("the retention child did not finish")
        outcome = parent.recv()
    finally:
        process.join(60)
    if isinstance(outcome, str):
        return _Forwarded(run.rate, f"retention child: {outcome}")
    start, end, handled, longest = outcome
    overlap = max(0.0, min(ended, end) - max(began, start)) / (ended - began)
    problem = run.problem or ("" if handled else "the retention run beside it had nothing due")
    return _Forwarded(run.rate, problem, overlap, longest)


def _retention_child(url: str, catalog_path: str, at: str, conn: Any) -> None:
    """In a child process: one ``retention run --execute`` at time ``at``; sends when it
    started and ended, the rows it handled and its longest write transaction."""
    try:
        registry = open_registry(str(corpus_events.SCHEMAS), tempfile.gettempdir())
        known = {name for name, _ in require_schemas(registry, str(corpus_events.SCHEMAS))}
        catalog = load_catalog(catalog_path, registry)
        store = open_store(url)
        clock = StatementClock(store)
        conn.send("ready")
        start = time.time()
        result = run_engine(store, catalog, known, datetime.datetime.fromisoformat(at))
        end = time.time()
        store.close()
        handled = sum(t.deleted + t.sanitized for t in result.tables)
        conn.send((start, end, handled, clock.longest.get("write", (0.0, ""))[0]))
    except Exception as exc:  # noqa: BLE001 - reported to the parent as the figure's problem
        conn.send(f"{type(exc).__name__}: {exc}")


def main() -> int:
    from results import table

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100k rows a table, not 1M")
    parser.add_argument("--url", help="this server instead of a private one")
    args = parser.parse_args()
    registry = open_registry(str(corpus_events.SCHEMAS), tempfile.gettempdir())
    rows = 100_000 if args.quick else 1_000_000
    if args.url:
        print(table(retention(registry, args.url, rows)))
        return 0
    with production_server(os.environ.get("EL_TEST_MYSQL_URL", DEFAULT_MYSQL_URL)) as (url, _):
        print(table(retention(registry, url, rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
