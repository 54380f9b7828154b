"""``backup dump``: a new dated directory, per table a ``mariadb-dump`` file and its manifest,
and the completion marker last.

What a manifest states must be what its file holds.  ``mariadb-dump --single-transaction``
reads in a snapshot of its own that no other session can share, so the manifest's numbers are
made to hold by bracketing.  The table's id range is read; another session opens a consistent
snapshot and, while the dump of that range (``--where id BETWEEN``) runs, takes the range's
row count, checksum and sanitized rows as they were before the dump began; after the dump
they are taken again.  Inside a range rows only ever go (purges), lose values (sanitizing) or
arrive late (a transaction committing an id it took before others): each changes the checksum
for good, never back, so the same figures before and after mean the range did not change
while the dump read it.  Otherwise the table is dumped again (``ATTEMPTS`` in all).  Rows
inserted after the range was read are left for the next dump.

That holds for event tables, which only grow at the end; el-monitor's own tables (counts
added to in place, run state) and rollups (periods replaced) are dumped whole, their manifests
stating no range, rows or checksum.  A table that fails leaves the directory without its
marker: a partial dump, which ``backup verify`` reports.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from el_monitor.backup.client import Written, defaults_file, dump_to_file, tool_version
from el_monitor.backup.manifest import (
    Marker,
    TableManifest,
    new_backup_dir,
    now_iso,
    write_manifest,
    write_marker,
)
from el_monitor.backup.source import Snapshot
from el_monitor.errors import UserError
from el_monitor.progress import ProgressSink
from el_monitor.store import Store
from el_monitor.store.base import safe_url
from el_monitor.store.checksum import IdSpan, id_span, range_checksum
from el_monitor.store.dumps import (
    DUMP_TOOL,
    dump_argv,
    range_state,
    sanitized_rows,
    snapshot_reader,
)
from el_monitor.store.retention_rows import event_tables

log = logging.getLogger(__name__)

ATTEMPTS = 3


class DumpFailed(UserError):
    """A table could not be dumped: the directory stays partial (no marker)."""


@dataclass
class DumpResult:
    directory: Path
    manifests: list[TableManifest] = field(default_factory=list)
    seconds: float = 0.0


def run_dump(
    store: Store,
    root: Path,
    tables: Sequence[str] = (),
    *,
    compress: bool = True,
    progress: ProgressSink | None = None,
) -> DumpResult:
    """Dump ``tables`` (default: every table of the database) of ``store`` under ``root``."""
    if store.dialect.name != "mysql":
        raise UserError(f"backup dump needs MariaDB or MySQL, not {store.dialect.name}")
    names = _tables(store, tables)
    version = tool_version()
    started = now_iso()
    clock = time.perf_counter()
    directory = new_backup_dir(root, datetime.datetime.now(datetime.UTC))
    result = DumpResult(directory)
    log.info("dumping %d tables of %s into %s", len(names), safe_url(store.url), directory)
    ranged = set(event_tables(store))
    digests = {}
    with defaults_file(store.url) as (defaults, database):
        target = _Target(directory, defaults, database, version, compress)
        for table in names:
            manifest = _dump_table(store, target, table, table in ranged)
            digests[table] = write_manifest(directory, manifest)
            result.manifests.append(manifest)
            if progress is not None:
                progress.advance(manifest.rows or 0, table)
    write_marker(
        directory,
        Marker(
            started=started,
            ended=now_iso(),
            source=safe_url(store.url),
            tables=digests,
            rows=sum(m.rows or 0 for m in result.manifests),
            size=sum(m.size for m in result.manifests),
        ),
    )
    result.seconds = time.perf_counter() - clock
    return result


def dump_plan(
    store: Store, tables: Sequence[str] = ()
) -> Iterator[tuple[str, tuple[int | None, int | None], int | None]]:
    """What a dump would cover now, per table: its id range and rows (``--dry-run``); a table
    dumped whole has neither."""
    ranged = set(event_tables(store))
    for table in _tables(store, tables):
        if table not in ranged:
            yield table, (None, None), None
            continue
        span = id_span(store, table)
        ids = (span.first, span.last) if span else (None, None)
        yield table, ids, range_state(store, table, span).rows


def _tables(store: Store, wanted: Sequence[str]) -> list[str]:
    present = {t.lower(): t for t in store.tables()}
    names = [present.get(t.lower(), t) for t in wanted] if wanted else sorted(present.values())
    missing = [t for t in names if t.lower() not in present]
    if missing:
        raise UserError(f"no table {', '.join(missing)} in {safe_url(store.url)}; check --table")
    return names


def _dump_table(store: Store, target: _Target, table: str, ranged: bool) -> TableManifest:
    if not ranged:
        return _dump_whole(store, target, table)
    for attempt in range(1, ATTEMPTS + 1):
        started = now_iso()
        span = id_span(store, table)
        argv = dump_argv(target.defaults, target.database, table, span)
        before, written = _bracketed_dump(store, target, table, span, argv)
        after = _range_state(store, table, span)
        if after == before:
            return _manifest(store, target, table, written, started, attempt).with_range(
                before.rows, span, before.checksum, before.sanitized
            )
        log.warning(
            "%s: ids %s changed while they were dumped (%s -> %s rows); dumping again",
            table, _ids(span), before.rows, after.rows,
        )  # fmt: skip
    raise DumpFailed(
        f"{table}: its rows kept changing while they were dumped ({ATTEMPTS} attempts; "
        f"retention or a purge running?); {target.directory} is left partial: run the dump "
        "again later"
    )


def _bracketed_dump(
    store: Store, target: _Target, table: str, span: IdSpan | None, argv: list[str]
) -> tuple[Snapshot, Written]:
    """The range as a snapshot taken before the dump started sees it, read by another
    session while the dump runs, and the dump."""
    with (
        snapshot_reader(store) as reader,
        ThreadPoolExecutor(1, thread_name_prefix="el-dump-checksum") as pool,
    ):
        before = pool.submit(_range_state, reader, table, span)
        written = _write(target, table, argv)
        return before.result(), written


def _range_state(store: Store, table: str, span: IdSpan | None) -> Snapshot:
    if span is None:
        return Snapshot(0, 0, None)
    found = range_checksum(store, table, span.first, span.last)
    return Snapshot(found.rows, sanitized_rows(store, table, span), found.checksum)


def _dump_whole(store: Store, target: _Target, table: str) -> TableManifest:
    """A table updated in place (counts, state, rollups): all of it, in the dump's snapshot;
    its manifest states no range, rows or checksum, which no other read could match."""
    started = now_iso()
    argv = dump_argv(target.defaults, target.database, table, None, whole=True)
    return _manifest(store, target, table, _write(target, table, argv), started, 1)


class _Target(NamedTuple):
    directory: Path
    defaults: Path
    database: str
    version: str
    compress: bool

    def file(self, table: str) -> str:
        return f"{table}.sql.gz" if self.compress else f"{table}.sql"


def _write(target: _Target, table: str, argv: list[str]) -> Written:
    written = dump_to_file(argv, target.directory / target.file(table), target.compress)
    if written.exit_status != 0:
        raise DumpFailed(
            f"{DUMP_TOOL} failed on {table} (exit status {written.exit_status}): "
            f"{written.error}; {target.directory} is left partial"
        )
    return written


def _manifest(
    store: Store, target: _Target, table: str, written: Written, started: str, attempts: int
) -> TableManifest:
    return TableManifest(
        table=table,
        file=target.file(table),
        rows=None,
        first_id=None,
        last_id=None,
        checksum=None,
        sanitized=0,
        sha256=written.sha256,
        size=written.size,
        tool=DUMP_TOOL,
        tool_version=target.version,
        exit_status=written.exit_status,
        started=started,
        ended=now_iso(),
        source=safe_url(store.url),
        attempts=attempts,
    )


def _ids(span: IdSpan | None) -> str:
    return "(none)" if span is None else f"{span.first}..{span.last}"
