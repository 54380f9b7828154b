"""``make bench``: the forwarder's throughput, latency and memory against the issue's targets.

Every figure comes from synthetic corpora (``corpus.py``, ~10% invalid lines) generated before
anything is timed: real-size events (every property of the schema filled as production fills
it; NavigationTiming alone, and every schema mixed) for the issue 13 figures, and the small
events of the published examples for the rest.  Each is printed with how it was taken, as a
ratio to a floor or ceiling measured in the same run on the same lines (``orjson.loads``, or
unquoting and ``orjson.loads``, or ``LOAD DATA`` for the real-size figures; a bare
``json.loads`` loop for the small ones; a bare ``python3 -c pass`` for start-up times and
memory), so results from different machines can be compared, and with its target and verdict.
Stored row counts are checked against the corpus's known valid count, so a fast-but-wrong run
shows WRONG, not PASS.

The exit status says whether the benchmark ran, not whether every target was met: on a shared
2-core machine a timing verdict is information, not a build failure.  A crash of the benchmark
itself still exits non-zero.

    EL_TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/test .venv/bin/python benchmarks/run.py
    .venv/bin/python benchmarks/run.py --quick --real-only    # the real-size figures alone
"""

from __future__ import annotations

import argparse
import compileall
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path

import bench_backfill
import bench_backup
import bench_checks
import bench_cli
import bench_compare
import bench_failover
import bench_mail
import bench_memory
import bench_pipeline
import bench_publish
import bench_realsize
import bench_retention
import bench_rollups
import bench_scaleout
import bench_stores
import corpus_events
from bench_realsize import RealCorpora
from bench_stores import DEFAULT_MYSQL_URL
from measure import log
from private_mariadb import DESCRIPTION, production_server
from results import Figure, summary, table, titled
from workload import Corpus, make_corpus

import el_monitor
from el_monitor.schema.registry import SchemaRegistry, open_registry
from el_monitor.store.base import safe_url

SMALL = "small events"
LEGEND = f"""\
small events = the published examples varied (a few fields each, about 340 bytes a JSON line);
real = every property of each schema filled with values of real type, size and cardinality
(corpus_values.py): NavigationTiming only (about 1.1 KB a JSON line, 30-40 fields), or every
schema weighted as production traffic is (mixed); both about 10% invalid. Their floors: orjson.loads
of the same lines; raw lines: the %q field unquoted (stdlib unquote_plus or C a2b_qp, the faster)
then orjson.loads; MariaDB: LOAD DATA LOCAL INFILE of the same rows (TableLayout rows, TSV file).
end to end = Forwarder over an in-memory source, rows committed and counted (the real-size SQLite
file on /dev/shm, as issue 13 measured its baseline); CLI = el-monitor
forward on a file in a child process (wall time incl. start-up, el-monitor's modules
byte-compiled first, as an installed package has them), peak RSS of that process;
--workers 2 = the same events as two files, shared by two worker processes, against one process
reading both, into one SQLite file (or one MariaDB database); 2 separate forwarders (a half and a
SQLite file each, or both into the one database) are the ceiling of two processes on this machine
at that time. Into MariaDB, whose server shares the two cores, the target is to lose nothing
against those two separate forwarders (>= 0.95x them).
memory = peak RSS of el-monitor forward (a child, into a SQLite file) over a million real-size
NavigationTiming events, from a file and from its beacon: POSTs of 40 from 8 clients that send a
503's POST again, so the queue (64 MB by default) stays full; the floor is python3 -c pass.
rollup = retention's daily_timing rule (19 fields' count and p50/p75/p95 per wiki) on one day,
in seconds per million rows, against a COUNT(*) of the same table.
retention = el-monitor retention run --execute over rows spread across 200 days (55% past 90 days),
rows handled per second against bare DELETE/UPDATE ... WHERE id BETWEEN windows of the same batch
size on a copy of the same rows; the longest write transaction is every statement timed; the
forwarder beside retention runs while a child process runs retention on the same tables.
backup = el-monitor backup dump (per-table mariadb-dump of an id range between two range checksums,
sha256 as written, manifests, marker) then backup verify (sha256 of every file, range compared with
the source), in seconds against a bare mariadb-dump --single-transaction of the same table.
Rollups and retention run on a {DESCRIPTION}, sized for the data as a production server is
(the shared server when mariadbd is missing); the other MariaDB figures on the shared server.
backfill = el-monitor backfill's engine over the valid log a forwarder run wrote, valid events/s,
against that forwarder run's own rate on the same events (event logs on, into an empty SQLite).
backup compare = compare_tables (as el-monitor backup compare --no-replication) of two databases
holding the same rows, table rows per second, both queried at once, against CHECKSUM TABLE of both
at once (the server's own full-row checksum); it must find them equal, then one changed row's chunk.
taken: best of N = the fastest of N runs; middle of N pairs = of N back-to-back runs without and
with a feature, the pair whose ratio is the median: both its figures are shown, the ratio is theirs.
ratio: to the floor or ceiling named beside it, measured in this run (on the same lines for
throughputs: json.loads, orjson.loads, unquoting + orjson.loads, LOAD DATA; python3 -c pass for
start-up times and memory).
failover = el-monitor drill failover's engine on a private primary and GTID replica while a
forwarder (--db-file, its beacon) takes 2,000 events/s; RPO = canaries and stream events answered
2xx but not on the new primary; pause = longest time no row was written, against the same stream's
longest gap before the drill.
publish = el-monitor publish --input http:// in a child process, POST batches of 50 real-size
NavigationTiming events over 8 keep-alive connections, events/s answered 202 (each only once
JetStream acknowledged it; the stream is checked to hold one message per answer), against nats-py
publishing the same records straight to the same JetStream server, 64 awaiting acknowledgement.
scale-out = el-monitor forward --input nats:// processes, members of one new durable consumer of a
stream holding the NavigationTiming lines as publish writes them (records of 50), until every
message is acknowledged (each member acknowledges only what it committed): 2 members with a SQLite
file each against 1, their consuming rate from the first acknowledgement on (best of 2 each,
alternated); 1 member into MariaDB, from its start, against the same forwarder reading the same
lines from a file (start to exit); the forwarder drill: 2 members at 2,000 events/s, one
SIGKILLed, recovery = from the kill until every message delivered before it is stored.
verdict: WRONG = the output was checked and was wrong; NOT RUN = not measured; - = no target."""


