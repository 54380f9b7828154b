"""Retention on event tables: which rows are due, and deleting or sanitizing them in batches.

Every statement is bounded: a batch's ids are read first (a non-locking read on the
``timestamp`` index, or on the marker's), then deleted or updated by primary key (ranges of
consecutive ids, else lists of at most ``IN_LIMIT`` keys), in one short transaction with the
batch's state update.  So a kill loses at most the batch in flight, and nothing but the rows
of one batch is locked.

Sanitized rows are marked in a column of their own, ``el_retention`` (``RETENTION_MARKER``):
NULL for a row as the forwarder wrote it, ``PARTIAL`` (1) once sanitized but for an
extension's fields, ``FINAL`` (2) once sanitized for good.  A marked row is never visited
again at its stage, and a row backfilled later with an old timestamp is still NULL, so it is
found like any other.  The marker is added (with an index on marker and timestamp, so the
due rows are one index range however many sanitized rows precede them) the first time a table
is sanitized: instant on MariaDB, online for the index.  The forwarder's layout leaves the
column out of its inserts (``store.base._layout_from``), so its rows arrive unmarked.  Tables
that are only ever purged need no marker: a deleted row is gone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, NamedTuple, TypeVar

from el_monitor.store.base import Params, Store
from el_monitor.store.dialect import IN_LIMIT, Index
from el_monitor.store.mapping import RETENTION_MARKER, StoreError, column_text

T = TypeVar("T")
PARTIAL, FINAL = 1, 2
_MARKER_TYPE = "SMALLINT NULL"
_BOOKKEEPING_PREFIX = "el_monitor_"  # the counts, errors, sampling and retention tables


class AnyMarker:
    """Rows whatever their marker (a purge, or a table without the column)."""


ANY = AnyMarker()
Marker = int | None | AnyMarker  # rows with this marker value (None: not sanitized)


class DueRows(NamedTuple):
    rows: int
    oldest: str | None  # MediaWiki timestamp of the oldest; None when there is none


def event_tables(store: Store) -> dict[str, dict[str, str]]:
    """Event tables → their columns (lower-case name → name): every table with the
    EventLogging ``id``, ``uuid`` and ``timestamp`` columns, other than el-monitor's own."""
    found = {}
    for table in store.tables():
        if table.lower().startswith(_BOOKKEEPING_PREFIX):
            continue
        columns = {c.name.lower(): c.name for c in store.columns(table)}
        if {"id", "uuid", "timestamp"} <= columns.keys():
            found[table] = columns
    return found


def marker_index(table: str) -> Index:
    name = f"ix_{table}_retention"
    if len(name) > 64:  # MySQL's identifier limit; a table name may use up 64 already
        name = "ix_retention_" + hashlib.sha256(table.encode()).hexdigest()[:32]
    return Index(name, (RETENTION_MARKER, "timestamp"))


def add_marker(store: Store, table: str) -> bool:
    """Give ``table`` the marker column and its index, when it lacks them; returns whether
    anything was added."""
    dialect = store.dialect
    added = False
    if RETENTION_MARKER not in {c.name.lower() for c in store.columns(table)}:
        store.execute(dialect.add_column(table, RETENTION_MARKER, _MARKER_TYPE))
        added = True
    index = marker_index(table)
    if index.name not in {name for (name,) in store.query(*dialect.table_indexes(table))}:
        store.execute(dialect.add_index(table, index))
        added = True
    return added


def _marker_is(store: Store, marker: Marker) -> tuple[str, tuple[object, ...]]:
    """The condition on the marker (empty for ANY) and its parameters."""
    column = store.dialect.quote(RETENTION_MARKER)
    if marker is None:
        return f" AND {column} IS NULL", ()
    if isinstance(marker, int):
        return f" AND {column} = {store.dialect.mark}", (marker,)
    return "", ()


def _where(
    store: Store, marker: Marker, since: str | None = None
) -> tuple[str, tuple[object, ...]]:
    """``timestamp < ?``, the marker condition and ``timestamp >= since``, with their
    parameters after the cutoff's."""
    condition, params = _marker_is(store, marker)
    if since is not None:
        condition += f" AND {store.dialect.quote('timestamp')} >= {store.dialect.mark}"
        params += (since,)
    return f"{store.dialect.quote('timestamp')} < {store.dialect.mark}{condition}", params


