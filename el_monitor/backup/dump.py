"""``backup dump``: a new dated directory, per table a ``mariadb-dump`` file and its manifest,
and the completion marker last.

What a manifest states must be what its file holds.  ``mariadb-dump --single-transaction``
reads in a snapshot of its own that no other session can share, so the manifest's numbers are
made to hold by bracketing: the table's id range is read, its count and checksum taken, the
dump restricted to that range (``--where id BETWEEN``), and the count and checksum taken again.
Inside a range rows only ever go (purges), lose values (sanitizing) or arrive late (a
transaction committing an id it took before others): each changes the checksum for good,
never back, so equal checksums before and after mean the range did not change while the dump
read it.  Otherwise the table is dumped again (``ATTEMPTS`` in all); rows inserted after the
range was read are left for the next dump.  A table that fails leaves the directory without
its marker: a partial dump, which ``backup verify`` reports.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from el_monitor.backup.client import defaults_file, dump_to_file, tool_version
from el_monitor.backup.manifest import (
    Marker,
    TableManifest,
    new_backup_dir,
    now_iso,
    write_manifest,
    write_marker,
)
from el_monitor.errors import UserError
from el_monitor.progress import ProgressSink
from el_monitor.store import Store
from el_monitor.store.base import safe_url
from el_monitor.store.checksum import IdSpan, id_span, range_checksum
from el_monitor.store.dumps import DUMP_TOOL, RangeState, dump_argv, has_id, range_state

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
    with defaults_file(store.url) as (defaults, database):
        for table in names:
            manifest = _dump_table(store, directory, defaults, database, table, version, compress)
            result.manifests.append(manifest)
            if progress is not None:
                progress.advance(manifest.rows, table)
    digests = {m.table: write_manifest(directory, m) for m in result.manifests}
    write_marker(
        directory,
        Marker(
            started=started,
            ended=now_iso(),
            source=safe_url(store.url),
            tables=digests,
            rows=sum(m.rows for m in result.manifests),
            size=sum(m.size for m in result.manifests),
        ),
    )
    result.seconds = time.perf_counter() - clock
    return result


def dump_plan(
    store: Store, tables: Sequence[str] = ()
) -> Iterator[tuple[str, tuple[int | None, int | None], RangeState]]:
    """What a dump would cover now, per table: its id range and rows (``--dry-run``)."""
    for table in _tables(store, tables):
        span = id_span(store, table)
        ids = (span.first, span.last) if span else (None, None)
        yield table, ids, range_state(store, table, span)


def _tables(store: Store, wanted: Sequence[str]) -> list[str]:
    present = {t.lower(): t for t in store.tables()}
    names = [present.get(t.lower(), t) for t in wanted] if wanted else sorted(present.values())
    missing = [t for t in names if t.lower() not in present]
    if missing:
        raise UserError(f"no table {', '.join(missing)} in {safe_url(store.url)}; check --table")
    keyless = [t for t in names if not has_id(store, t)]
    if keyless:
        raise UserError(
            f"{', '.join(keyless)} has no id column: a manifest covers an id range; "
            "name the tables to dump with --table"
        )
    return names


def _dump_table(
    store: Store,
    directory: Path,
    defaults: Path,
    database: str,
    table: str,
    version: str,
    compress: bool,
) -> TableManifest:
    file = f"{table}.sql.gz" if compress else f"{table}.sql"
    for attempt in range(1, ATTEMPTS + 1):
        started = now_iso()
        span = id_span(store, table)
        before = _range_checksum(store, table, span)
        sanitized = range_state(store, table, span).sanitized
        argv = dump_argv(defaults, database, table, span)
        written = dump_to_file(argv, directory / file, compress)
        if written.exit_status != 0:
            raise DumpFailed(
                f"{DUMP_TOOL} failed on {table} (exit status {written.exit_status}): "
                f"{written.error}; {directory} is left partial"
            )
        after = _range_checksum(store, table, span)
        if after == before and range_state(store, table, span).sanitized == sanitized:
            return TableManifest(
                table=table,
                file=file,
                rows=before[0],
                first_id=span.first if span else None,
                last_id=span.last if span else None,
                checksum=before[1],
                sanitized=sanitized,
                sha256=written.sha256,
                size=written.size,
                tool=DUMP_TOOL,
                tool_version=version,
                exit_status=written.exit_status,
                started=started,
                ended=now_iso(),
                source=safe_url(store.url),
                attempts=attempt,
            )
        log.warning(
            "%s: ids %s changed while they were dumped (%s -> %s rows); dumping again",
            table, _ids(span), before[0], after[0],
        )  # fmt: skip
    raise DumpFailed(
        f"{table}: its rows kept changing while they were dumped ({ATTEMPTS} attempts; "
        f"retention or a purge running?); {directory} is left partial: run the dump again later"
    )


def _range_checksum(store: Store, table: str, span: IdSpan | None) -> tuple[int, int | None]:
    if span is None:
        return 0, None
    found = range_checksum(store, table, span.first, span.last)
    return found.rows, found.checksum


def _ids(span: IdSpan | None) -> str:
    return "(none)" if span is None else f"{span.first}..{span.last}"
