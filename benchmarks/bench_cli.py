"""The real ``el-monitor forward`` on a file into SQLite, in a child process: wall time including
interpreter start, and the child's peak RSS at two input sizes, which shows memory does not grow
with the input.  A bare interpreter's peak RSS, taken the same way, is the memory floor."""

from __future__ import annotations

import contextlib
import math
import re
import resource
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import corpus_events
from bench_stores import event_rows, remove_sqlite, scratch_database
from results import EVENTS, Figure, Reference, below, ratio_at_least
from workload import count_problem

CLI = Path(sys.executable).with_name("el-monitor")
MB = "MB"

# Runs the command in its argv and writes "<peak RSS KiB> <exit status>" to the file in argv[1],
# handing SIGTERM on to it.  A fresh, small interpreter: a child forked straight from this big
# benchmark process would report this process's peak RSS (Linux records the parent's
# high-water mark at exec).
_LAUNCHER = """
import os, signal, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
signal.signal(signal.SIGTERM, lambda signum, _: child.send_signal(signum))
_, status, usage = os.wait4(child.pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(f"{usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}")
"""


def launched(cmd: list[str], tmp: Path) -> subprocess.Popen[bytes]:
    """``cmd`` started in ``tmp`` through the launcher, its output in ``tmp``'s child.out and
    child.err; SIGTERM to the launcher reaches it."""
    with open(tmp / "child.out", "wb") as out, open(tmp / "child.err", "wb") as err:
        return subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER, str(tmp / "child.usage"), *cmd],
            stdout=out,
            stderr=err,
            cwd=tmp,
        )


def finish(child: subprocess.Popen[bytes], tmp: Path) -> tuple[float, str]:
    """Wait for a ``launched`` command: its peak RSS in MB, and what went wrong ("" if
    nothing)."""
    child.wait()
    rss_kib, status = map(int, (tmp / "child.usage").read_text().split())
    problem = ""
    if status != 0:
        tail = (tmp / "child.err").read_text(errors="replace").strip().splitlines()[-1:]
        problem = f"exit {status}: {' '.join(tail)}"
    return rss_kib * 1024 / 1e6, problem


LISTENING = re.compile(rb"listening on http://127\.0\.0\.1:(\d+)")


