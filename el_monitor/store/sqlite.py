"""The embedded default: one SQLite file, WAL mode, executemany per table."""

from __future__ import annotations

import fcntl
import math
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, cast

from el_monitor.errors import UserError
from el_monitor.store.base import JobRunning, Params, Store, StoreUnavailable, Transaction
from el_monitor.store.dialect import HMAC_FUNCTION, SQLITE, hmac_hex
from el_monitor.store.mapping import Row, StoreError, TableLayout, TableMissing, column_text

# Errors that mean "try again later", as opposed to "this row cannot be stored": by SQLite's
# primary result code (BUSY, LOCKED, READONLY, IOERR, FULL, CANTOPEN, PROTOCOL, and SCHEMA:
# another process changed the tables under a statement), and by wording for errors raised
# without one.
_TRANSIENT_CODES = frozenset({5, 6, 8, 10, 13, 14, 15, 17})
_TRANSIENT = ("locked", "busy", "disk i/o", "unable to open", "readonly", "full")
# After these the connection may hold a half-written state: it is reopened before the next use.
_REOPEN_CODES = frozenset({10, 13, 14})
BUSY_SECONDS = 30.0  # how long a statement waits for another process's lock
WAL_RETRY_SECONDS = 0.01


def _use_wal(db: sqlite3.Connection) -> None:
    """Switch the file to WAL, waiting as a busy statement would for another process doing
    the same: two opening one new file at once (workers re-pointed to it) both read it, and
    SQLite fails the one that must wait for the other at once, "database is locked", rather
    than risk a deadlock in its busy wait."""
    deadline = time.monotonic() + BUSY_SECONDS
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if not _transient(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(WAL_RETRY_SECONDS)


def _hmac_sha256(key: bytes, value: object) -> str | None:
    """The dialect's ``hmac_sha256`` on SQLite, which has no SHA-2 of its own."""
    text = column_text(value)
    return None if text is None else hmac_hex(key, text)


def _bind_without_lookups() -> None:
    """Have sqlite3 bind NULLs and booleans straight away (for the whole process: it stores
    exactly what it stores without this).

    sqlite3 binds an exact int, float or str at once, but for any other value (None, bool)
    it first looks for an adapter: with none registered it asks the protocol type and the
    value for ``__adapt__`` / ``__conform__``, which raises and clears a formatted
    AttributeError, twice per value (a row's empty columns do not get here: ``empty``).
    Registered adapters are found by one dict lookup: ``int`` for booleans (1 or 0, as bound
    now), and for None a bound ``get`` of an empty dict, a C callable that returns None for
    any value.
    """
    sqlite3.register_adapter(bool, int)
    sqlite3.register_adapter(type(None), cast(Callable[[None], None], {}.get))


class SQLiteStore(Store):
    # Empty columns as NaN, which SQLite stores as NULL (JSON has no NaN, so no value is
    # mistaken for one): an exact float is bound at once, where None takes sqlite3's adapter
    # lookup (a tuple built and hashed, a call): a tenth of inserting a NavigationTiming row.
    empty = math.nan
    single_writer = True

    def __init__(self, url: str, path: str) -> None:
        super().__init__(SQLITE)
        self.url = url
        self.path = path
        if path != ":memory:" and not Path(path).resolve().parent.is_dir():
            raise UserError(f"cannot open {url}: directory {Path(path).parent} does not exist")
        try:
            self._db = self._open()
        except sqlite3.Error as exc:
            raise UserError(f"cannot open {url}: {exc}") from None
        self._reopen = False  # set by a failure that may have left the connection unusable
        self._sql: dict[str, str] = {}

    def _open(self) -> sqlite3.Connection:
        _bind_without_lookups()
        db = sqlite3.connect(
            self.path, timeout=BUSY_SECONDS, isolation_level=None, check_same_thread=False
        )
        try:
            _use_wal(db)
            db.execute("PRAGMA synchronous=NORMAL")
            # A 32 MiB page cache and checkpoints every 64 MiB of WAL instead of every 4 MiB:
            # the default checkpoints cost more than the inserts themselves at full speed.
            db.execute("PRAGMA cache_size=-32768")
            db.execute("PRAGMA wal_autocheckpoint=16384")
            db.create_function(HMAC_FUNCTION, 2, _hmac_sha256, deterministic=True)
        except BaseException:
            db.close()
            raise
        return db

    def _connection(self) -> sqlite3.Connection:
        if self._reopen:
            with suppress(sqlite3.Error):
                self._db.close()
            self._db = self._open()
            self._reopen = False
        return self._db

    @contextmanager
    def exclusive(self, job: str) -> Iterator[None]:
        # A flock on a file beside the database (left there: removing it would race with
        # the next holder); the kernel drops it with the process.
        if self.path == ":memory:":  # no other process can open this database
            yield
            return
        path = Path(f"{self.path}.{job}.lock")
        try:
            handle = path.open("a")
        except OSError as exc:
            raise StoreError(f"cannot open the {job} lock {path}: {exc.strerror}") from None
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise JobRunning(f"another {job} run holds the lock {path}") from None
            yield

    def _insert_sql(self, layout: TableLayout) -> str:
        sql = self._sql.get(layout.name)
        if sql is None:
            head, tail = self.dialect.insert_new(layout.name, layout.column_names)
            marks = self.dialect.marks(len(layout.column_names))
            sql = self._sql[layout.name] = f"{head}({marks}){tail}"
        return sql

    @contextmanager
    def _transaction(self) -> Iterator[Transaction]:
        """BEGIN IMMEDIATE … COMMIT on a usable connection, rolled back on any failure.

        The write lock comes first, so what the transaction reads stays true.  SQLite rolls a
        transaction back by itself on some errors (a full disk, an I/O error), so the rollback
        must not fail when none is active: its "cannot rollback" would hide the real error.
        After such an error the connection is reopened before the next use.
        """
        with self._errors():
            db = self._connection()
            db.execute("BEGIN IMMEDIATE")
            try:
                yield _SQLiteTransaction(db, self._insert_sql)
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    with suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                raise

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Map sqlite3's exceptions onto the store's kinds of failure."""
        try:
            yield
        except (sqlite3.Error, OverflowError) as exc:
            if _missing_table(exc):
                raise TableMissing(f"sqlite: {exc}") from exc
            if _transient(exc):
                if _code(exc) in _REOPEN_CODES:
                    self._reopen = True
                raise StoreUnavailable(f"sqlite: {exc}") from exc
            raise StoreError(f"database refused the batch: {exc}") from exc

    def query(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        with self._errors():
            return self._connection().execute(sql, params).fetchall()

    def close(self) -> None:
        # Copy the WAL into the database first, as far as no reader is in the way: the last
        # connection to close copies all that is left, so workers of one forwarder, which
        # end together, share that copying rather than leaving it to the last one alone.
        with suppress(sqlite3.Error):
            self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        self._db.close()


class _SQLiteTransaction(Transaction):
    def __init__(self, db: sqlite3.Connection, insert_sql: Callable[[TableLayout], str]) -> None:
        self._db = db
        self._insert_sql = insert_sql

    def insert(self, layout: TableLayout, rows: Sequence[Row]) -> int:
        return self._db.executemany(self._insert_sql(layout), rows).rowcount

    def insert_row(self, layout: TableLayout, row: Row) -> int | str:
        try:
            return self._db.execute(self._insert_sql(layout), row).rowcount
        except (sqlite3.Error, OverflowError) as exc:
            if _transient(exc) or _missing_table(exc):
                raise
            return f"database refused: {exc}"

    def query(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        return self._db.execute(sql, params).fetchall()

    def execute(self, sql: str, params: Params = ()) -> int:
        return self._db.execute(sql, params).rowcount

    def execute_many(self, sql: str, params: Sequence[Params]) -> None:
        self._db.executemany(sql, params)


def _code(exc: BaseException) -> int | None:
    """SQLite's primary result code of an error, when the driver gives one."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def _transient(exc: BaseException) -> bool:
    if _code(exc) in _TRANSIENT_CODES:
        return True
    return isinstance(exc, sqlite3.OperationalError) and any(
        word in str(exc).lower() for word in _TRANSIENT
    )


def _missing_table(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and str(exc).startswith("no such table")
