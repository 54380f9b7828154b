"""The embedded default: one SQLite file, WAL mode, executemany per table."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from el_monitor.errors import UserError
from el_monitor.store.base import Params, Store, StoreUnavailable, Transaction
from el_monitor.store.dialect import SQLITE
from el_monitor.store.mapping import Row, StoreError, TableLayout

# Errors that mean "try again later", as opposed to "this row cannot be stored".
_TRANSIENT = ("locked", "busy", "disk i/o", "unable to open", "readonly", "full")


class SQLiteStore(Store):
    def __init__(self, url: str, path: str) -> None:
        super().__init__(SQLITE)
        self.url = url
        self.path = path
        if path != ":memory:" and not Path(path).resolve().parent.is_dir():
            raise UserError(f"cannot open {url}: directory {Path(path).parent} does not exist")
        try:
            self._db = sqlite3.connect(
                path, timeout=30, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            # A 32 MiB page cache and checkpoints every 64 MiB of WAL instead of every 4 MiB:
            # the default checkpoints cost more than the inserts themselves at full speed.
            self._db.execute("PRAGMA cache_size=-32768")
            self._db.execute("PRAGMA wal_autocheckpoint=16384")
        except sqlite3.Error as exc:
            raise UserError(f"cannot open {url}: {exc}") from None
        self._sql: dict[str, str] = {}

    def _insert_sql(self, layout: TableLayout) -> str:
        sql = self._sql.get(layout.name)
        if sql is None:
            head, tail = self.dialect.insert_new(layout.name, layout.column_names)
            marks = self.dialect.marks(len(layout.column_names))
            sql = self._sql[layout.name] = f"{head}({marks}){tail}"
        return sql

    @contextmanager
    def _transaction(self) -> Iterator[Transaction]:
        with _errors():
            self._db.execute("BEGIN IMMEDIATE")  # the write lock first: reads then stay true
            try:
                yield _SQLiteTransaction(self._db, self._insert_sql)
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:  # SQLite may have rolled back already (disk full)
                    self._db.execute("ROLLBACK")
                raise

    def query(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        with _errors():
            return self._db.execute(sql, params).fetchall()

    def close(self) -> None:
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
            if _transient(exc):
                raise
            return f"database refused: {exc}"

    def query(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        return self._db.execute(sql, params).fetchall()

    def execute(self, sql: str, params: Params = ()) -> int:
        return self._db.execute(sql, params).rowcount

    def execute_many(self, sql: str, params: Sequence[Params]) -> None:
        self._db.executemany(sql, params)


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and any(
        word in str(exc).lower() for word in _TRANSIENT
    )


@contextmanager
def _errors() -> Iterator[None]:
    """Map sqlite3's exceptions onto the store's two kinds of failure."""
    try:
        yield
    except (sqlite3.Error, OverflowError) as exc:
        if _transient(exc):
            raise StoreUnavailable(f"sqlite: {exc}") from exc
        raise StoreError(f"database refused the batch: {exc}") from exc
