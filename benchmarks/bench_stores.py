"""End to end: a ``Forwarder`` (default settings) over an in-memory source into a fresh
database, from the first line to the last commit, creating the tables on the way; the rows
committed are counted against the corpus's valid lines.  Into SQLite also with Graphite metrics
flushed every second, to price the emitter."""

from __future__ import annotations

import contextlib
import os
import secrets
import socketserver
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pymysql
from measure import REPEAT, Run, best_of, paired, timed
from results import EVENTS, Figure, Planned, Reference, at_least, compared, ratio_at_least
from workload import CHUNK_LINES, Corpus

from el_monitor.graphite.emitter import GraphiteSettings, MetricEmitter
from el_monitor.ingest.forwarder import Forwarder, ForwarderSettings
from el_monitor.ingest.sources.base import Chunk
from el_monitor.schema.registry import SchemaRegistry
from el_monitor.store import open_store
from el_monitor.store.catalogue import table_stats

MARIADB = Planned("end to end -> MariaDB, committed", EVENTS, at_least(30_000, EVENTS))
METRICS_PAIRS = 5  # back-to-back SQLite runs with and without Graphite metrics
DEFAULT_MYSQL_URL = "mysql://root@127.0.0.1:3306/test"  # unless EL_TEST_MYSQL_URL says
# A MariaDB figure's measure: (registry, server URL, rows, seed) → its figures.
MariaDBFigures = Callable[[SchemaRegistry, str, int, int], list[Figure]]


class MemorySource:
    """An in-process Source over lines already in memory: measures the forwarder, not I/O."""

    name = "memory"

    def __init__(self, lines: list[bytes], size: int = CHUNK_LINES) -> None:
        self.lines = lines
        self.size = size

    def chunks(self, stop: threading.Event) -> Iterator[Chunk]:
        for start in range(0, len(self.lines), self.size):
            if stop.is_set():
                return
            yield Chunk(self.lines[start : start + self.size])

    def commit(self, position: object) -> None:
        """Nothing to checkpoint: the input is replayed from memory."""

    def close(self) -> None:
        """Nothing to release."""


def forward(
    data: Corpus, registry: SchemaRegistry, url: str, metrics: MetricEmitter | None = None
) -> Run:
    """One in-process Forwarder run into the empty database ``url``, rows then checked."""
    store = open_store(url)
    inserted = 0

    def work() -> int:
        nonlocal inserted
        forwarder = Forwarder(
            ForwarderSettings(host="bench"),
            MemorySource(data.lines),
            registry,
            store,
            metrics=metrics,
        )
        result = forwarder.run(threading.Event())
        if result.pending:
            raise RuntimeError(f"{result.pending} events left pending")
        inserted = result.counts.get("overall", "inserted")
        return len(data.lines)

    try:
        rate = timed(work)
    finally:
        store.close()
    rows = event_rows(url)
    problem = ""
    if rows != data.valid or inserted != data.valid:
        problem = f"{rows:,} rows committed, {inserted:,} counted inserted, {data.valid:,} valid"
    return Run(rate, problem)


def event_rows(url: str) -> int:
    """Rows in the event tables (not the el_monitor_* bookkeeping ones)."""
    store = open_store(url)
    try:
        tables = [name for name in store.tables() if not name.startswith("el_monitor_")]
        return sum(table_stats(store, table).rows for table in tables)
    finally:
        store.close()


def remove_sqlite(path: Path) -> None:
    """A SQLite database and its write-ahead log: the next run starts empty, the disk stays free."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def connect(url: str, **options: object) -> pymysql.connections.Connection:
    """A bare PyMySQL session on the server of ``url`` (``options`` go to ``connect``)."""
    parts = urlsplit(url)
    return pymysql.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=unquote(parts.username or "root"),
        password=unquote(parts.password or ""),
        connect_timeout=10,
        ssl_disabled=True,  # (else PyMySQL loads the CA store, 20 ms a connection)
        **options,
    )


def run_alone(description: str, measure: MariaDBFigures, private: bool = False) -> None:
    """The ``main`` of a MariaDB figure run alone: ``--rows``, ``--seed``, the server of
    ``EL_TEST_MYSQL_URL`` (or, ``private``, a production-sized private one), the bundled
    schemas; prints its table."""
    import argparse
    import tempfile

    import corpus_events
    from results import table

    from el_monitor.schema.registry import open_registry

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    from private_mariadb import production_server

    shared = os.environ.get("EL_TEST_MYSQL_URL", DEFAULT_MYSQL_URL)
    with tempfile.TemporaryDirectory(prefix="el-bench-") as tmp, contextlib.ExitStack() as stack:
        url = stack.enter_context(production_server(shared))[0] if private else shared
        registry = open_registry(str(corpus_events.SCHEMAS), f"{tmp}/schema-cache")
        print(table(measure(registry, url, args.rows, args.seed)))


@contextmanager
def scratch_database(url: str) -> Iterator[str]:
    """A fresh, uniquely named database on the server of ``url``, dropped afterwards."""
    name = f"el_bench_{os.getpid()}_{secrets.token_hex(4)}"
    conn = connect(url)
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        try:
            yield urlsplit(url)._replace(path="/" + name).geturl()
        finally:
            with conn.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        conn.close()


def mariadb(data: Corpus, registry: SchemaRegistry, url: str | None, ceiling: Reference) -> Figure:
    """Into a scratch database on the server of ``url``; a server that does not answer is a
    figure not measured, not a crash (every other figure is still worth having)."""
    if url is None:
        return MARIADB.not_measured("skipped (--no-mysql)")
    try:
        connect(url).close()
    except pymysql.err.OperationalError as exc:
        return MARIADB.not_measured(f"not measured: {exc}")

    def run() -> Run:
        with scratch_database(url) as scratch:
            return forward(data, registry, scratch)

    best = best_of(run)
    return MARIADB.measured(best.rate, f"best of {REPEAT}", ceiling, best.problem)


def sqlite(data: Corpus, registry: SchemaRegistry, tmp: Path, ceiling: Reference) -> list[Figure]:
    """Into SQLite without and with metrics flushed every second (ten times the default pace)
    to a carbon that reads and discards, in back-to-back pairs: the plain figure is the best
    plain run, the emitter's cost the middle pair."""
    host = "127.0.0.1"
    sink = socketserver.ThreadingTCPServer((host, 0), _Discard)
    sink.daemon_threads = True
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    port = sink.server_address[1]
    attempts = iter(range(2 * METRICS_PAIRS))

    def run(emitting: bool) -> Run:
        path = tmp / f"e2e-{next(attempts)}.db"
        metrics = None
        if emitting:
            metrics = MetricEmitter(GraphiteSettings(host, port, "bench", "bench", interval=1.0))
        try:
            return forward(data, registry, f"sqlite:///{path}", metrics)
        finally:
            remove_sqlite(path)

    try:
        pairs = paired(run, METRICS_PAIRS)
    finally:
        sink.shutdown()
        sink.server_close()
    best = Figure(
        "end to end -> SQLite, committed",
        max(pairs.base),
        EVENTS,
        f"best of {METRICS_PAIRS}",
        ceiling,
        at_least(50_000, EVENTS),
        pairs.problem,
    )
    return [
        best,
        *compared(
            pairs,
            "  without Graphite metrics",
            "  with metrics every 1 s",
            ceiling,
            ratio_at_least(0.95, "without"),
        ),
    ]


class _Discard(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        while self.rfile.read(65536):
            pass
