"""Retention's own tables: extensions granted, hashing salts, and per-table state.

The event-table side (batches, the marker column) is ``store.retention_rows``.  Times of
bookkeeping are ``YYYY-MM-DDTHH:MM:SSZ`` (UTC, as ``el_monitor_sampling``); anything compared
with event rows (cutoffs, checkpoints, oldest rows) is their own ``YYYYMMDDHHMMSS``.

``el_monitor_retention_extensions`` — one row per ``el-monitor retention extend``:
  ``schema_name``, ``retention_days`` (the longer retention granted), ``until_date``
  (``YYYY-MM-DD``, last day it applies), ``fields`` (JSON list; empty: whole rows),
  ``reason``, ``created_by``, ``created_at``.

``el_monitor_retention_salts`` — one row per 90-day salt period (``period``: UTC days since
  1970-01-01 // 90), ``salt`` (hex of 32 random bytes), ``created_at``.

``el_monitor_retention_state`` — one row per event table, written by executed runs only (a
dry run changes nothing), so ``check_el_retention`` and the daily report read it cheaply:
  ``table_name`` (unique), ``schema_name``, ``revision`` (as the table name writes it);
  ``action`` (``delete`` or ``sanitize``: what happens at the end of retention);
  ``retention_days`` (the final retention in force, an extension's when one applies) and
  ``cutoff`` (rows older were due at the last run); ``first_days``: when rows first lose
  detail (= ``retention_days`` unless an extension keeps only some fields longer);
  ``checkpoint``: timestamp of the last row handled by the last (or running) run;
  ``status``: ``running`` (a run is at it, or was killed: the next resumes), ``done``,
  ``failed`` (``error`` says why); ``last_run`` (when the last run started on the table),
  ``last_success`` (when a run last left nothing due in it);
  ``rows_deleted``, ``rows_sanitized``: by the last run; ``total_deleted``,
  ``total_sanitized``: by all runs;
  ``oldest_untouched``: oldest row that nothing has been done to (due after ``first_days``),
  ``oldest_unfinished``: oldest row not yet deleted or fully sanitized (due after
  ``retention_days``), both as the last run left the table (NULL: none);
  ``updated_at``.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import NamedTuple

import orjson

from el_monitor.store.base import Params, Store
from el_monitor.store.dialect import Index, TableSpec

EXTENSIONS_TABLE = "el_monitor_retention_extensions"
SALTS_TABLE = "el_monitor_retention_salts"
STATE_TABLE = "el_monitor_retention_state"
_TIME = "VARCHAR(20)"  # 'YYYY-MM-DDTHH:MM:SSZ'
_EVENT_TIME = "VARCHAR(14)"  # an event row's 'YYYYMMDDHHMMSS'

EXTENSIONS = TableSpec(
    EXTENSIONS_TABLE,
    (
        ("schema_name", "VARCHAR(63) NOT NULL"),
        ("retention_days", "INTEGER NOT NULL"),
        ("until_date", "VARCHAR(10) NOT NULL"),
        ("fields", "TEXT NOT NULL"),
        ("reason", "TEXT NOT NULL"),
        ("created_by", "VARCHAR(191) NOT NULL"),
        ("created_at", f"{_TIME} NOT NULL"),
    ),
    collation="utf8mb4_bin",  # schema names are case-sensitive
)
SALTS = TableSpec(
    SALTS_TABLE,
    (("period", "INTEGER NOT NULL"), ("salt", "VARCHAR(64) NOT NULL"), ("created_at", _TIME)),
    unique=Index(f"ux_{SALTS_TABLE}", ("period",)),
)
_STATE_COLUMNS = (
    ("table_name", "VARCHAR(64) NOT NULL"),
    ("schema_name", "VARCHAR(63) NOT NULL"),
    ("revision", "VARCHAR(64) NOT NULL"),
    ("action", "VARCHAR(10) NOT NULL"),
    ("retention_days", "INTEGER NOT NULL"),
    ("first_days", "INTEGER NOT NULL"),
    ("cutoff", f"{_EVENT_TIME} NOT NULL"),
    ("checkpoint", f"{_EVENT_TIME} NULL"),
    ("status", "VARCHAR(10) NOT NULL"),
    ("last_run", f"{_TIME} NOT NULL"),
    ("last_success", f"{_TIME} NULL"),
    ("rows_deleted", "BIGINT NOT NULL DEFAULT 0"),
    ("rows_sanitized", "BIGINT NOT NULL DEFAULT 0"),
    ("total_deleted", "BIGINT NOT NULL DEFAULT 0"),
    ("total_sanitized", "BIGINT NOT NULL DEFAULT 0"),
    ("oldest_untouched", f"{_EVENT_TIME} NULL"),
    ("oldest_unfinished", f"{_EVENT_TIME} NULL"),
    ("error", "TEXT NULL"),
    ("updated_at", f"{_TIME} NOT NULL"),
)
STATE = TableSpec(
    STATE_TABLE,
    _STATE_COLUMNS,
    unique=Index(f"ux_{STATE_TABLE}", ("table_name",)),
    collation="utf8mb4_bin",
)
RUNNING, DONE, FAILED = "running", "done", "failed"


def iso_time(when: datetime.datetime) -> str:
    """A bookkeeping time: ``YYYY-MM-DDTHH:MM:SSZ`` (UTC)."""
    return when.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def create_retention_tables(store: Store) -> None:
    for spec in (EXTENSIONS, SALTS, STATE):
        store.create(spec)


# --- extensions --------------------------------------------------------------------------


class StoredExtension(NamedTuple):
    schema: str
    retention_days: int
    until: datetime.date
    fields: tuple[str, ...]
    reason: str
    created_by: str
    created_at: str


_EXTENSION_COLUMNS = tuple(name for name, _ in EXTENSIONS.columns)


def add_extension(store: Store, extension: StoredExtension) -> None:
    store.create(EXTENSIONS)
    values = (*extension[:2], extension.until.isoformat(), orjson.dumps(extension.fields).decode())
    store.execute(
        f"INSERT INTO {store.dialect.quote(EXTENSIONS_TABLE)} "
        f"({store.dialect.names(_EXTENSION_COLUMNS)}) VALUES ({store.dialect.marks(7)})",
        (*values, *extension[4:]),
    )


def stored_extensions(store: Store) -> list[StoredExtension]:
    """Every extension recorded, in the order granted; empty before the first."""
    if not store.table_exists(EXTENSIONS_TABLE):
        return []
    q = store.dialect.quote
    rows = store.query(
        f"SELECT {store.dialect.names(_EXTENSION_COLUMNS)} FROM {q(EXTENSIONS_TABLE)} "
        f"ORDER BY {q('id')}"
    )
    return [
        StoredExtension(
            str(schema),
            int(days),
            datetime.date.fromisoformat(str(until)),
            tuple(orjson.loads(fields)),
            str(reason),
            str(by),
            str(at),
        )
        for schema, days, until, fields, reason, by, at in rows
    ]


# --- salts -------------------------------------------------------------------------------


def read_salt(store: Store, period: int) -> str | None:
    """The hex salt of a period; None when none was made (or it was deleted)."""
    q, mark = store.dialect.quote, store.dialect.mark
    store.create(SALTS)
    rows = store.query(
        f"SELECT {q('salt')} FROM {q(SALTS_TABLE)} WHERE {q('period')} = {mark}", (period,)
    )
    return str(rows[0][0]) if rows else None


def add_salt(store: Store, period: int, salt: str, now: datetime.datetime) -> None:
    """Record a period's salt; raises StoreError when another run recorded one first."""
    q = store.dialect.quote
    store.execute(
        f"INSERT INTO {q(SALTS_TABLE)} ({store.dialect.names(('period', 'salt', 'created_at'))})"
        f" VALUES ({store.dialect.marks(3)})",
        (period, salt, iso_time(now)),
    )


