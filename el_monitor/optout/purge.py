"""``el-monitor optout purge``: delete rows already stored for users on the opt-out list.

Tables are scanned in primary-key order in batches; the keyed hash needs the site secret, so
matching happens here, not in SQL.  Progress goes to a checkpoint so that an interrupted run
resumes where it stopped.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from el_monitor.optout.checkpoint import Checkpoint, checkpoint_path, fingerprint, load_checkpoint
from el_monitor.optout.identity import names_user_id
from el_monitor.optout.listfile import OptOutList
from el_monitor.optout.matcher import ValueLookup, value_lookup
from el_monitor.store.mapping import StoreError, field_column, schema_of_table, table_name
from el_monitor.store.rows import count_rows_after, delete_rows, scan_rows_after

if TYPE_CHECKING:
    from el_monitor.catalog.model import Catalog
    from el_monitor.progress import ProgressSink
    from el_monitor.schema.registry import SchemaRegistry
    from el_monitor.store import Store

log = logging.getLogger(__name__)


class TablePurge(NamedTuple):
    table: str
    columns: tuple[str, ...]  # the user-field columns checked
    scanned: int
    deleted: int  # rows deleted, or that would be with dry_run


@dataclass(frozen=True)
class PurgeSummary:
    tables: tuple[TablePurge, ...]
    dry_run: bool
    resumed: bool  # started from a checkpoint of an interrupted run

    @property
    def scanned(self) -> int:
        return sum(t.scanned for t in self.tables)

    @property
    def deleted(self) -> int:
        return sum(t.deleted for t in self.tables)


class _Target(NamedTuple):
    table: str
    id_column: str
    wiki_column: str
    columns: tuple[str, ...]  # user-field columns the table has
    id_by_name: tuple[bool, ...]


def _table_columns(store: Store, table: str) -> dict[str, tuple[str, str]]:
    """lower-case name → (name, SQL type) of the table's columns; empty when it is missing."""
    return {c.name.lower(): (c.name, c.sql_type.lower()) for c in store.columns(table)}


def _tables(store: Store, catalog: Catalog, registry: SchemaRegistry) -> dict[str, str]:
    """table → schema, for the registry's revisions and for tables in the database of
    revisions it no longer lists: an old revision's rows are the user's too."""
    tables: dict[str, str] = {}
    for schema, revision in registry.revisions():
        try:
            tables[table_name(schema, revision)] = schema
        except StoreError as exc:
            log.warning("optout purge: skipping %s %s: %s", schema, revision, exc)
    names = {*tables.values(), *catalog.schemas}
    for table in store.tables():
        owner = None if table in tables else schema_of_table(table, names)
        if owner is not None:
            tables[table] = owner
    return tables


def _targets(store: Store, catalog: Catalog, registry: SchemaRegistry) -> list[_Target]:
    """Every existing table of a schema whose policy names user fields it has columns for."""
    targets = []
    for table, schema in _tables(store, catalog, registry).items():
        fields = catalog.policy(schema).user_fields
        if not fields:
            continue
        have = _table_columns(store, table)
        if not have:
            log.debug("optout purge: no table %s", table)
            continue
        if "id" not in have or "wiki" not in have:
            log.warning("optout purge: %s lacks id/wiki: not an EventLogging table", table)
            continue
        columns, by_name = [], []
        for path in fields:
            column, kind = have.get(field_column(path).lower(), (None, ""))
            if column is None:
                log.info("optout purge: %s has no column for user field %s", table, path)
            elif kind in ("boolean", "tinyint"):  # reads back as 0/1: never user 0 or 1
                log.warning("optout purge: %s.%s is boolean, not a user field", table, column)
            elif column not in columns:
                columns.append(column)
                by_name.append(names_user_id(path))
        if columns:
            targets.append(
                _Target(table, have["id"][0], have["wiki"][0], tuple(columns), tuple(by_name))
            )
    return targets


def purge(
    store: Store,
    catalog: Catalog,
    registry: SchemaRegistry,
    optouts: OptOutList,
    secret: bytes,
    *,
    dry_run: bool = False,
    batch_size: int = 1000,
    progress: ProgressSink | None = None,
    restart: bool = False,
    checkpoint: str | os.PathLike[str] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> PurgeSummary:
    """Delete stored rows of opted-out users from every table with user-field columns.

    Tables are scanned in primary-key order, ``batch_size`` rows at a time; matches are found
    in Python (the hash needs the secret) and deleted by id, one statement per batch.  The last
    id done per table goes to a checkpoint file (``checkpoint``, by default next to the list),
    so an interrupted run resumes where it stopped; ``restart`` ignores it and a finished run
    removes it.  ``dry_run`` only counts, and neither reads nor writes the checkpoint.
    """
    if batch_size <= 0:
        raise ValueError("batch_size must be positive")
    targets = _targets(store, catalog, registry)
    if not optouts.hashes:
        return PurgeSummary(
            tuple(TablePurge(t.table, t.columns, 0, 0) for t in targets), dry_run, False
        )
    cp_path = Path(checkpoint) if checkpoint is not None else checkpoint_path(optouts.path)
    basis = fingerprint(secret, store.url, optouts.hashes, [(t.table, t.columns) for t in targets])
    done = {} if dry_run or restart else load_checkpoint(cp_path, basis)
    resumed = bool(done)
    if resumed:
        log.info("optout purge: resuming from %s", cp_path)
    lookup = value_lookup(secret, optouts.hashes)
    if progress is not None:
        total = 0
        for t in targets:
            total += count_rows_after(store, t.table, t.id_column, done.get(t.table, 0))
        progress.set_total(total)
    place = None if dry_run else Checkpoint(cp_path, basis, done, clock)  # dry: never written
    results = []
    try:
        for t in targets:
            result = _purge_table(
                store, t, lookup, done.get(t.table, 0), batch_size, place, progress
            )
            results.append(result)
            log.info(
                "optout purge: %s: %d scanned, %d deleted", t.table, result.scanned, result.deleted
            )
    except BaseException:
        if place is not None:  # keep the committed progress for the next run
            place.flush()
        raise
    if place is not None:
        place.remove()
    return PurgeSummary(tuple(results), dry_run, resumed)


def _purge_table(
    store: Store,
    t: _Target,
    lookup: ValueLookup,
    last: int,
    batch_size: int,
    place: Checkpoint | None,
    progress: ProgressSink | None,
) -> TablePurge:
    """One table from id ``last`` on; without a checkpoint (a dry run) nothing is deleted."""
    scanned = deleted = 0
    columns = (t.wiki_column, *t.columns)
    fields = tuple(enumerate(t.id_by_name, 1))
    while True:
        rows = scan_rows_after(store, t.table, t.id_column, columns, last, batch_size)
        if not rows:
            break
        hits = [
            key
            for key, values in rows
            if values[0] is not None
            and any(
                values[i] is not None and lookup(values[0], values[i], by_name)
                for i, by_name in fields
            )
        ]
        if hits and place is not None:
            deleted += delete_rows(store, t.table, t.id_column, hits)
        elif hits:
            deleted += len(hits)
        scanned += len(rows)
        last = rows[-1].key
        if place is not None:
            place.advance(t.table, last)
        if progress is not None:
            progress.advance(len(rows), t.table)
        if len(rows) < batch_size:
            break
    return TablePurge(t.table, t.columns, scanned, deleted)
