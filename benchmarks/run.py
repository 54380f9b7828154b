"""``make bench``: the forwarder's throughput and memory against the issue's targets.

Every figure comes from one synthetic corpus (``corpus.py``: all bundled schemas, ~10% invalid
lines) generated before anything is timed, and is shown as events/s and as a ratio to a bare
stdlib ``json.loads`` loop over the same lines measured in the same run, so results from
different machines can be compared.  Throughputs are the best of three runs (the catalog checks'
cost: the median ratio of seven back-to-back pairs with and without them); stored row counts
are checked against the corpus's known valid count so a fast-but-wrong run cannot pass.

- parse+validate+count: ``Pipeline.process`` over 1000-line chunks, valid events dropped.
- end to end: a ``Forwarder`` (default settings) over an in-memory source into a fresh database,
  from the first line to the last commit, creating the tables on the way.
- CLI: the real ``el-monitor forward`` on a file into SQLite, in a child process, wall time
  including interpreter start; its peak RSS at two input sizes shows memory does not grow.

    EL_TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/test .venv/bin/python benchmarks/run.py
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import secrets
import socketserver
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import corpus

from el_monitor.catalog.load import load_catalog
from el_monitor.counts.counters import Counters
from el_monitor.event.formats import make_parser
from el_monitor.graphite.emitter import GraphiteSettings, MetricEmitter
from el_monitor.ingest.forwarder import Forwarder, ForwarderSettings
from el_monitor.ingest.pipeline import Pipeline
from el_monitor.ingest.policy import Policy, opt_out_checks, samplers
from el_monitor.ingest.sampling import Sampler
from el_monitor.ingest.sources.base import Chunk
from el_monitor.optout.matcher import OptOutMatcher, identity_hash
from el_monitor.schema.registry import SchemaRegistry, open_registry
from el_monitor.store import open_store

CHUNK_LINES = 1000
REPEAT = 3
RATIO_PAIRS = 7  # back-to-back runs with and without a feature behind a ratio
DEFAULT_MYSQL_URL = "mysql://root@127.0.0.1:3306/test"
CLI = Path(sys.executable).with_name("el-monitor")
EXAMPLE_CATALOG = corpus.ROOT / "examples" / "el-monitor.toml"


@dataclass
class Row:
    """One line of the result table."""

    name: str
    value: float | None  # events/s, or MB for memory rows
    unit: str = "ev/s"
    target: str = ""
    ok: bool | None = None  # None: no target
    note: str = ""


class MemorySource:
    """An in-process Source over lines already in memory: measures the forwarder, not I/O."""

    name = "memory"

    def __init__(self, lines: Sequence[bytes], size: int = CHUNK_LINES) -> None:
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


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def best_of(run: Callable[[], int], repeat: int = REPEAT) -> tuple[float, int]:
    """Best events/s over ``repeat`` runs of ``run`` (which returns how many events it did)."""
    best = 0.0
    events = 0
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        events = run()
        best = max(best, events / (time.perf_counter() - start))
    return best, events


# ---- corpus -------------------------------------------------------------------------------------


@dataclass
class Corpus:
    lines: list[bytes]  # in memory, for the in-process figures
    valid: int  # how many of ``lines`` are valid
    file_valid: dict[int, int]  # for each file written: how many of its lines are valid


def make_corpus(size: int, fmt: str, seed: int, files: dict[int, Path] | None = None) -> Corpus:
    """``size`` lines in memory; and, for each ``files`` entry ``n: path``, the first ``n``
    lines of the same stream written to ``path`` (the stream continues past ``size``).
    Valid counts come from the generator's labels, to check what the stores commit."""
    files = files or {}
    total = max([size, *files])
    handles = {n: open(path, "wb", buffering=1 << 20) for n, path in files.items()}  # noqa: SIM115
    lines: list[bytes] = []
    valid = 0
    file_valid = dict.fromkeys(files, 0)
    try:
        for index, (line, kind) in enumerate(corpus.Generator(seed, 0.10, fmt).lines(total)):
            if index < size:
                lines.append(line)
                valid += kind is None
            for n, handle in handles.items():
                if index < n:
                    handle.write(line + b"\n")
                    file_valid[n] += kind is None
    finally:
        for handle in handles.values():
            handle.close()
    return Corpus(lines, valid, file_valid)


# ---- figures ------------------------------------------------------------------------------------


