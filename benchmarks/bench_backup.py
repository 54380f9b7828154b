"""Backups on MariaDB: ``backup dump`` then ``backup verify`` of a million realistic rows (target
<= 30 s together), against a bare ``mariadb-dump --single-transaction`` of the same table into a
plain file, measured in the same run (the floor: what any dump costs).

The rows are retention's NavigationTiming rows (``retention_data``: page loads as real clients
report them, stored by the store's own multi-row inserts).  The dump is run as the command runs
it (``run_dump``: per table an id range bracketed by two range checksums, the file hashed as it
is written, manifests and marker), gzip (the default) and plain, for the size against time
trade; verify is ``verify_chain`` over a catalog naming the dump directory and the database as
its source (every file's sha256, the range compared with the source).  A dump or verify whose
output is wrong (rows missing from a manifest, a finding that is not OK) is WRONG, not PASS.

Runnable alone: ``benchmarks/bench_backup.py [--quick]``.
"""

from __future__ import annotations

import argparse
import datetime
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import corpus_events
import retention_data as data
from bench_stores import DEFAULT_MYSQL_URL, scratch_database
from measure import log
from results import Figure, Planned, Reference, at_most

from el_monitor.backup.client import defaults_file
from el_monitor.backup.dump import DumpResult, run_dump
from el_monitor.backup.findings import Level
from el_monitor.backup.verify import verify_chain
from el_monitor.catalog.model import BackupHop
from el_monitor.schema.registry import SchemaRegistry, open_registry
from el_monitor.store import Store, open_store
from el_monitor.store.dumps import DUMP_TOOL

TOTAL = Planned("backup dump + verify (gzip)", "s", at_most(30, "s"))
FLOOR = "bare mariadb-dump"


def backup(registry: SchemaRegistry, url: str | None, rows: int, seed: int = 1) -> list[Figure]:
    if url is None:
        return [TOTAL.not_measured("skipped (--no-mysql)")]
    try:
        open_store(url).close()
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server: not measured
        return [TOTAL.not_measured(f"not measured: {exc}")]
    with tempfile.TemporaryDirectory(prefix="el-bench-backup-") as tmp, scratch_database(url) as db:
        return _measure(registry, db, Path(tmp), rows, seed)


def _measure(registry: SchemaRegistry, url: str, tmp: Path, rows: int, seed: int) -> list[Figure]:
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    store = open_store(url)
    try:
        log(f"backup: seeding {rows:,} NavigationTiming rows ...")
        table = data.seed_table(store, registry, data.Events(seed), data.SANITIZED, rows, now)
        log("backup: floor: bare mariadb-dump --single-transaction into a file ...")
        floor = Reference(FLOOR, _bare_dump(url, table, tmp / "bare.sql"))
        log("backup: backup dump, plain ...")
        plain, plain_seconds = _dump(store, tmp / "plain", table, compress=False)
        log("backup: backup dump, gzip ...")
        packed, dump_seconds = _dump(store, tmp / "gzip", table, compress=True)
    finally:
        store.close()
    hops = (
        BackupHop("db", "primary", db=url),
        BackupHop("dumps", "dumps", dir=str(tmp / "gzip"), source="db", schedule="1d",
                  schedule_seconds=86400),
    )  # fmt: skip
    log("backup: backup verify ...")
    start = time.perf_counter()
    findings = verify_chain(hops, datetime.datetime.now(datetime.UTC))
    verify_seconds = time.perf_counter() - start
    bad = [f"{f.level.name} {f.text}" for f in findings if f.level is not Level.OK]
    problem = _dump_problem(packed, rows) or _dump_problem(plain, rows) or "; ".join(bad)[:200]
    size_gz, size_plain = packed.manifests[0].size, plain.manifests[0].size
    total = dump_seconds + verify_seconds
    return [
        TOTAL.measured(
            total,
            f"1 run, {rows:,} rows: dump {dump_seconds:.1f} s + verify {verify_seconds:.1f} s",
            floor,
            problem,
        ),
        Figure("  backup dump, gzip level 1", dump_seconds, "s",
               f"1 run, {size_gz / 2**20:,.0f} MiB", floor, problem=problem),
        Figure("  backup dump, plain (--no-compress)", plain_seconds, "s",
               f"1 run, {size_plain / 2**20:,.0f} MiB", floor, problem=problem),
        Figure("  backup verify (sha256, source compare)", verify_seconds, "s", "1 run",
               problem=problem),
        Figure(f"  {FLOOR}", floor.value, "s", "1 run, plain file, no manifest"),
    ]  # fmt: skip


def _bare_dump(url: str, table: str, path: Path) -> float:
    """Seconds of ``mariadb-dump --single-transaction`` of ``table`` into a plain file."""
    with defaults_file(url) as (defaults, database), open(path, "wb") as out:
        argv = [DUMP_TOOL, f"--defaults-extra-file={defaults}", "--single-transaction",
                "--skip-lock-tables", "--no-tablespaces", database, table]  # fmt: skip
        start = time.perf_counter()
        subprocess.run(argv, stdout=out, check=True)
        return time.perf_counter() - start


def _dump(store: Store, root: Path, table: str, compress: bool) -> tuple[DumpResult, float]:
    start = time.perf_counter()
    result = run_dump(store, root, [table], compress=compress)
    return result, time.perf_counter() - start


def _dump_problem(result: DumpResult, rows: int) -> str:
    [manifest] = result.manifests
    if manifest.rows != rows or manifest.exit_status != 0:
        return f"dump: {manifest.rows:,} of {rows:,} rows, exit status {manifest.exit_status}"
    return ""


def main() -> int:
    from results import table

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100k rows, not 1M")
    parser.add_argument("--url", default=DEFAULT_MYSQL_URL, help="the server to measure on")
    args = parser.parse_args()
    registry = open_registry(str(corpus_events.SCHEMAS), tempfile.gettempdir())
    print(table(backup(registry, args.url, 100_000 if args.quick else 1_000_000)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