def delete_salts_before(store: Store, period: int) -> int:
    """Forget the salts of periods before ``period``: their hashes can no longer be
    recomputed, or joined with new ones.  Returns how many went."""
    if not store.table_exists(SALTS_TABLE):
        return 0
    q, mark = store.dialect.quote, store.dialect.mark
    return store.execute(f"DELETE FROM {q(SALTS_TABLE)} WHERE {q('period')} < {mark}", (period,))


# --- state -------------------------------------------------------------------------------


class StatePolicy(NamedTuple):
    """The table and the policy a run applies to it: the first columns of a state row."""

    table: str
    schema: str
    revision: str
    action: str
    retention_days: int
    first_days: int
    cutoff: str


class TableState(NamedTuple):
    """One row of ``el_monitor_retention_state`` (see the module docstring)."""

    policy: StatePolicy
    checkpoint: str | None
    status: str
    last_run: str
    last_success: str | None
    rows_deleted: int
    rows_sanitized: int
    total_deleted: int
    total_sanitized: int
    oldest_untouched: str | None
    oldest_unfinished: str | None
    error: str | None
    updated_at: str


_STATE_NAMES = tuple(name for name, _ in _STATE_COLUMNS)


def table_states(store: Store) -> dict[str, TableState]:
    """table → its state; empty before the first executed run."""
    if not store.table_exists(STATE_TABLE):
        return {}
    rows = store.query(
        f"SELECT {store.dialect.names(_STATE_NAMES)} FROM {store.dialect.quote(STATE_TABLE)}"
    )
    width = len(StatePolicy._fields)
    return {str(row[0]): TableState(StatePolicy(*row[:width]), *row[width:]) for row in rows}


