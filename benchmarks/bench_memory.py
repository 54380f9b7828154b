"""Memory over a million real-size events (issue 13: "flat and under 150 MB RSS per process over
1M real-size events, whatever the source"): the peak RSS of ``el-monitor forward``, a child
process, into a SQLite file, taking 1,000,000 real-size NavigationTiming lines

- from a file, read as fast as the forwarder goes;
- as beacon POSTs of 40 (``http://``) from 8 keep-alive clients that send as fast as they are
  answered and send a POST answered 503 (the queue full) again: the forwarder's queue stays
  full, its worst case.

Each run is checked: every valid line is a row (for the beacon: every valid line of the POSTs,
all of them answered 202 in the end).  The bare interpreter's peak RSS is the floor.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path

import corpus
import corpus_events
from beacon_client import is_json, post_all, post_body
from bench_cli import CLI, MB, finish, launched, listening_port, rss_floor
from bench_stores import event_rows, remove_sqlite
from measure import log
from results import Figure, Reference, below
from workload import count_problem

BATCH = 40  # events a POST: under the 64 KiB a request body may hold by default
TITLE = "real NavigationTiming"


class Lines:
    """``size`` real-size NavigationTiming lines in ``path``, with what a run must store."""

    def __init__(self, size: int, seed: int, path: Path) -> None:
        self.path = path
        self.size = size
        self.valid = 0  # valid lines (all of them JSON: so the POSTs hold every one)
        generator = corpus.Generator(seed, 0.10, "json", "real", ("NavigationTiming",))
        with path.open("wb", buffering=1 << 20) as out:
            for line, kind in generator.lines(size):
                out.write(line + b"\n")
                self.valid += kind is None

    def posts(self) -> Iterator[bytes]:
        """POST bodies: JSON arrays of BATCH lines, the lines that are JSON at all (a malformed
        one would turn its whole POST into a 400)."""
        batch: list[bytes] = []
        with self.path.open("rb") as lines:
            for line in lines:
                if not is_json(line):
                    continue
                batch.append(line.rstrip(b"\n"))
                if len(batch) == BATCH:
                    yield post_body(batch)
                    batch = []
        if batch:
            yield post_body(batch)


def memory(seed: int, size: int, tmp: Path) -> list[Figure]:
    """Both figures, on one corpus file made for them and removed after."""
    floor, _ = rss_floor(tmp)
    log(f"{TITLE}: {size:,} lines into a file for the memory figures ...")
    lines = Lines(size, seed, tmp / "memory.jsonl")
    try:
        log(f"{TITLE}: el-monitor forward of {size:,} lines from a file: peak RSS ...")
        figures = [_from_file(lines, tmp, floor)]
        log(f"{TITLE}: el-monitor forward of {size:,} lines POSTed to its beacon: peak RSS ...")
        figures.append(_from_beacon(lines, tmp, floor))
    finally:
        lines.path.unlink()
    return figures


def _figure(source: str, lines: Lines, rss: float, floor: Reference, problem: str) -> Figure:
    name = f"{TITLE}: CLI forward {lines.size:,} from {source}: peak RSS"
    return Figure(name, rss, MB, "1 run", floor, below(150, MB), problem)


def _forward(db: Path, source: str) -> list[str]:
    schemas = str(corpus_events.SCHEMAS)
    database = f"sqlite:///{db}"
    return [str(CLI), "-v", "forward", "--schemas", schemas, "--input", source, "--db", database]


def _from_file(lines: Lines, tmp: Path, floor: Reference) -> Figure:
    db = tmp / "memory-file.db"
    rss, problem = finish(launched(_forward(db, f"file://{lines.path}"), tmp), tmp)
    problem = problem or count_problem("rows committed", event_rows(f"sqlite:///{db}"), lines.valid)
    remove_sqlite(db)
    return _figure("a file", lines, rss, floor, problem)


def _from_beacon(lines: Lines, tmp: Path, floor: Reference) -> Figure:
    db = tmp / "memory-beacon.db"
    child = launched(_forward(db, "http://127.0.0.1:0"), tmp)
    try:
        port = listening_port(child, tmp / "child.err")
        _, statuses = asyncio.run(post_all(port, lines.posts(), resend_busy=True))
        child.send_signal(signal.SIGTERM)  # the launcher hands it on; the forwarder drains
    except BaseException:
        child.kill()
        raise
    rss, problem = finish(child, tmp)
    stored = event_rows(f"sqlite:///{db}")
    remove_sqlite(db)
    refused = len(statuses) - statuses.count(202)
    if not problem and refused:
        problem = f"{refused} POSTs answered neither 202 nor 503"
    problem = problem or count_problem("rows committed", stored, lines.valid)
    return _figure(f"its beacon (POSTs of {BATCH}, queue full)", lines, rss, floor, problem)
