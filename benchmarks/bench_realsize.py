"""Real-size events (``corpus_values.py``): the forwarder against what decoding and MariaDB
allow on the same lines, measured in the same run.

On a NavigationTiming-only corpus (about 1.1 KB a JSON line, 30-40 fields, ~10% invalid):
parse + validate + count against ``orjson.loads`` of the same lines (raw varnish lines: against
unquoting the ``%q`` field and ``orjson.loads``, the faster of the stdlib's ``unquote_plus``
and C's ``binascii.a2b_qp``); ``forward`` into SQLite against the same ``orjson.loads`` floor;
``forward`` into MariaDB, rows committed per second, against ``LOAD DATA LOCAL INFILE`` of the
same rows (``load_data.py``).  On a mixed corpus of every schema (weighted as production
traffic is) the parsing figures again, without targets.
"""

from __future__ import annotations

import binascii
import os
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote_plus

import bench_cli
import corpus
import load_data
import orjson
import pymysql
from bench_pipeline import pipeline_run
from bench_stores import connect, forward, remove_sqlite, scratch_database
from measure import REPEAT, Run, best_of, each_line, log
from private_mariadb import INTERLEAVED, INTERLEAVED_DESCRIPTION, production_server
from results import EVENTS, ROWS, Figure, Planned, Reference, ratio_at_least, titled
from workload import Corpus, chunks, make_corpus

from el_monitor.schema.registry import SchemaRegistry

PARSE_TARGET = 0.35  # of the decoding floor
SQLITE_TARGET = 0.15  # of the orjson.loads floor
MARIADB_TARGET = 0.60  # of LOAD DATA LOCAL INFILE
TAKEN = f"best of {REPEAT}"
TIMING, MIXED = "real NavigationTiming", "real mixed"


def mean_bytes(lines: Sequence[bytes]) -> float:
    return statistics.fmean(map(len, lines)) if lines else 0.0


def json_floor(title: str, lines: Sequence[bytes]) -> tuple[Reference, Figure]:
    """``orjson.loads`` of every line and nothing else."""
    rate = each_line(lines, orjson.loads)
    floor = Reference("orjson.loads", rate)
    name = f"{title}: orjson.loads loop (floor, {mean_bytes(lines):,.0f} B/line)"
    return floor, Figure(name, rate, EVENTS, TAKEN, floor)


def _stdlib_unquote(line: bytes) -> object:
    """The ``%q`` field ('?' + URL-encoded JSON + ';', up to the first space) decoded."""
    return orjson.loads(unquote_plus(line[1 : line.index(b" ") - 1].decode()))


def _c_unquote(line: bytes) -> object:
    query = line[1 : line.index(b" ") - 1].replace(b"+", b" ")
    return orjson.loads(binascii.a2b_qp(query.replace(b"=", b"=3D").replace(b"%", b"=")))


def raw_floor(title: str, lines: Sequence[bytes]) -> tuple[Reference, list[Figure]]:
    """Unquoting the ``%q`` field then ``orjson.loads``, both ways; the faster is the floor."""
    rates = {
        "unquote_plus+orjson": each_line(lines, _stdlib_unquote),
        "a2b_qp+orjson": each_line(lines, _c_unquote),
    }
    label = max(rates, key=rates.__getitem__)
    floor = Reference(label, rates[label])
    size = f"{mean_bytes(lines):,.0f} B/line"
    figures = [
        Figure(f"{title}: %q {name} loop ({size})", rate, EVENTS, TAKEN, floor)
        for name, rate in rates.items()
    ]
    return floor, figures


def parsing(
    title: str,
    data: Corpus,
    fmt: str,
    registry: SchemaRegistry,
    floor: Reference,
    target: float | None,
) -> Figure:
    """``Pipeline.process`` (parse, capsule, validate, count) over the lines, valid dropped."""
    pieces = chunks(data.lines)
    run = best_of(lambda: pipeline_run(pieces, fmt, registry, data.valid, None))
    kind = "JSON lines" if fmt == "json" else "raw varnish lines"
    goal = None if target is None else ratio_at_least(target, floor.label)
    return Figure(
        f"{title}: parse+validate+count, {kind}",
        run.rate,
        EVENTS,
        TAKEN,
        floor,
        goal,
        run.problem,
    )


def sqlite(
    title: str, data: Corpus, registry: SchemaRegistry, tmp: Path, floor: Reference
) -> Figure:
    """``forward`` (default settings, in process) into a fresh SQLite database each run, in
    memory-backed /dev/shm where there is one (as the issue measured its baseline): the figure
    is the forwarder's, not the disk's."""
    attempts = iter(range(REPEAT))
    shm = Path("/dev/shm")
    directory = shm if shm.is_dir() and os.access(shm, os.W_OK) else tmp

    def run() -> Run:
        path = directory / f"el-bench-real-{os.getpid()}-{next(attempts)}.db"
        try:
            return forward(data, registry, f"sqlite:///{path}")
        finally:
            remove_sqlite(path)

    best = best_of(run)
    return Figure(
        f"{title}: forward -> SQLite, committed",
        best.rate,
        EVENTS,
        TAKEN,
        floor,
        ratio_at_least(SQLITE_TARGET, floor.label),
        best.problem,
    )