def bench_json_loads(lines: Sequence[bytes]) -> float:
    loads = json.loads

    def run() -> int:
        for line in lines:
            try:  # noqa: SIM105 - suppress() would add a context manager per line to the baseline
                loads(line)
            except ValueError:  # the corpus's malformed lines
                pass
        return len(lines)

    return best_of(run)[0]


def pipeline_chunks(lines: Sequence[bytes]) -> list[Chunk]:
    return [Chunk(list(lines[i : i + CHUNK_LINES])) for i in range(0, len(lines), CHUNK_LINES)]


def pipeline_run(
    chunks: Sequence[Chunk], fmt: str, registry: SchemaRegistry, policy: Policy | None = None
) -> tuple[float, int]:
    """One ``Pipeline.process`` pass, valid events dropped: (seconds, valid events counted)."""
    counters = Counters()
    pipeline = Pipeline(
        make_parser(fmt, "bench"), registry, counters, _ignore, _ignore, None, policy
    )
    gc.collect()
    start = time.perf_counter()
    for chunk in chunks:
        pipeline.process(chunk)
    seconds = time.perf_counter() - start
    return seconds, counters.snapshot().get("overall", "valid")


def bench_pipeline(lines: Sequence[bytes], fmt: str, registry: SchemaRegistry, valid: int) -> Row:
    """Parse + capsule + validate + count, valid events dropped: the CPU cost per event."""
    chunks = pipeline_chunks(lines)
    best, counted = 0.0, valid
    for _ in range(REPEAT):
        seconds, counted = pipeline_run(chunks, fmt, registry)
        best = max(best, len(lines) / seconds)
    note = "" if counted == valid else f"counted {counted} valid, corpus has {valid}"
    return Row("", best, note=note)


def catalog_checks(registry: SchemaRegistry, opted_out: int = 1000) -> Policy:
    """The example catalog's checks, paid in full: each sampled schema's events are hashed
    (and then kept anyway, so validation still runs on all of them), and every user-field
    value is hashed (HMAC-SHA256) and looked up in a list of ``opted_out`` users."""
    catalog = load_catalog(EXAMPLE_CATALOG, registry)
    secret = b"bench-secret"
    hashes = frozenset(
        identity_hash(secret, "enwiki", "user-id", 10_000_000 + i) for i in range(opted_out)
    )
    matcher = OptOutMatcher(secret, hashes, catalog)
    sampler_for = samplers(catalog)

    def hashing_but_keeping(schema: str) -> Sampler | None:
        # The same hash of the same key, but modulo 1: every event kept, none skipped.
        sampler = sampler_for(schema)
        return None if sampler is None else Sampler(1, catalog.policy(schema).sample_key)

    return Policy(hashing_but_keeping, opt_out_checks(catalog, matcher))


def bench_checks(lines: Sequence[bytes], registry: SchemaRegistry, valid: int) -> list[Row]:
    """parse+validate+count with and without the example catalog's checks, in back-to-back
    pairs; the ratio is the median over the pairs, so a burst of load on a shared machine
    moves one pair, not the figure."""
    chunks = pipeline_chunks(lines)
    best = {False: 0.0, True: 0.0}
    ratios = []
    note = ""
    for _ in range(RATIO_PAIRS):
        rates = {}
        for checked in (False, True):
            seconds, counted = pipeline_run(
                chunks, "json", registry, catalog_checks(registry) if checked else None
            )
            rates[checked] = len(lines) / seconds
            best[checked] = max(best[checked], rates[checked])
            if counted != valid:
                note = f"counted {counted} valid, corpus has {valid}"
        ratios.append(rates[True] / rates[False])
    ratio = statistics.median(ratios)
    plain = judge(Row("", best[False], note=note), "parse+validate+count, JSON lines", 100_000)
    checked = Row(
        f"  + catalog sampling and opt-out checks ({ratio:.2f}x, pairs "
        f"{min(ratios):.2f}-{max(ratios):.2f})",
        best[True],
        target=">= 0.90x of the line above",
        ok=ratio >= 0.90 and not note,
        note=note,
    )
    return [plain, checked]


def sampled_share(rate: int = 10, events: int = 100_000) -> float:
    """Kept share over ``events`` distinct uuids at 1 in ``rate``."""
    sampler = Sampler(rate)
    kept = sum(sampler.keep({"uuid": f"{i:032x}", "event": {}}) for i in range(events))
    return kept / events


def _ignore(_: object) -> None:
    """accept / reject that do nothing: the store is measured separately."""