def listening_port(child: subprocess.Popen[bytes], errors: Path) -> int:
    """The port an el-monitor command given ``http://127.0.0.1:0`` listens on, read from its
    log in ``errors``."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = LISTENING.search(errors.read_bytes())
        if found:
            return int(found.group(1))
        if child.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f"el-monitor did not listen: {errors.read_text()[-2000:]}")


def _launch(cmd: list[str], tmp: Path) -> tuple[float, float, str]:
    """Run ``cmd`` in ``tmp`` through the launcher: (seconds, peak RSS MB, problem)."""
    start = time.perf_counter()
    rss, problem = finish(launched(cmd, tmp), tmp)
    return time.perf_counter() - start, rss, problem


def rss_floor(tmp: Path) -> tuple[Reference, Figure]:
    _, rss, problem = _launch([sys.executable, "-c", "pass"], tmp)
    floor = Reference("python3 -c pass", rss)
    figure = Figure("python3 -c pass: peak RSS (floor)", rss, MB, "1 run", floor, problem=problem)
    return floor, figure


def forward_file(
    path: Path, lines: int, valid: int, tmp: Path, ceiling: Reference, floor: Reference
) -> list[Figure]:
    """``el-monitor forward`` of the ``lines`` lines in ``path``: its rate and its peak RSS."""
    db = tmp / f"cli-{path.stem}.db"
    cmd = [
        str(CLI), "forward", "--schemas", str(corpus_events.SCHEMAS),
        "--input", f"file://{path}", "--db", f"sqlite:///{db}",
    ]  # fmt: skip
    seconds, rss, problem = _launch(cmd, tmp)
    if not problem:
        problem = count_problem("rows committed", event_rows(f"sqlite:///{db}"), valid)
    remove_sqlite(db)
    rate = Figure(
        f"CLI forward {lines:,} -> SQLite", lines / seconds, EVENTS, "1 run", ceiling,
        problem=problem,
    )  # fmt: skip
    memory = Figure(
        f"CLI forward {lines:,}: peak RSS", rss, MB, "1 run", floor, below(150, MB), problem
    )
    return [rate, memory]


WORKERS = 2
RUNS = 2
ALONE, SHARED, PAIR = "1 worker", f"--workers {WORKERS}", "2 separate forwarders"


def forward_workers(
    path: Path, lines: int, valid: int, tmp: Path, mysql_url: str | None = None
) -> list[Figure]:
    """``el-monitor forward --workers 2`` against one worker on the same input: ``path`` cut
    into two files (``--input`` twice), into one SQLite file (or, given ``mysql_url``, one
    scratch MariaDB database); and, as the ceiling of what two processes get from this machine
    at the time, two separate forwarders on a half each, into a SQLite file each (or both into
    the one database).  Best of RUNS each, alternated.

    The target: into SQLite, issue 13's 1.7x one worker.  Into MariaDB, whose server shares the
    machine's cores (two separate forwarders gain 1.1x-1.6x here), no worse than those two:
    what the supervisor and the sharing cost."""
    halves = _halves(path, tmp)
    best: dict[str, float] = {}
    cpu: dict[str, float] = {}
    problems: dict[str, str] = {}
    for _ in range(RUNS):
        for label in (ALONE, SHARED, PAIR):
            with _targets(label, tmp, mysql_url) as dbs:
                before = _children_cpu()
                seconds, _, problem = _launch(_workers_command(label, halves, dbs), tmp)
                cpu[label] = min(cpu.get(label, math.inf), _children_cpu() - before)
                stored = sum(event_rows(db) for db in set(dbs))
                problem = problem or count_problem("rows committed", stored, valid)
            best[label] = min(best.get(label, seconds), seconds)
            problems[label] = problems.get(label) or problem
    for half in halves:
        half.unlink()
    one = Reference(ALONE, lines / best[ALONE])
    pair = Reference(PAIR, lines / best[PAIR])
    shared = lines / best[SHARED]
    taken = f"best of {RUNS}"
    name = f"CLI forward {lines:,} (2 files){' -> MariaDB' if mysql_url else ''}"
    against_pair = Figure(
        f"  {SHARED} against {PAIR}",
        shared,
        EVENTS,
        taken,
        pair,
        ratio_at_least(0.95, PAIR),
        problems[SHARED],
    )
    return [
        Figure(f"{name}, {ALONE}", one.value, EVENTS, taken, problem=problems[ALONE]),
        Figure(f"{name}, {PAIR} (ceiling)", pair.value, EVENTS, taken, one, problem=problems[PAIR]),
        Figure(
            f"{name}, {SHARED}",
            shared,
            EVENTS,
            taken,
            one,
            None if mysql_url else ratio_at_least(1.7, ALONE),
            problems[SHARED],
        ),
        *([against_pair] if mysql_url else []),
        # What the supervisor and the second process cost: the CPU time of every process (on
        # a busy machine two processes cannot have a core each, and the ratios say little).
        Figure(
            f"{name}, {SHARED}: CPU time",
            cpu[SHARED],
            "s",
            f"least of {RUNS}",
            Reference(ALONE, cpu[ALONE]),
            problem=problems[SHARED],
        ),
    ]


@contextlib.contextmanager
def _targets(label: str, tmp: Path, mysql_url: str | None) -> Iterator[list[str]]:
    """The database URL of each process of a configuration, empty, removed afterwards: a
    scratch MariaDB database that every process shares, or SQLite files (one per separate
    forwarder)."""
    if mysql_url is not None:
        with scratch_database(mysql_url) as db:
            yield [db, db] if label == PAIR else [db]
        return
    files = [tmp / f"cli-workers-{n}.db" for n in range(2 if label == PAIR else 1)]
    try:
        yield [f"sqlite:///{f}" for f in files]
    finally:
        for f in files:
            remove_sqlite(f)


def _workers_command(label: str, halves: list[Path], dbs: list[str]) -> list[str]:
    """The command line of one configuration of ``forward_workers``."""
    forward = [str(CLI), "forward", "--schemas", str(corpus_events.SCHEMAS)]
    if label == PAIR:
        separate = [
            shlex.join([*forward, "--input", f"file://{half}", "--db", db])
            for half, db in zip(halves, dbs, strict=True)
        ]
        both = f"{separate[0]} & first=$!; {separate[1]} & second=$!; wait $first && wait $second"
        return ["sh", "-c", both]
    inputs = [arg for half in halves for arg in ("--input", f"file://{half}")]
    workers = "1" if label == ALONE else str(WORKERS)
    return [*forward, *inputs, "--db", dbs[0], "--workers", workers]


def _children_cpu() -> float:
    """User and system seconds of this process's reaped children (and theirs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _halves(path: Path, tmp: Path) -> list[Path]:
    """``path``'s lines in two files of (nearly) equal line counts."""
    data = path.read_bytes().splitlines(keepends=True)
    middle = len(data) // 2
    halves = [tmp / f"{path.stem}-a.jsonl", tmp / f"{path.stem}-b.jsonl"]
    for half, part in zip(halves, (data[:middle], data[middle:]), strict=True):
        half.write_bytes(b"".join(part))
    return halves
