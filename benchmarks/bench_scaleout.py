"""Scale-out on JetStream (issue 14): forwarders consuming one stream.

The real-size NavigationTiming lines are put in a stream of the run's own as ``el-monitor
publish`` writes them (record messages of 50 events) before any clock starts.  Each figure
starts ``el-monitor forward --input nats://...`` processes as members of a new durable consumer
and waits until the consumer has every message acknowledged, which a member does only once
its batch is committed; then the rows are counted.  Members are long-running services, so the
SQLite figures are their consuming rate, from the first acknowledgement on (interpreter start
and schema loading left out); the MariaDB figure counts from the start, as its file
counterpart does.

- 2 members, a SQLite file each, against 1 member (same stream, same machine, same minute;
  best of 2 runs each, alternated);
- 1 member into MariaDB against the same forwarder reading the same lines from a file into
  MariaDB (start to exit);
- the forwarder drill (``backup.forwarder_drill``): 2 members, 2,000 events/s, one SIGKILLed;
  its recovery against the ack wait + 5 s, with 0 lost and 0 duplicated.
"""

from __future__ import annotations

import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import NamedTuple

import corpus_events
import nats.js.errors
from bench_stores import event_rows, remove_sqlite, scratch_database
from measure import log, use_test_harness
from results import EVENTS, Figure, Planned, Reference, at_most, ratio_at_least
from workload import count_problem

CLI = Path(sys.executable).with_name("el-monitor")
PER_RECORD = 50  # events a message, as the beacon's POST batches
POLL = 0.05
RUNS = 2  # of each SQLite configuration, alternated
DEADLINE = 600.0
DRILL_ACK_WAIT = 10  # seconds: the drill's recovery waits out one ack wait
DRILL_RATE = 2_000.0
TWO = Planned(
    "real NavigationTiming: 2 forwarders on one JetStream stream -> a SQLite file each",
    EVENTS,
    ratio_at_least(1.7, "1 forwarder"),
)
MARIADB = Planned(
    "real NavigationTiming: forward from JetStream -> MariaDB",
    EVENTS,
    ratio_at_least(0.8, "from a file"),
)
DRILL = Planned(
    "forwarder drill: 2 members, one SIGKILLed at 2,000 events/s: recovery",
    "s",
    at_most(DRILL_ACK_WAIT + 5, "s"),
)


def scaleout(lines: Sequence[bytes], valid: int, mysql_url: str | None, tmp: Path) -> list[Figure]:
    """Every scale-out figure (or why it was not measured)."""
    use_test_harness(corpus_events.ROOT)
    from harness.jetstream import TestStream
    from harness.nats import shared_reason

    reason = shared_reason()
    if reason:
        return [TWO.not_measured(reason), MARIADB.not_measured(reason), DRILL.not_measured(reason)]
    stream = TestStream()
    stream.create()
    try:
        log(f"scale-out: {len(lines):,} real-size lines into a stream, records of {PER_RECORD} ...")
        stream.publish_records(lines, PER_RECORD)
        figures = _sqlite_members(stream, len(lines), valid, tmp)
        figures += _mariadb(stream, lines, valid, mysql_url, tmp)
    finally:
        stream.delete()
    figures.append(_drill(TestStream(), mysql_url))
    return figures


def _sqlite_members(stream, events: int, valid: int, tmp: Path) -> list[Figure]:
    """1 member, then 2, RUNS times alternated (each run a new consumer): the best of each."""
    rates: dict[int, float] = {}
    problems: dict[int, str] = {}
    for run in range(RUNS):
        for members in (1, 2):
            log(f"scale-out: {members} forwarder(s) consuming the stream into SQLite ...")
            dbs = [f"sqlite:///{tmp / f'scaleout-{members}-{n}.db'}" for n in range(members)]
            done = _consume(stream, f"sqlite{members}r{run}", dbs, valid, tmp)
            rates[members] = max(rates.get(members, 0.0), events * done.steady)
            problems[members] = problems.get(members) or done.problem
            for db in dbs:
                remove_sqlite(Path(db.removeprefix("sqlite:///")))
    one = Reference("1 forwarder", rates[1])
    taken = f"best of {RUNS}"
    return [
        Figure(
            "real NavigationTiming: 1 forwarder on one JetStream stream -> SQLite",
            rates[1],
            EVENTS,
            taken,
            problem=problems[1],
        ),
        TWO.measured(rates[2], taken, one, problems[2]),
    ]


def _mariadb(
    stream, lines: Sequence[bytes], valid: int, url: str | None, tmp: Path
) -> list[Figure]:
    if url is None:
        return [MARIADB.not_measured("skipped (--no-mysql)")]
    log("scale-out: the same lines from a file into MariaDB, then from the stream ...")
    path = tmp / "scaleout.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    with scratch_database(url) as db:
        started = time.perf_counter()
        done = subprocess.run(
            [*_forward(db), "--input", f"file://{path}"], capture_output=True, check=False
        )
        seconds = time.perf_counter() - started
        problem = _exit_problem(done.returncode, done.stderr) or count_problem(
            "rows committed", event_rows(db), valid
        )
    path.unlink()
    from_file = Reference("from a file", len(lines) / seconds)
    with scratch_database(url) as db:
        done = _consume(stream, f"mariadb{secrets.token_hex(3)}", [db], valid, tmp)
    return [
        Figure(
            "real NavigationTiming: forward from a file -> MariaDB",
            from_file.value,
            EVENTS,
            "1 run",
            problem=problem,
        ),
        MARIADB.measured(len(lines) / done.seconds, "1 run", from_file, done.problem),
    ]


