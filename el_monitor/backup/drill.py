"""``drill restore``: prove the newest complete backup restores, into a scratch database.

A new uniquely named database (``el_drill_<time>_<random>``) is made on the given server; each
table's file is checked against its manifest (sha256), replayed with the ``mariadb`` client,
and the restored table compared with its manifest (id range, rows, checksum of the range) and,
given a source, with the source now (``source.against_source``, the rule ``backup verify``
uses).  Every step is timed.  The scratch database is dropped at the end whatever happened:
a failed step, an error, or an interrupt (the CLI turns SIGTERM into one).
"""

from __future__ import annotations

import datetime
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from el_monitor.backup.client import client_tool, defaults_file, load_file
from el_monitor.backup.findings import Finding, Level
from el_monitor.backup.hops import open_database
from el_monitor.backup.manifest import MARKER, Backup, TableManifest, file_digest, list_backups
from el_monitor.backup.source import Snapshot, against_source
from el_monitor.errors import UserError
from el_monitor.progress import ProgressSink
from el_monitor.store import Store
from el_monitor.store.checksum import IdSpan, id_span, range_checksum
from el_monitor.store.dumps import (
    SCRATCH_PREFIX,
    create_database,
    drop_database,
    load_argv,
    sanitized_rows,
    with_database,
)

DRILL = "drill"


@dataclass
class DrillReport:
    backup: Backup
    scratch: str
    findings: list[Finding] = field(default_factory=list)
    steps: list[tuple[str, float]] = field(default_factory=list)  # (step, seconds)
    dropped: bool = False


def find_backup(path: Path) -> Backup:
    """``path`` itself when it is a complete backup, else the newest complete one under it."""
    if (path / MARKER).is_file():
        for backup in list_backups(path.parent):
            if backup.path == path and backup.marker is not None:
                return backup
    if not path.is_dir():
        raise UserError(f"no backup directory {path}; check --from or the hop's dir")
    complete = [b for b in list_backups(path) if b.marker is not None]
    if not complete:
        raise UserError(f"no complete backup in {path}: nothing to restore")
    return complete[-1]


def scratch_database_name(now: datetime.datetime) -> str:
    return f"{SCRATCH_PREFIX}{now:%Y%m%d%H%M%S}_{secrets.token_hex(4)}"


def restore_drill(
    backup: Backup, server_url: str, source: Store | None, progress: ProgressSink | None = None
) -> DrillReport:
    """Run the drill; the report holds every finding and step time, the scratch database
    is gone when it returns or raises."""
    client_tool()
    name = scratch_database_name(datetime.datetime.now(datetime.UTC))
    report = DrillReport(backup, name)
    with _timed(report, "total"), _scratch(server_url, name, report) as scratch_url:
        scratch = _open(scratch_url)
        try:
            with defaults_file(scratch_url) as (defaults, database):
                argv = load_argv(defaults, database)
                for manifest in _manifests(report):
                    _table(report, manifest, argv, scratch, source)
                    if progress is not None:
                        progress.advance(1, manifest.table)
        finally:
            scratch.close()
    return report


def _manifests(report: DrillReport) -> Iterator[TableManifest]:
    """Each table's manifest; one that cannot be read is a finding, not the drill's end."""
    assert report.backup.marker is not None
    for table in report.backup.marker.tables:
        try:
            yield report.backup.manifest(table)
        except (OSError, ValueError, TypeError) as exc:
            text = f"{table}: manifest missing or unreadable ({exc}): not restored"
            report.findings.append(Finding(DRILL, Level.CRITICAL, text))


def _open(url: str) -> Store:
    store = open_database(url)
    if isinstance(store, str):
        raise UserError(f"drill restore: {store} (check --db)")
    return store