def start_table(store: Store, start: StatePolicy, now: datetime.datetime) -> None:
    """Mark the table ``running`` with this run's policy; the last run's counts restart."""
    q, mark, when = store.dialect.quote, store.dialect.mark, iso_time(now)
    policy = _STATE_NAMES[1 : len(StatePolicy._fields)]
    values = (*start[1:], RUNNING, when, 0, 0, None, when)
    names = (*policy, "status", "last_run", "rows_deleted", "rows_sanitized", "error", "updated_at")
    exists = store.query(
        f"SELECT 1 FROM {q(STATE_TABLE)} WHERE {q('table_name')} = {mark}", (start.table,)
    )
    if exists:
        sets = ", ".join(f"{q(name)} = {mark}" for name in names)
        sql = f"UPDATE {q(STATE_TABLE)} SET {sets} WHERE {q('table_name')} = {mark}"
        store.execute(sql, (*values, start.table))
    else:
        columns = store.dialect.names(("table_name", *names))
        sql = f"INSERT INTO {q(STATE_TABLE)} ({columns}) VALUES ({store.dialect.marks(13)})"
        store.execute(sql, (start.table, *values))


def batch_state(
    store: Store,
    table: str,
    checkpoint: str,
    deleted: int,
    sanitized: int,
    now: datetime.datetime,
) -> tuple[str, Params]:
    """The statement that records a batch's progress, to run in the batch's transaction."""
    q, mark = store.dialect.quote, store.dialect.mark
    adds = ", ".join(
        f"{q(column)} = {q(column)} + {mark}"
        for column in ("rows_deleted", "total_deleted", "rows_sanitized", "total_sanitized")
    )
    sql = (
        f"UPDATE {q(STATE_TABLE)} SET {q('checkpoint')} = {mark}, {adds}, "
        f"{q('updated_at')} = {mark} WHERE {q('table_name')} = {mark}"
    )
    return sql, (checkpoint, deleted, deleted, sanitized, sanitized, iso_time(now), table)


def finish_table(
    store: Store,
    table: str,
    oldest: Sequence[str | None],
    now: datetime.datetime,
    error: str | None = None,
) -> None:
    """Record how a run left the table: ``oldest`` (untouched, unfinished) as found after
    it; without ``error`` the run succeeded."""
    q, mark, when = store.dialect.quote, store.dialect.mark, iso_time(now)
    sets = ["oldest_untouched", "oldest_unfinished", "status", "error", "updated_at"]
    values: list[object] = [*oldest, FAILED if error else DONE, error, when]
    if error is None:
        sets.append("last_success")
        values.append(when)
    assignments = ", ".join(f"{q(name)} = {mark}" for name in sets)
    store.execute(
        f"UPDATE {q(STATE_TABLE)} SET {assignments} WHERE {q('table_name')} = {mark}",
        (*values, table),
    )