class Consumed(NamedTuple):
    seconds: float  # from the members' start until every message was acknowledged
    steady: float  # share of the stream per second from the first acknowledgement on
    problem: str


def _consume(stream, consumer: str, dbs: list[str], valid: int, tmp: Path) -> Consumed:
    """Members (one a database each) of a new consumer, until it has had every message of the
    stream acknowledged."""
    uri = stream.uri(consumer)
    with ExitStack() as stack:
        started = time.perf_counter()
        members = [stack.enter_context(_member([*_forward(db), "--input", uri], tmp)) for db in dbs]
        problem, first, acked_first = _wait_acknowledged(stream, consumer, members)
        ended = time.perf_counter()
        for member in members:
            member.send_signal(signal.SIGTERM)
        for member in members:
            member.wait(timeout=60)
            problem = problem or _exit_problem(member.returncode, b"")
    shares = [event_rows(db) for db in dbs]
    if 0 in shares and not problem:
        problem = f"a member stored nothing (rows per member: {shares})"
    left = 1 - acked_first / stream.published
    steady = left / (ended - first) if ended > first else 0.0
    problem = problem or count_problem("rows committed", sum(shares), valid)
    return Consumed(ended - started, steady, problem)


def _member(command: list[str], tmp: Path) -> subprocess.Popen[bytes]:
    """A forwarder process, its stderr kept in ``tmp`` for a look when a figure goes wrong."""
    with tempfile.NamedTemporaryFile(dir=tmp, prefix="member-", suffix=".log", delete=False) as f:
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=f)


def _wait_acknowledged(
    stream, consumer: str, members: list[subprocess.Popen[bytes]]
) -> tuple[str, float, int]:
    """(problem, when the first acknowledgement was seen, messages acknowledged then)."""
    deadline = time.monotonic() + DEADLINE
    first, acked_first = 0.0, 0
    while time.monotonic() < deadline:
        if any(member.poll() is not None for member in members):
            return "a forwarder exited before the stream was consumed", first, acked_first
        try:
            acked = stream.acknowledged(consumer)
        except nats.js.errors.NotFoundError:
            acked = 0  # the first member has not made the consumer yet
        if acked and not acked_first:
            first, acked_first = time.perf_counter(), acked
        if acked >= stream.published:
            return "", first, acked_first
        time.sleep(POLL)
    return f"not all acknowledged in {DEADLINE:.0f} s", first, acked_first


def _forward(db: str) -> list[str]:
    return [str(CLI), "forward", "--schemas", str(corpus_events.SCHEMAS), "--db", db]


def _exit_problem(status: int | None, stderr: bytes) -> str:
    if status == 0:
        return ""
    tail = stderr.decode(errors="replace").strip().splitlines()[-1:]
    return f"exit {status}: {' '.join(tail)}"


def _drill(stream, url: str | None) -> Figure:
    """The forwarder drill's engine, as ``el-monitor drill forwarder`` runs it."""
    if url is None:
        return DRILL.not_measured("skipped (--no-mysql)")
    from helpers import example_capsules

    from el_monitor.backup.forwarder_drill import ForwarderDrill
    from el_monitor.store import open_store

    log(f"scale-out: forwarder drill, {DRILL_RATE:,.0f} events/s, one member killed ...")
    template = next(c for c in example_capsules() if c["schema"] == "NavigationTiming")
    template = {k: v for k, v in template.items() if k not in ("uuid", "timestamp")}
    stream.create()
    try:
        with scratch_database(url) as db, tempfile.TemporaryDirectory() as workdir:
            result = ForwarderDrill(
                _drill_plan(stream, db, template, Path(workdir)), open_store
            ).run()
    finally:
        stream.delete()
    problem = "" if result.passed else f"failed: {result.lost} lost, {result.duplicated} doubled"
    reference = Reference("ack wait", float(DRILL_ACK_WAIT))
    return DRILL.measured(result.recovery or 0.0, "1 run", reference, problem)


def _drill_plan(stream, db: str, template: dict, workdir: Path):
    from el_monitor.backup.forwarder_drill import ForwarderDrillPlan

    return ForwarderDrillPlan(
        stream=stream.uri("drill", ack_wait=DRILL_ACK_WAIT),
        forwarders=2,
        db=db,
        schemas=str(corpus_events.SCHEMAS),
        template=template,
        workdir=workdir,
        events=int(DRILL_RATE * (DRILL_ACK_WAIT + 5)),
        rate=DRILL_RATE,
    )
