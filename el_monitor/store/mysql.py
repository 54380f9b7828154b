"""MySQL / MariaDB through PyMySQL: multi-row INSERTs built with a fast literal encoder.

Rows are validated events whose Python types are known (str, int, float, bool, None), so
encoding them ourselves is several times cheaper than PyMySQL's generic ``escape_item``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from urllib.parse import unquote, urlsplit

import pymysql
from pymysql.converters import escape_string

from el_monitor.errors import UserError
from el_monitor.store.base import InsertResult, Rejected, Store, StoreUnavailable
from el_monitor.store.mapping import Column, StoreError, TableLayout
from el_monitor.store.sql import create_table_sql, quote_mysql

# Server gone, connection lost or killed, server shutting down, read-only (failover),
# deadlock or lock wait: the batch is fine, the database is not.
_UNAVAILABLE = {1040, 1053, 1205, 1213, 1290, 1836, 1927, 2003, 2006, 2013, 2014, 2055}
_STATEMENT_BYTES = 4 << 20  # stay well under max_allowed_packet (16 MiB by default)


class MySQLStore(Store):
    def __init__(
        self,
        url: str,
        connect_timeout: float = 10,
        io_timeout: float = 60,
        connect_now: bool = True,
    ) -> None:
        super().__init__()
        self.url = url
        self._params = _connect_params(url, connect_timeout, io_timeout)
        self._conn: pymysql.connections.Connection | None = None
        self._prefix: dict[str, str] = {}
        if connect_now:
            with self._errors():
                self._connection()

    def _connection(self) -> pymysql.connections.Connection:
        if self._conn is None:
            try:
                self._conn = pymysql.connect(**self._params)
            except pymysql.err.OperationalError as exc:
                raise StoreUnavailable(
                    f"cannot connect to {_safe(self.url)}: {exc.args[-1]}"
                ) from exc
            with self._conn.cursor() as cursor:
                # Predictable semantics whatever the server's defaults: strict (refuse, never
                # truncate silently) and backslash escapes on, as escape_string assumes.
                cursor.execute(
                    "SET SESSION sql_mode = 'STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION'"
                )
        return self._conn

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except (pymysql.err.OperationalError, pymysql.err.InterfaceError, OSError) as exc:
            code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
            if code in _UNAVAILABLE or not isinstance(exc, pymysql.err.OperationalError):
                self._drop_connection()
                raise StoreUnavailable(f"{_safe(self.url)}: {exc}") from exc
            raise StoreError(f"database refused the batch: {exc.args[-1]}") from exc
        except pymysql.err.MySQLError as exc:
            raise StoreError(f"database refused the batch: {exc.args[-1]}") from exc

    def _drop_connection(self) -> None:
        if self._conn is not None:
            with suppress(Exception):  # the connection is already broken
                self._conn.close()
            self._conn = None

    def _create_table(self, name: str, columns: Sequence[Column]) -> list[str]:
        with self._errors(), self._connection().cursor() as cursor:
            for statement in create_table_sql(name, columns, quote_mysql, mysql=True):
                cursor.execute(statement)
            cursor.execute(
                "SELECT COLUMN_NAME FROM information_schema.COLUMNS "
                "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
                (name,),
            )
            return [row[0] for row in cursor.fetchall()]

    def _statement_prefix(self, layout: TableLayout) -> str:
        prefix = self._prefix.get(layout.name)
        if prefix is None:
            columns = ", ".join(map(quote_mysql, layout.column_names))
            prefix = self._prefix[layout.name] = (
                f"INSERT INTO {quote_mysql(layout.name)} ({columns}) VALUES "
            )
        return prefix

    def _insert_batch(self, batch: Mapping[TableLayout, Sequence[list]]) -> dict[TableLayout, int]:
        inserted = dict.fromkeys(batch, 0)
        with self._errors():
            conn = self._connection()
            try:
                with conn.cursor() as cursor:
                    for layout, rows in batch.items():
                        for statement in self._statements(layout, rows):
                            inserted[layout] += cursor.execute(statement)
                conn.commit()
            except BaseException:
                _rollback(conn)
                raise
        return inserted

    def _statements(self, layout: TableLayout, rows: Sequence[list]) -> Iterator[str]:
        prefix = self._statement_prefix(layout)
        suffix = " ON DUPLICATE KEY UPDATE `uuid` = `uuid`"
        parts: list[str] = []
        size = 0
        for row in rows:
            literal = _row_literal(row)
            parts.append(literal)
            size += len(literal)
            if size > _STATEMENT_BYTES:
                yield prefix + ",".join(parts) + suffix
                parts, size = [], 0
        if parts:
            yield prefix + ",".join(parts) + suffix

    def _insert_rows(self, batch: Mapping[TableLayout, Sequence[list]]) -> InsertResult:
        inserted: dict[TableLayout, int] = dict.fromkeys(batch, 0)
        rejected = []
        with self._errors():
            conn = self._connection()
            try:
                with conn.cursor() as cursor:
                    for layout, rows in batch.items():
                        for index, row in enumerate(rows):
                            statement = next(self._statements(layout, [row]))
                            try:
                                inserted[layout] += cursor.execute(statement)
                            except pymysql.err.MySQLError as exc:
                                if exc.args and exc.args[0] in _UNAVAILABLE:
                                    raise
                                message = f"database refused: {exc.args[-1]}"
                                rejected.append(Rejected(layout, index, message))
                conn.commit()
            except BaseException:
                _rollback(conn)
                raise
        return InsertResult(inserted, rejected)

    def query(self, sql: str, params: Sequence = ()) -> list[tuple]:
        with self._errors(), self._connection().cursor() as cursor:
            cursor.execute(sql, tuple(params) or None)
            rows = list(cursor.fetchall())
        self._connection().commit()  # end the read snapshot so later reads see new rows
        return rows

    placeholder = "%s"

    def quote(self, identifier: str) -> str:
        return quote_mysql(identifier)

    def execute_all(self, statements: Sequence[tuple[str, Sequence]]) -> list[int]:
        with self._errors():
            conn = self._connection()
            try:
                with conn.cursor() as cursor:
                    changed = [cursor.execute(sql, tuple(p) or None) for sql, p in statements]
                conn.commit()
            except BaseException:
                _rollback(conn)
                raise
        return changed

    def tables(self) -> list[str]:
        return [name for (name,) in self.query("SHOW TABLES")]

    def close(self) -> None:
        self._drop_connection()


def _row_literal(row: list) -> str:
    encode = _ENCODERS
    try:
        return "(" + ",".join(["NULL" if v is None else encode[v.__class__](v) for v in row]) + ")"
    except KeyError as exc:
        raise StoreError(f"cannot store a {exc.args[0].__name__} value") from None


def _quote_string(value: str) -> str:
    return "'" + escape_string(value) + "'"


# SQL literals by Python type: rows hold validated JSON values only.
_ENCODERS = {
    str: _quote_string,
    int: str,
    float: repr,
    bool: lambda value: "1" if value else "0",
}


def _rollback(conn: pymysql.connections.Connection) -> None:
    with suppress(Exception):  # a dead connection has nothing to roll back
        conn.rollback()


def _connect_params(url: str, connect_timeout: float, io_timeout: float) -> dict:
    parts = urlsplit(url)
    database = parts.path.lstrip("/")
    if parts.scheme != "mysql" or not parts.hostname or not database:
        raise UserError(f"bad database URL {_safe(url)}: use mysql://user:password@host:port/db")
    return {
        "host": parts.hostname,
        "port": parts.port or 3306,
        "user": unquote(parts.username or "root"),
        "password": unquote(parts.password or ""),
        "database": database,
        "charset": "utf8mb4",
        "autocommit": False,
        "connect_timeout": connect_timeout,
        "read_timeout": io_timeout,
        "write_timeout": io_timeout,
    }


def _safe(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(":" + parts.password + "@", ":***@")
    return parts._replace(netloc=netloc).geturl()