@contextmanager
def _scratch(server_url: str, name: str, report: DrillReport) -> Iterator[str]:
    """The scratch database, dropped afterwards.  The drop is armed before the CREATE: a
    signal that lands while the server answers it (the database made, the answer not yet
    read) still drops it, on a session of its own, since the interrupted one is out of step."""
    server = _open(server_url)
    try:
        create_database(server, name)
        yield with_database(server_url, name)
    finally:
        server.close()
        with _timed(report, "drop scratch database"):
            dropping = _open(server_url)
            try:
                drop_database(dropping, name)  # IF EXISTS; the name is this drill's alone
            finally:
                dropping.close()
        report.dropped = True


@contextmanager
def _timed(report: DrillReport, step: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        report.steps.append((step, time.perf_counter() - start))


def _table(
    report: DrillReport,
    manifest: TableManifest,
    argv: list[str],
    scratch: Store,
    source: Store | None,
) -> None:
    table, say = manifest.table, report.findings.append
    with _timed(report, f"{table}: check file"):
        digest, size = file_digest(report.backup.path / manifest.file)
    if digest != manifest.sha256 or size != manifest.size:
        say(Finding(DRILL, Level.CRITICAL, f"{table}: {manifest.file} does not match its "
                    "manifest's sha256: the dump is corrupt"))  # fmt: skip
    with _timed(report, f"{table}: load"):
        try:
            status, errors = load_file(argv, report.backup.path / manifest.file)
        except (OSError, EOFError) as exc:
            status, errors = -1, str(exc)
    if status != 0:
        say(Finding(DRILL, Level.CRITICAL, f"{table}: restore failed: {errors}"))
        return
    if manifest.rows is None:
        made = scratch.table_exists(table)
        say(Finding(DRILL, Level.OK if made else Level.CRITICAL, f"{table}: " + (
            "restored (updated in place: its manifest states no range to compare)"
            if made else "the restore created no table")))  # fmt: skip
        return
    with _timed(report, f"{table}: compare with manifest"):
        restored = _restored(scratch, table)
        say(_with_manifest(manifest, *restored))
    if source is not None:
        with _timed(report, f"{table}: compare with source"):
            say(
                against_source(DRILL, table, restored[0], restored[1], source, "the restored table")
            )


def _restored(scratch: Store, table: str) -> tuple[IdSpan | None, Snapshot]:
    if not scratch.table_exists(table):
        return None, Snapshot(-1, 0, None)
    span = id_span(scratch, table)
    if span is None:
        return None, Snapshot(0, 0, None)
    found = range_checksum(scratch, table, span.first, span.last)
    return span, Snapshot(found.rows, sanitized_rows(scratch, table, span), found.checksum)


def _with_manifest(manifest: TableManifest, span: IdSpan | None, got: Snapshot) -> Finding:
    table = manifest.table
    if got.rows < 0:
        return Finding(DRILL, Level.CRITICAL, f"{table}: the restore created no table")
    wanted_span = (manifest.first_id, manifest.last_id)
    have_span = (span.first, span.last) if span else (None, None)
    problems = []
    if have_span != wanted_span:
        problems.append(f"ids {_ids(have_span)}, manifest {_ids(wanted_span)}")
    if got.rows != manifest.rows:
        problems.append(f"{got.rows} rows, manifest {manifest.rows}")
    if got.checksum != manifest.checksum:
        problems.append(f"checksum {got.checksum}, manifest {manifest.checksum}")
    if problems:
        text = f"{table}: restored table differs from its manifest: {'; '.join(problems)}"
        return Finding(DRILL, Level.CRITICAL, text)
    return Finding(DRILL, Level.OK, f"{table}: restored {got.rows} rows, ids "
                   f"{_ids(have_span)}, checksum as in the manifest")  # fmt: skip


def _ids(span: tuple[int | None, int | None]) -> str:
    return "(none)" if span[0] is None else f"{span[0]}..{span[1]}"


def describe(report: DrillReport) -> str:
    return f"restore drill of {report.backup.path} into {report.scratch}"