def compile_package() -> None:
    """Byte-compile el-monitor's modules, as installing a package does (pip, Debian).  Where
    PYTHONDONTWRITEBYTECODE is set, as on the machines this runs on, an editable install is
    never compiled: every CLI child compiled every module again, 60 ms of a 110 ms start-up."""
    compileall.compile_dir(Path(el_monitor.__file__).parent, quiet=1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small corpus: a smoke run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-mysql", action="store_true", help="skip the MariaDB figure")
    parser.add_argument(
        "--real-only", action="store_true", help="only the real-size figures (corpus_values.py)"
    )
    args = parser.parse_args(argv)
    size, big, small = (20_000, 100_000, 25_000) if args.quick else (200_000, 1_000_000, 250_000)
    memory_size = big  # real-size events for the memory figures (issue 13: a million)
    rollup_rows = 100_000 if args.quick else 1_000_000
    mysql_url = None if args.no_mysql else os.environ.get("EL_TEST_MYSQL_URL", DEFAULT_MYSQL_URL)

    started = time.perf_counter()
    compile_package()
    with tempfile.TemporaryDirectory(prefix="el-bench-") as name:
        tmp = Path(name)
        registry = open_registry(str(corpus_events.SCHEMAS), tmp / "schema-cache")
        real = RealCorpora(size, args.seed)
        log("real-size events ...")
        figures = bench_realsize.realsize(real, registry, mysql_url, tmp)
        timing = real.timing("json")  # made again, the same lines: none was kept
        figures += bench_publish.publish(timing.lines, tmp)
        figures += bench_scaleout.scaleout(timing.lines, timing.valid, mysql_url, tmp)
        log(f"{bench_realsize.TIMING}: el-monitor forward --workers 2 against one worker ...")
        figures += bench_realsize.workers(bench_realsize.TIMING, timing, mysql_url, tmp)
        del timing
        figures += bench_memory.memory(args.seed + 6, memory_size, tmp)
        if args.real_only:
            return report(f"{size:,}-line real-size corpora", figures, started)
        files = {big: tmp / f"corpus-{big}.jsonl", small: tmp / f"corpus-{small}.jsonl"}
        log(f"generating {big:,} small-event JSON lines ({size:,} kept in memory) ...")
        data = make_corpus(size, "json", args.seed, files)
        log(f"generating {size:,} small-event raw varnish lines ...")
        raw = make_corpus(size, "raw", args.seed + 1)
        figures += measure_all(data, raw, registry, files, mysql_url, tmp)
        with production_server(mysql_url) as (server_url, _):
            log(f"retention rollup over a day of {rollup_rows:,} NavigationTiming rows ...")
            figures.append(bench_rollups.rollup(registry, server_url, rollup_rows))
            log(f"retention purge and sanitize over {rollup_rows:,} rows a table ...")
            figures += bench_retention.retention(registry, server_url, rollup_rows, args.seed)
            log(f"backup dump + verify of {rollup_rows:,} NavigationTiming rows ...")
            figures += bench_backup.backup(registry, server_url, rollup_rows, args.seed)
        log("failover drill under a forwarder at 2,000 events/s, private MariaDB servers ...")
        figures += bench_failover.failover(tmp / "failover")
        log(f"backup compare of two copies of {rollup_rows:,} NavigationTiming rows ...")
        figures += bench_compare.compare(registry, mysql_url, rollup_rows, args.seed)

    corpora = (
        f"{len(data.lines):,}-line corpora (small events: {data.valid:,} valid) over "
        f"{len(corpus_events.load_models())} schemas"
    )
    return report(corpora, figures, started)


def report(corpora: str, figures: list[Figure], started: float) -> int:
    """The table, its legend and the verdicts on stdout."""
    python = platform.python_version()
    print(f"el-monitor benchmarks: Python {python}, {os.cpu_count()} CPUs, {corpora}")
    print()
    print(table(figures))
    print()
    print(LEGEND)
    print()
    print(f"verdicts: {summary(figures)}; information only: the exit status says the run ended")
    print(f"total time {time.perf_counter() - started:.0f} s")
    return 0


def small_events(figures: list[Figure]) -> list[Figure]:
    """Figures taken on the small-event corpus, named so."""
    return titled(SMALL, figures)


def measure_all(
    data: Corpus,
    raw: Corpus,
    registry: SchemaRegistry,
    files: dict[int, Path],
    mysql_url: str | None,
    tmp: Path,
) -> list[Figure]:
    """Every figure, in table order."""
    log("small events: json.loads loop ...")
    ceiling, baseline = bench_pipeline.json_loads_ceiling(data.lines)
    figures = small_events([baseline])
    log("small events: parse + validate + count (JSON lines), with and without checks ...")
    figures += small_events(bench_pipeline.json_pipeline(data, registry, ceiling))
    figures.append(bench_pipeline.kept_share())
    log("small events: parse + validate + count (raw varnish lines) ...")
    figures += small_events([bench_pipeline.raw_pipeline(raw, registry, ceiling)])

    if mysql_url is not None:
        log(f"small events: end to end into MariaDB ({safe_url(mysql_url)}) ...")
    figures += small_events([bench_stores.mariadb(data, registry, mysql_url, ceiling)])
    log("small events: end to end into SQLite, with and without Graphite metrics ...")
    figures += small_events(bench_stores.sqlite(data, registry, tmp, ceiling))

    log("small events: backfill from the forwarder's valid log into SQLite ...")
    figures += small_events(bench_backfill.backfill(data, registry, tmp))

    log("python3 -c pass, check_el_rate and el-monitor notify against a private graphite-web ...")
    floor, bare = bench_checks.start_to_exit_floor()
    figures.append(bare)
    missing = bench_checks.missing_graphite()
    if missing:
        why = f"not measured: {', '.join(missing)} missing (scripts/ensure-monitoring)"
        figures.append(bench_checks.CHECK_RUN.not_measured(why))
        figures.append(bench_mail.NOTIFY.not_measured(why))
    else:
        with bench_checks.graphite_with_rates(tmp) as graphite:
            figures.append(bench_checks.check_run(graphite, floor))
            figures.append(bench_mail.notify(graphite, tmp, floor))
    log("daily report over 30 days of counts ...")
    figures.append(bench_mail.daily_report(tmp))

    memory_floor, bare_rss = bench_cli.rss_floor(tmp)
    figures.append(bare_rss)
    for lines, path in sorted(files.items(), reverse=True):
        log(f"el-monitor forward, {lines:,} events, in a child process ...")
        valid = data.file_valid[lines]
        figures += small_events(
            bench_cli.forward_file(path, lines, valid, tmp, ceiling, memory_floor)
        )
    small = min(files)
    log(f"el-monitor forward --workers 2 against one worker, {small:,} events ...")
    figures += small_events(
        bench_cli.forward_workers(files[small], small, data.file_valid[small], tmp)
    )
    if mysql_url is not None:
        log(f"el-monitor forward --workers 2 against one worker into MariaDB, {small:,} events ...")
        figures += small_events(
            bench_cli.forward_workers(files[small], small, data.file_valid[small], tmp, mysql_url)
        )
    return figures


if __name__ == "__main__":
    with suppress(KeyboardInterrupt):
        sys.exit(main())
    sys.exit(130)