def forward(
    lines: Sequence[bytes], registry: SchemaRegistry, url: str, metrics: object | None = None
) -> tuple[float, int]:
    """One in-process Forwarder run into ``url``: (seconds, valid events counted)."""
    store = open_store(url)
    try:
        gc.collect()
        start = time.perf_counter()
        forwarder = Forwarder(
            ForwarderSettings(host="bench"), MemorySource(lines), registry, store, metrics=metrics
        )
        result = forwarder.run(threading.Event())
        seconds = time.perf_counter() - start
    finally:
        store.close()
    if result.pending:
        raise RuntimeError(f"{result.pending} events left pending")
    return seconds, result.counts.get("overall", "inserted")


def bench_sqlite(lines: Sequence[bytes], registry: SchemaRegistry, valid: int, tmp: Path) -> Row:
    best = 0.0
    note = ""
    for attempt in range(REPEAT):
        path = tmp / f"e2e-{attempt}.db"
        seconds, inserted = forward(lines, registry, f"sqlite:///{path}")
        rows = sqlite_rows(path)
        if rows != valid or inserted != valid:
            note = f"{rows} rows committed, {inserted} counted inserted, {valid} valid"
        best = max(best, len(lines) / seconds)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    return Row("", best, note=note)


def bench_emitting(lines: Sequence[bytes], registry: SchemaRegistry, tmp: Path) -> Row:
    """End to end into SQLite with and without metrics flushed every second (ten times the
    default pace) to a carbon that reads and discards, alternating runs: the emitter's cost."""
    sink = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Discard)
    sink.daemon_threads = True
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    host, port = sink.server_address[:2]
    best = {False: 0.0, True: 0.0}
    try:
        for attempt in range(REPEAT):
            for emitting in (False, True):
                path = tmp / f"emit-{attempt}-{emitting}.db"
                metrics = None
                if emitting:
                    settings = GraphiteSettings(host, port, "bench", "bench", interval=1.0)
                    metrics = MetricEmitter(settings)
                seconds, _ = forward(lines, registry, f"sqlite:///{path}", metrics)
                best[emitting] = max(best[emitting], len(lines) / seconds)
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
    finally:
        sink.shutdown()
        sink.server_close()
    ratio = best[True] / best[False]
    return Row(
        f"  + Graphite metrics every 1 s ({ratio:.2f}x)",
        best[True],
        target=">= 0.95x without",
        ok=ratio >= 0.95,
    )