def count_due(
    store: Store, table: str, cutoff: str, marker: Marker, since: str | None = None
) -> DueRows:
    """How many rows with this marker are older than ``cutoff`` (and not older than
    ``since``), and the oldest."""
    q = store.dialect.quote
    where, params = _where(store, marker, since)
    ((count, oldest),) = store.query(
        f"SELECT COUNT(*), MIN({q('timestamp')}) FROM {q(table)} WHERE {where}",
        (cutoff, *params),
    )
    return DueRows(int(count), column_text(oldest))


def oldest_row(store: Store, table: str, marker: Marker) -> str | None:
    """The oldest timestamp of the rows with this marker (NULL timestamps left out): one
    ``MIN`` at the end of the ``timestamp`` (or marker) index, never a count of the table,
    so a check can ask it of every table within its timeout."""
    q = store.dialect.quote
    condition, params = _marker_is(store, marker)
    ((oldest,),) = store.query(
        f"SELECT MIN({q('timestamp')}) FROM {q(table)} WHERE {q('timestamp')} IS NOT NULL"
        f"{condition}",
        params,
    )
    return column_text(oldest)


class Unhandled(NamedTuple):
    """The oldest rows a table still holds at each stage of retention."""

    untouched: str | None  # oldest row nothing was done to (due after the first stage)
    unfinished: str | None  # oldest row not deleted nor sanitized for good (due at the end)


def unhandled(store: Store, table: str, has_marker: bool, delete: bool) -> Unhandled:
    """How ``table`` stands now: a table without the marker was never sanitized, so its
    oldest row is both; a purged table's every row is unfinished, marked or not."""
    if not has_marker:
        oldest = oldest_row(store, table, ANY)
        return Unhandled(oldest, oldest)
    untouched = oldest_row(store, table, None)
    if delete:
        return Unhandled(untouched, oldest_row(store, table, ANY))
    partial = oldest_row(store, table, PARTIAL)
    return Unhandled(untouched, min((t for t in (untouched, partial) if t), default=None))


class DueBatch(NamedTuple):
    ids: list[int]
    checkpoint: str | None  # timestamp of the newest row of the batch; None when empty
    oldest: str | None = None  # timestamp of its oldest row


def due_batch(store: Store, table: str, cutoff: str, marker: Marker, limit: int) -> DueBatch:
    """The ids of the oldest ``limit`` due rows with this marker, and the newest and oldest
    timestamps among them.  The ids come back as one text value, not a row each: reading back
    thousands of rows costs the driver more than the server takes to find them."""
    q, mark, dialect = store.dialect.quote, store.dialect.mark, store.dialect
    where, params = _where(store, marker)
    ((ids, newest, oldest),) = store.query(
        f"SELECT {dialect.concat_rows(q('id'), ';')}, MAX({q('timestamp')}), "
        f"MIN({q('timestamp')}) FROM "
        f"(SELECT {q('id')}, {q('timestamp')} FROM {q(table)} WHERE {where} "
        f"ORDER BY {q('timestamp')} LIMIT {mark}) AS due",
        (cutoff, *params, limit),
    )
    text = column_text(ids)
    keys = [int(key) for key in text.split(";")] if text else []
    return DueBatch(keys, column_text(newest), column_text(oldest))


def delete_batch(
    store: Store, table: str, ids: Sequence[int], state: tuple[str, Params] | None = None
) -> int:
    """Delete these rows, and record ``state``, in one transaction; how many went."""
    statements = [
        (f"DELETE FROM {store.dialect.quote(table)} WHERE {keys}", params)
        for keys, params in _key_conditions(store, ids)
    ]
    counts = store.execute_all([*statements, *([state] if state else [])])
    return sum(counts[: len(statements)])


def read_values(
    store: Store, table: str, ids: Sequence[int], columns: Sequence[str]
) -> list[tuple[Any, ...]]:
    """(id, timestamp, *columns) of these rows, the timestamp and columns as text (None for
    NULL)."""
    q, dialect = store.dialect.quote, store.dialect
    out: list[tuple[Any, ...]] = []
    for chunk in _chunks(ids, IN_LIMIT):
        rows = store.query(
            f"SELECT {dialect.names(('id', 'timestamp', *columns))} FROM {q(table)} "
            f"WHERE {q('id')} IN ({dialect.marks(len(chunk))})",
            chunk,
        )
        out += [(key, *map(column_text, values)) for key, *values in rows]
    return out