def mariadb(
    title: str, data: Corpus, registry: SchemaRegistry, url: str | None, tmp: Path
) -> list[Figure]:
    """``mariadb_on`` the shared server (MariaDB's default AUTO-INC lock mode: the store
    preloads a LOAD every few hundred rows), then on a private one whose LOADs lock no table
    (the store preloads into one LOAD left open for the batch)."""
    figures = mariadb_on(f"{title}, shared server", data, registry, url, tmp)
    if url is not None:
        with production_server(url, INTERLEAVED, INTERLEAVED_DESCRIPTION) as (private, what):
            if private != url:  # a private server started (else: the shared one again)
                figures += mariadb_on(f"{title}, {what}", data, registry, private, tmp)
    return figures


def mariadb_on(
    title: str, data: Corpus, registry: SchemaRegistry, url: str | None, tmp: Path
) -> list[Figure]:
    """Rows committed per second by ``forward`` against LOAD DATA of the same rows."""
    line = Planned(
        f"{title}: forward -> MariaDB, committed",
        ROWS,
        ratio_at_least(MARIADB_TARGET, "LOAD DATA"),
    )
    if url is None:
        return [line.not_measured("skipped (--no-mysql)")]
    try:
        connect(url).close()
    except pymysql.err.OperationalError as exc:
        return [line.not_measured(f"not measured: {exc}")]
    with scratch_database(url) as scratch:
        bulk = load_data.ceiling(scratch, data.lines, registry, tmp)
    ceiling = Reference("LOAD DATA", bulk.rate)

    def run() -> Run:
        with scratch_database(url) as scratch:
            return forward(data, registry, scratch)

    best = best_of(run)
    rows = best.rate * data.valid / len(data.lines)  # lines/s → rows committed/s
    return [
        Figure(
            f"{title}: LOAD DATA LOCAL INFILE (ceiling)",
            bulk.rate,
            ROWS,
            TAKEN,
            ceiling,
            problem=bulk.problem,
        ),
        line.measured(rows, TAKEN, ceiling, best.problem),
    ]


def workers(title: str, data: Corpus, mysql_url: str | None, tmp: Path) -> list[Figure]:
    """``forward --workers 2`` against one worker on the lines (``bench_cli.forward_workers``),
    into one SQLite file, then into MariaDB."""
    path = tmp / "real-workers.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in data.lines))
    try:
        figures = bench_cli.forward_workers(path, len(data.lines), data.valid, tmp)
        if mysql_url is not None:
            figures += bench_cli.forward_workers(path, len(data.lines), data.valid, tmp, mysql_url)
    finally:
        path.unlink()
    return titled(title, figures)


class RealCorpora(NamedTuple):
    """How each real-size corpus is made (``size`` lines, a seed of its own each): a corpus
    is made when its figures are taken and let go after, so that no figure runs beside the
    other corpora's lines (held all at once, a gigabyte, they made the forwarder into SQLite
    13% slower than it runs in a process of its own)."""

    size: int
    seed: int

    def timing(self, fmt: str) -> Corpus:
        """NavigationTiming only, JSON or raw lines."""
        log(f"generating {self.size:,} real-size NavigationTiming {fmt} lines ...")
        seed = self.seed + (2 if fmt == "json" else 3)
        return make_corpus(self.size, fmt, seed, events="real", schemas=("NavigationTiming",))

    def mixed(self, fmt: str) -> Corpus:
        """Every schema, weighted as production traffic is."""
        log(f"generating {self.size:,} real-size {fmt} lines of every schema ...")
        return make_corpus(self.size, fmt, self.seed + (4 if fmt == "json" else 5), events="real")


def realsize(
    data: RealCorpora, registry: SchemaRegistry, mysql_url: str | None, tmp: Path
) -> list[Figure]:
    """Every real-size figure, in table order."""
    figures: list[Figure] = []
    for title, make, targets in ((TIMING, data.timing, True), (MIXED, data.mixed, False)):
        log(f"{title}: floors, then parse + validate + count ...")
        json_lines = make("json")
        floor, line = json_floor(title, json_lines.lines)
        target = PARSE_TARGET if targets else None
        figures += [line, parsing(title, json_lines, "json", registry, floor, target)]
        raw_lines = make("raw")
        raw, lines = raw_floor(title, raw_lines.lines)
        figures += [*lines, parsing(title, raw_lines, corpus.RAW_FORMAT, registry, raw, target)]
        del raw_lines
        if targets:
            log(f"{title}: forward into SQLite, into MariaDB, LOAD DATA ...")
            figures.append(sqlite(title, json_lines, registry, tmp, floor))
            figures += mariadb(title, json_lines, registry, mysql_url, tmp)
    return figures