class _Discard(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        while self.rfile.read(65536):
            pass


def bench_check_run(tmp: Path, runs: int = 20) -> list[Row]:
    """A check plugin's whole run, process start to exit, with its render query against a
    private graphite-web (tests/harness), next to ``python3 -c pass`` in the same run."""
    sys.path.insert(0, str(corpus.ROOT / "tests"))
    from harness.graphite import GraphiteServer, missing_packages

    missing = missing_packages()
    if missing:
        note = f"not measured: {', '.join(missing)} missing (scripts/ensure-monitoring)"
        return [Row("check_el_rate run, start to exit", None, unit="ms", note=note)]
    check = Path(sys.executable).with_name("check_el_rate")
    with GraphiteServer(tmp / "graphite") as graphite:
        now = int(time.time())
        graphite.send(
            f"eventlogging.bench.{scope}.raw.rate {rate} {now - age}"
            for age in range(120)
            for scope, rate in (("overall", 120), ("schema.NavigationTiming", 100))
        )
        graphite.wait_for("eventlogging.bench.overall.raw.rate", from_="-2min")
        args = [str(check), "--graphite", graphite.url, "--from", "-2min"]
        check_ms, output = _median_ms(args, runs)
        bare_ms, _ = _median_ms([sys.executable, "-c", "pass"], runs)
        notify = bench_notify(graphite.url, tmp, runs=10)
    return [
        notify,
        Row("python3 -c pass, start to exit", bare_ms, unit="ms"),
        Row(
            "check_el_rate run incl. render query",
            check_ms,
            unit="ms",
            target="median <= 250 ms",
            ok=check_ms <= 250 and output.startswith("EL_RATE OK"),
            note="" if output.startswith("EL_RATE OK") else f"unexpected output: {output}",
        ),
    ]


def bench_notify(graphite_url: str, tmp: Path, runs: int) -> Row:
    """`el-monitor notify` as Icinga runs it, process start to exit: render query, graphs,
    templates and the SMTP hand-off (two owner groups, so two graphs and two mails)."""
    from harness.smtp import smtp_server

    catalog = corpus.ROOT / "examples" / "el-monitor.toml"
    output = (
        "EL_RATE CRITICAL - 243 events/s over the last 10min (8 of 10 points above 200); "
        "top: NavigationTiming 180/s, EditAttemptStep 40/s"
    )
    with smtp_server() as smtp:
        times = []
        for run in range(runs):
            args = [
                str(Path(sys.executable).with_name("el-monitor")), "notify",
                "--config", str(catalog), "--smtp", f"127.0.0.1:{smtp.port}",
                "--graphite", graphite_url, "--state-file", str(tmp / f"notify-{run}.json"),
                "--mail-from", "el-monitor@example.org", "--type", "PROBLEM",
                "--host", "eventlogging", "--service", "el-rate", "--state", "CRITICAL",
                "--output", output, "--time", str(int(time.time())),
                "--perfdata", "rate=243;150;200;0 NavigationTiming=180;;;0 EditAttemptStep=40;;;0",
            ]  # fmt: skip
            start = time.perf_counter()
            done = subprocess.run(args, capture_output=True, text=True)
            times.append((time.perf_counter() - start) * 1000)
        mailed = len(smtp.handler.envelopes)
    times.sort()
    median = times[len(times) // 2]
    note = (
        ""
        if done.returncode == 0 and mailed == 2 * runs
        else (
            f"exit {done.returncode}, {mailed} mails for {runs} runs: {done.stderr.strip()[-200:]}"
        )
    )
    return Row(
        "el-monitor notify, start to exit (2 mails)", median, unit="ms",
        target="median <= 1,500 ms", ok=median <= 1500 and not note, note=note,
    )  # fmt: skip


def _median_ms(args: list[str], runs: int) -> tuple[float, str]:
    times, output = [], ""
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(args, capture_output=True, text=True)
        times.append((time.perf_counter() - start) * 1000)
        output = done.stdout.strip()
    times.sort()
    return times[len(times) // 2], output


def bench_report(tmp: Path, schemas: int = 55, days: int = 30) -> Row:
    """The daily report (collect in SQL, charts, HTML, text, the email) over ``schemas``
    schemas with ``days`` days of hourly counts and error groups, in SQLite: best of 3."""
    import datetime
    import random

    from el_monitor.report.report import Templates, collect, make_charts, report_message
    from el_monitor.store.counts import (
        COUNTS_TABLE,
        ERRORS_TABLE,
        MEASURES,
        create_counts_tables,
    )

    names = sorted(path.name for path in corpus.SCHEMAS.iterdir())[:schemas]
    day = datetime.date(2026, 11, 27)
    rng = random.Random(1)
    counts, errors = [], []
    for back in range(days):
        for hour in range(24):
            period = f"{day - datetime.timedelta(days=back)}T{hour:02d}:00:00Z"
            for name in names:
                valid, invalid = rng.randrange(100, 5000), rng.randrange(30)
                counts.append(
                    (period, "bench", name, valid + invalid, valid, invalid, 0, 0, valid, 0)
                )
                if hour % 6 == 0:
                    example = json.dumps({"schema": name, "event": {"token": "t" * 20}})
                    errors.append((period, "bench", name, "validation", "$.action", invalid,
                                   "'x' is not one of ['a', 'b']", example))  # fmt: skip
    store = open_store(f"sqlite:///{tmp / 'report.db'}")
    catalog_file = tmp / "report.toml"
    catalog_file.write_text('ops = ["ops@example.org"]\n')
    try:
        create_counts_tables(store)
        for table, columns, rows in (
            (COUNTS_TABLE, ("period", "instance", "schema_name", *MEASURES), counts),
            (ERRORS_TABLE, ("period", "instance", "schema_name", "code", "path", "count",
                            "message", "example"), errors),
        ):  # fmt: skip
            marks = "(" + ", ".join([store.dialect.mark] * len(columns)) + ")"
            for start in range(0, len(rows), 500):
                part = rows[start : start + 500]
                store.execute(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                    + ", ".join([marks] * len(part)),
                    [value for row in part for value in row],
                )
        catalog = load_catalog(catalog_file)
        best = float("inf")
        for _ in range(REPEAT):
            start = time.perf_counter()
            report = collect(store, catalog, day)
            report_message(report, "el-monitor@example.org", ["ops@example.org"],
                           make_charts(report), Templates())  # fmt: skip
            best = min(best, time.perf_counter() - start)
    finally:
        store.close()
    rows = len(counts) + len(errors)
    return Row(
        f"daily report: {schemas} schemas x {days} days ({rows:,} rows)",
        best,
        unit="s",
        target="<= 5 s",
        ok=best <= 5,
    )


def sqlite_rows(path: Path) -> int:
    return event_rows(f"sqlite:///{path}")


def event_rows(url: str) -> int:
    """Rows in the event tables (not the el_monitor_* bookkeeping ones)."""
    store = open_store(url)
    try:
        tables = [t for t in store.tables() if not t.startswith("el_monitor_")]
        quote = store.dialect.quote
        return sum(store.query(f"SELECT COUNT(*) FROM {quote(t)}")[0][0] for t in tables)
    finally:
        store.close()


@contextmanager
def scratch_database(url: str) -> Iterator[str]:
    """A fresh, uniquely named database on the server of ``url``, dropped afterwards."""
    import pymysql

    parts = urlsplit(url)
    params = {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 3306,
        "user": unquote(parts.username or "root"),
        "password": unquote(parts.password or ""),
        "connect_timeout": 10,
    }
    name = f"el_bench_{os.getpid()}_{secrets.token_hex(4)}"
    conn = pymysql.connect(**params)
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        try:
            yield parts._replace(path="/" + name).geturl()
        finally:
            with conn.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        conn.close()


def bench_mysql(lines: Sequence[bytes], registry: SchemaRegistry, valid: int, url: str) -> Row:
    best = 0.0
    note = ""
    for _ in range(REPEAT):
        with scratch_database(url) as scratch:
            seconds, inserted = forward(lines, registry, scratch)
            rows = event_rows(scratch)
        if rows != valid or inserted != valid:
            note = f"{rows} rows committed, {inserted} counted inserted, {valid} valid"
        best = max(best, len(lines) / seconds)
    return Row("", best, note=note)


# Runs the command in its argv and writes "<peak RSS KiB> <exit status>" to the file in argv[1].
# A fresh, small interpreter: a child forked straight from this big benchmark process would
# report this process's peak RSS (Linux records the parent's high-water mark at exec).
_LAUNCHER = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(f"{usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}")
"""


def run_cli(path: Path, valid: int, tmp: Path) -> tuple[float, float, str]:
    """The real ``el-monitor forward`` on a file, in a child: (events/s, peak RSS MB, note)."""
    db = tmp / f"cli-{path.stem}.db"
    cmd = [
        str(CLI),
        "forward",
        "--schemas",
        str(corpus.SCHEMAS),
        "--input",
        f"file://{path}",
        "--db",
        f"sqlite:///{db}",
    ]
    events = sum(1 for _ in path.open("rb"))
    usage = tmp / "cli.usage"
    with open(tmp / "cli.out", "wb") as out, open(tmp / "cli.err", "wb") as err:
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", _LAUNCHER, str(usage), *cmd],
            stdout=out,
            stderr=err,
            cwd=tmp,
            check=False,
        )
        seconds = time.perf_counter() - start
    rss_kib, status = map(int, usage.read_text().split())
    note = ""
    if status != 0:
        tail = (tmp / "cli.err").read_text(errors="replace").strip().splitlines()[-1:]
        note = f"exit {status}: {' '.join(tail)}"
    elif (rows := sqlite_rows(db)) != valid:
        note = f"{rows} rows committed, {valid} valid"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    return events / seconds, rss_kib * 1024 / 1e6, note


# ---- report -------------------------------------------------------------------------------------


def table(rows: Sequence[Row], baseline: float) -> str:
    header = ("measure", "result", "vs json.loads", "target", "")
    body = []
    for row in rows:
        if row.value is None:
            result, ratio = "-", ""
        elif row.unit == "ev/s":
            result, ratio = f"{row.value:,.0f} ev/s", f"{row.value / baseline:.2f}x"
        else:
            result, ratio = f"{row.value:,.1f} {row.unit}", ""
        verdict = {True: "PASS", False: "FAIL", None: ""}[row.ok]
        body.append((row.name, result, ratio, row.target, verdict))
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.ljust(w) if i in (0, 3, 4) else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    notes = [f"  ! {row.name}: {row.note}" for row in rows if row.note]
    return "\n".join([line(header), rule, *map(line, body), *notes])


def judge(row: Row, name: str, minimum: float | None = None, maximum: float | None = None) -> Row:
    row.name = name
    if row.value is None:
        row.ok = False
    elif minimum is not None:
        row.target = f">= {minimum:,.0f} {row.unit}"
        row.ok = row.value >= minimum and not row.note
    elif maximum is not None:
        row.target = f"< {maximum:,.0f} {row.unit}"
        row.ok = row.value < maximum and not row.note
    elif row.note:
        row.ok = False
    return row


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small corpus: a smoke run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-mysql", action="store_true", help="skip the MariaDB figure")
    args = parser.parse_args(argv)
    size, big, small = (20_000, 100_000, 25_000) if args.quick else (200_000, 1_000_000, 250_000)
    mysql_url = os.environ.get("EL_TEST_MYSQL_URL", DEFAULT_MYSQL_URL)

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="el-bench-") as name:
        tmp = Path(name)
        big_file, small_file = tmp / f"corpus-{big}.jsonl", tmp / f"corpus-{small}.jsonl"
        log(f"generating {big:,} JSON lines ({size:,} kept in memory) ...")
        data = make_corpus(size, "json", args.seed, {big: big_file, small: small_file})
        log(f"generating {size:,} raw varnish lines ...")
        raw = make_corpus(size, "raw", args.seed + 1)
        registry = open_registry(str(corpus.SCHEMAS), tmp / "schema-cache")
        rows: list[Row] = []

        log("baseline: json.loads loop ...")
        baseline = bench_json_loads(data.lines)
        rows.append(Row("baseline: stdlib json.loads loop", baseline))

        log("parse + validate + count (JSON lines), with and without the catalog's checks ...")
        rows.extend(bench_checks(data.lines, registry, data.valid))
        share = sampled_share()
        rows.append(
            Row(
                f"kept share at 1 in 10 (100,000 events: {share:.3%})",
                share * 100,
                unit="%",
                target="10 +- 0.5 %",
                ok=abs(share - 0.10) <= 0.005,
            )
        )
        log("parse + validate + count (raw varnish lines) ...")
        row = bench_pipeline(raw.lines, corpus.RAW_FORMAT, registry, raw.valid)
        rows.append(judge(row, "parse+validate+count, raw varnish lines"))

        if args.no_mysql:
            rows.append(Row("end to end -> MariaDB, committed", None, note="skipped (--no-mysql)"))
        else:
            log(f"end to end into MariaDB ({_safe(mysql_url)}) ...")
            try:
                row = bench_mysql(data.lines, registry, data.valid, mysql_url)
            except Exception as exc:  # the server is away: report it, keep measuring the rest
                row = Row("", None, note=f"not measured: {exc}")
            rows.append(judge(row, "end to end -> MariaDB, committed", minimum=30_000))
        log("end to end into SQLite ...")
        row = bench_sqlite(data.lines, registry, data.valid, tmp)
        rows.append(judge(row, "end to end -> SQLite, committed", minimum=50_000))

        log("end to end into SQLite with Graphite metrics every second ...")
        rows.append(bench_emitting(data.lines, registry, tmp))
        log("check_el_rate against a private graphite-web ...")
        rows.extend(bench_check_run(tmp))

        log("daily report over 30 days of counts ...")
        rows.append(bench_report(tmp))

        for n, path in ((big, big_file), (small, small_file)):
            log(f"el-monitor forward, {n:,} events, in a child process ...")
            rate, rss, note = run_cli(path, data.file_valid[n], tmp)
            rows.append(judge(Row("", rate, note=note), f"CLI forward {n:,} -> SQLite"))
            rss_row = Row("", rss, unit="MB", note=note)
            rows.append(judge(rss_row, f"CLI forward {n:,}: peak RSS", maximum=150))

    print(
        f"el-monitor benchmarks: Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"{len(data.lines):,}-line corpus ({data.valid:,} valid) over "
        f"{len(corpus.load_models())} schemas, best of {REPEAT}"
    )
    print()
    print(table(rows, baseline))
    print(
        "\nend to end = Forwarder over an in-memory source, rows committed and counted; "
        "CLI = el-monitor forward\non a file in a child process (wall time incl. start-up), "
        "peak RSS of that process."
    )
    print()
    print(f"total time {time.perf_counter() - started:.0f} s")
    return 0 if all(row.ok is not False for row in rows) else 1


def _safe(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(":" + parts.password + "@", ":***@")


if __name__ == "__main__":
    with suppress(KeyboardInterrupt):
        sys.exit(main())
    sys.exit(130)