class Sanitize(NamedTuple):
    """What a sanitizing batch does to its rows."""

    nulls: tuple[str, ...]  # columns set to NULL
    marker_from: int | None  # only rows still at this marker are changed
    marker_to: int


class PeriodSalt(NamedTuple):
    """The salt for rows from ``start`` (a MediaWiki timestamp) until the next one's."""

    start: str
    salt: bytes


def sanitize_batch(
    store: Store,
    table: str,
    ids: Sequence[int],
    how: Sanitize,
    hashes: Sequence[str] = (),
    salts: Sequence[PeriodSalt] = (),
    state: tuple[str, Params] | None = None,
) -> int:
    """Null ``how.nulls``, replace each column of ``hashes`` by its HMAC under the salt of
    the row's period (``salts``, oldest first, covering the batch), and mark the rows, in one
    transaction with ``state``; returns how many rows changed.  The hashing is done by the
    database in the same statement.  A row no longer at ``how.marker_from`` (another run got
    there first) is left alone, so nothing is hashed twice."""
    q = store.dialect.quote
    sets = [f"{q(column)} = NULL" for column in how.nulls]
    params: list[object] = []
    for column in hashes:
        expression, values = _salted_hmac(store, q(column), salts)
        sets.append(f"{q(column)} = {expression}")
        params += values
    sets.append(f"{q(RETENTION_MARKER)} = {store.dialect.mark}")
    condition, marker = _marker_is(store, how.marker_from)
    statements: list[tuple[str, Params]] = [
        (
            f"UPDATE {q(table)} SET {', '.join(sets)} WHERE ({keys}){condition}",
            (*params, how.marker_to, *keys_params, *marker),
        )
        for keys, keys_params in _key_conditions(store, ids)
    ]
    counts = store.execute_all([*statements, *([state] if state else [])])
    return sum(counts[: len(statements)])


def _salted_hmac(
    store: Store, column: str, salts: Sequence[PeriodSalt]
) -> tuple[str, list[object]]:
    """The HMAC of ``column`` under its row's period salt: one branch per period, chosen by
    the row's ``timestamp``."""
    if not salts:
        raise StoreError("hashing a column needs the salt of the batch's period")
    dialect = store.dialect
    params: list[object] = []
    branches = []
    for salt, following in zip(salts, salts[1:], strict=False):
        expression, values = dialect.hmac_sha256(column, salt.salt)
        branches.append(f"WHEN {dialect.quote('timestamp')} < {dialect.mark} THEN {expression}")
        params += [following.start, *values]
    last, values = dialect.hmac_sha256(column, salts[-1].salt)
    params += values
    if not branches:
        return last, params
    return f"CASE {' '.join(branches)} ELSE {last} END", params


def _key_conditions(store: Store, ids: Sequence[int]) -> list[tuple[str, tuple[int, ...]]]:
    """Conditions that together select exactly ``ids``, each with its parameters: runs of
    consecutive ids as ``id BETWEEN`` ranges when the ids mostly run on (as rows written in
    time order do: one range scan of the primary key instead of a lookup per key), else
    ``id IN`` lists; at most ``IN_LIMIT`` parameters a condition."""
    q, mark = store.dialect.quote, store.dialect.mark
    runs = _runs(sorted(ids))
    if len(runs) * 8 > len(ids):  # scattered ids: a list is shorter
        return [
            (f"{q('id')} IN ({store.dialect.marks(len(chunk))})", tuple(chunk))
            for chunk in _chunks(ids, IN_LIMIT)
        ]
    between = f"{q('id')} BETWEEN {mark} AND {mark}"
    return [
        (" OR ".join([between] * len(chunk)), tuple(key for run in chunk for key in run))
        for chunk in _chunks(runs, IN_LIMIT // 2)
    ]


def _runs(keys: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted, distinct ``keys`` as (first, last) runs of consecutive integers."""
    runs: list[tuple[int, int]] = []
    for key in keys:
        if runs and key == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], key)
        else:
            runs.append((key, key))
    return runs


def _chunks(keys: Sequence[T], size: int) -> list[Sequence[T]]:
    return [keys[start : start + size] for start in range(0, len(keys), size)]
