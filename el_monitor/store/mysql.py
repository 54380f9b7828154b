"""MySQL / MariaDB through PyMySQL: a batch's rows by LOAD DATA, or multi-row INSERTs.

A table's rows go by ``LOAD DATA LOCAL INFILE`` from memory (``mysql_load``), 2-3x as fast as
INSERTs; whenever the load says anything an INSERT would not have (a warning beyond skipped
duplicates, an error about the data), it is undone to a savepoint and the same rows go by the
INSERTs, so every outcome (refused rows, duplicates, counts) is the INSERTs' own.  Those
are built with a fast literal encoder: rows are validated events whose Python types are known
(str, int, float, bool, None), several times cheaper than PyMySQL's generic ``escape_item``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pymysql
from pymysql.converters import escape_string

from el_monitor.errors import UserError
from el_monitor.store.base import (
    Batch,
    Bookkeeping,
    InsertResult,
    JobRunning,
    Params,
    Store,
    StoreUnavailable,
    Transaction,
    safe_url,
)
from el_monitor.store.dialect import MYSQL, InsertSQL
from el_monitor.store.mapping import (
    Row,
    StoreError,
    TableLayout,
    TableMissing,
    Value,
    fitted_identifier,
)
from el_monitor.store.mysql_load import LoadConnection, Loader, mark, undo
from el_monitor.store.mysql_preload import Adopted, Preload
from el_monitor.store.mysql_session import Session, session_tls, tls_of
from el_monitor.store.mysql_text import NULL

# Server gone, connection lost or killed, server shutting down, read-only (failover),
# deadlock or lock wait: the batch is fine, the database is not.
_UNAVAILABLE = {1040, 1053, 1205, 1213, 1290, 1836, 1927, 2003, 2006, 2013, 2014, 2055}
_NO_SUCH_TABLE = 1146  # dropped while we ran: recreated by Store.insert
# Refusals at connect time that waiting for the server would not cure, each with its own fix.
ER_DB_ACCESS_DENIED, ER_BAD_DB = 1044, 1049
ER_ACCESS_DENIED = {1045, 1698}  # a wrong password; a user unknown, or without a password
_STATEMENT_BYTES = 4 << 20  # stay well under max_allowed_packet (16 MiB by default)
GROUP_CONCAT_BYTES = 16 << 20  # max_allowed_packet's default: a longer value cannot come back


class MySQLStore(Store):
    empty = NULL  # orjson writes it as LOAD DATA's NULL (``mysql_text``); the INSERTs as NULL

    def __init__(
        self,
        url: str,
        connect_timeout: float = 10,
        io_timeout: float = 60,
        connect_now: bool = True,
        bulk: bool | None = None,
    ) -> None:
        super().__init__(MYSQL)
        self.url = url
        self._params = _connect_params(url, connect_timeout, io_timeout)
        self._conn: LoadConnection | None = None
        self._insert_sql: dict[str, InsertSQL] = {}
        # LOAD DATA first (None: INSERTs only); the database's own errors leave it as they
        # are, to be told apart below.  ``?bulk=0`` asks for INSERTs alone: a LOAD takes its
        # ids in blocks, so the ids of consecutive batches have gaps (INSERTs' follow on).
        if bulk is None:
            option = parse_qs(urlsplit(url).query).get("bulk", ["1"])[-1]
            bulk = option.lower() not in ("0", "no", "off")
        self._loader = Loader(safe_url(url), _UNAVAILABLE | {_NO_SUCH_TABLE}) if bulk else None
        self._snapshot = False  # reads share one snapshot until ``snapshot`` ends
        self._preload: Preload | None = None  # rows loading on the connection (``preload``)
        self._adopted: Adopted | None = None  # the preload ``insert`` hands its transaction
        self.preloads = 0  # preloads an insert adopted: what the head start was used for
        # Whether a LOAD leaves other sessions' inserts into its table free to run meanwhile
        # (``innodb_autoinc_lock_mode`` 2); in modes 0 and 1 it holds the table's AUTO-INC
        # lock until it ends, so a preload left open would hold up every other writer of the
        # table (more forwarders, workers) for a whole batch: there it loads a few hundred
        # rows a statement.
        self._interleaved = False
        # How long the server waits for a LOAD's next packet before it ends the LOAD.
        self._server_read_timeout = 0.0
        if connect_now:
            with self._errors():
                self._connection()

    @property
    def bulk(self) -> bool:
        """Whether a batch's rows go by LOAD DATA (until the server refuses it)."""
        return self._loader is not None and self._loader.enabled

    def preload(self, layout: TableLayout, hold: float) -> Preload | None:
        """Start loading ``layout``'s rows of the batch being filled, on the open connection
        (``mysql_preload``); None where there is nothing to gain or it would cost a wait: no
        connection yet (never connect here), LOAD DATA refused or not yet prepared for this
        table.  A batch that may stay open (``hold`` seconds) long enough for the server to
        give up waiting for a LOAD's next rows loads a few hundred rows a statement."""
        if self._preload is not None:
            self._abandon_preload()
        statement = self._loader.known_statement(layout) if self._loader else None
        conn = self._conn
        if statement is None or conn is None:
            return None
        # One LOAD left open for the batch where a LOAD locks no table, if the server waits
        # for its rows long enough; else a LOAD a few hundred rows at a time.
        open_load = self._interleaved and hold * 2 <= self._server_read_timeout
        try:
            with conn.cursor() as cursor:
                mark(cursor)
                if open_load:
                    conn.begin_load(cursor, statement)
        except (pymysql.err.MySQLError, OSError):  # the table gone, ...: the flush will say
            self._drop_connection()
            return None
        self._preload = Preload(conn, layout, None if open_load else statement)
        return self._preload

    def insert(self, batch: Batch, bookkeeping: Bookkeeping | None = None) -> InsertResult:
        """``Store.insert``; when the batch holds the open preload's rows, its first
        transaction continues the preload's (its LOAD ended, its rows loaded already)."""
        preload, self._preload = self._preload, None
        if preload is not None:
            loaded = preload.finish() if batch.get(preload.layout) is preload.rows else None
            if loaded is None:
                self._abandon_preload(preload)
            else:
                self._adopted = Adopted(preload.conn, preload.rows, loaded)
        try:
            return super().insert(batch, bookkeeping)
        finally:
            self._adopted = None

    def _abandon_preload(self, preload: Preload | None = None) -> None:
        """Undo the open preload (its LOAD ended and rolled back, or the connection dropped
        when its LOAD cannot be ended cleanly)."""
        preload = preload or self._preload
        self._preload = None
        if preload is None or preload.conn is not self._conn:
            return
        if preload.finish(send_rest=False) is None:
            self._drop_connection()
        else:
            _rollback(preload.conn)

    def _connection(self) -> LoadConnection:
        if self._preload is not None:  # a statement is wanted: the head start is given up
            self._abandon_preload()
        if self._conn is None:
            try:
                self._conn = LoadConnection(**self._params, local_infile=self.bulk)
            except pymysql.err.OperationalError as exc:
                raise StoreUnavailable(
                    f"cannot connect to {safe_url(self.url)}: {exc.args[-1]}",
                    *_connect_fix(exc.args[0], self._params.get("database")),
                ) from exc
            with self._conn.cursor() as cursor:
                # Predictable semantics whatever the server's defaults: strict (refuse, never
                # truncate silently) and backslash escapes on, as escape_string assumes; a
                # GROUP_CONCAT as long as a packet may be (rollups read rows by the group).
                cursor.execute(
                    "SET SESSION sql_mode = 'STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION', "
                    f"group_concat_max_len = {GROUP_CONCAT_BYTES}"
                )
                mode, self._server_read_timeout = _load_settings(cursor)
                self._interleaved = mode == INTERLEAVED
        return self._conn

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except (pymysql.err.OperationalError, pymysql.err.InterfaceError, OSError) as exc:
            code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
            if code in _UNAVAILABLE or not isinstance(exc, pymysql.err.OperationalError):
                self._drop_connection()
                raise StoreUnavailable(f"{safe_url(self.url)}: {exc}") from exc
            raise StoreError(f"database refused the batch: {exc.args[-1]}") from exc
        except pymysql.err.MySQLError as exc:
            if exc.args and exc.args[0] == _NO_SUCH_TABLE:  # a ProgrammingError
                raise TableMissing(f"database refused the batch: {exc.args[-1]}") from exc
            raise StoreError(f"database refused the batch: {exc.args[-1]}") from exc

    @contextmanager
    def exclusive(self, job: str) -> Iterator[None]:
        # A named lock of the server (GET_LOCK names are server-wide: the database is part
        # of it), on a connection of its own: the store's may be dropped and made again
        # meanwhile, which would let the lock go.  Closing that session releases it.
        database = str(self._params.get("database"))
        name = fitted_identifier(f"el_monitor.{job}.{database}", f"{job}\0{database}")
        try:
            session = Session(**self._params)
        except pymysql.err.OperationalError as exc:
            raise StoreUnavailable(f"{safe_url(self.url)}: {exc.args[-1]}") from exc
        try:
            with session.cursor() as cursor:
                cursor.execute("SELECT GET_LOCK(%s, 0)", (name,))
                row = cursor.fetchone()
            if row is None or row[0] != 1:
                raise JobRunning(
                    f"another {job} run holds the lock {name!r} on {safe_url(self.url)}"
                )
            yield
        finally:
            with suppress(Exception):  # the session may be gone: its lock went with it
                session.close()

    def _drop_connection(self) -> None:
        self._preload = None  # its LOAD goes with the connection
        if self._conn is not None:
            with suppress(Exception):  # the connection is already broken
                self._conn.close()
            self._conn = None

    @contextmanager
    def _transaction(self) -> Iterator[Transaction]:
        adopted, self._adopted = self._adopted, None
        with self._errors():
            conn = self._connection()
            if adopted is not None and adopted.conn is not conn:
                adopted = None  # reconnected meanwhile: that transaction is gone
            try:
                with conn.cursor() as cursor:
                    transaction = _MySQLTransaction(cursor, self._statements, self._loader, adopted)
                    yield transaction
                    if transaction.adopted is not None:
                        raise StoreError("the preloaded rows were not part of the batch")
                conn.commit()
                self.preloads += adopted is not None
            except BaseException:
                _rollback(conn)
                raise

    def _statements(self, layout: TableLayout, rows: Sequence[Row]) -> Iterator[str]:
        """Multi-row INSERTs of literals, each at most about _STATEMENT_BYTES long."""
        insert = self._insert_sql.get(layout.name)
        if insert is None:
            insert = self._insert_sql[layout.name] = self.dialect.insert_new(
                layout.name, layout.column_names
            )
        prefix, suffix = insert
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

    def query(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        with self._errors(), self._connection().cursor() as cursor:
            cursor.execute(sql, tuple(params) or None)
            rows = list(cursor.fetchall())
        if not self._snapshot:
            self._connection().commit()  # end the read snapshot so later reads see new rows
        return rows

    @contextmanager
    def snapshot(self) -> Iterator[MySQLStore]:
        """Reads in one consistent snapshot, taken before the block starts: what any session
        that starts reading later sees, or an earlier state (a dump is bracketed by it)."""
        with self._errors(), self._connection().cursor() as cursor:
            cursor.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
        self._snapshot = True
        try:
            yield self
        finally:
            self._snapshot = False
            if self._conn is not None:
                _rollback(self._conn)

    def query_named(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        """``query``, each row a dict by column name: for ``SHOW`` statements whose columns
        differ between server versions (``SHOW SLAVE STATUS``)."""
        with self._errors(), self._connection().cursor(pymysql.cursors.DictCursor) as cursor:
            cursor.execute(sql, tuple(params) or None)
            rows = list(cursor.fetchall())
        self._connection().commit()
        return rows

    def another_connection(self) -> MySQLStore:
        """Another session on the server: it runs a statement on another core."""
        timeouts = self._params["connect_timeout"], self._params["read_timeout"]
        return MySQLStore(self.url, *timeouts, bulk=self.bulk)

    def close(self) -> None:
        self._drop_connection()


class _MySQLTransaction(Transaction):
    def __init__(
        self,
        cursor: pymysql.cursors.Cursor,
        statements: Callable[[TableLayout, Sequence[Row]], Iterator[str]],
        loader: Loader | None,
        adopted: Adopted | None,
    ) -> None:
        self._cursor = cursor
        self._statements = statements
        self._loader = loader if loader is not None and loader.enabled else None
        self.adopted = adopted  # the preload this transaction continues, until its rows come

    def insert(self, layout: TableLayout, rows: Sequence[Row]) -> int:
        adopted = self.adopted
        if adopted is not None and rows is adopted.rows:
            self.adopted = None
            assert self._loader is not None  # a preload is a loader's LOAD
            if self._loader.accepted(adopted.loaded, len(rows)):
                return adopted.loaded.added
            undo(self._cursor)  # as ``Loader.load`` does: the INSERTs say what happened
        elif self._loader is not None:
            added = self._loader.load(self._cursor, layout, rows)
            if added is not None:
                return added
        return sum(self._cursor.execute(sql) for sql in self._statements(layout, rows))

    def insert_row(self, layout: TableLayout, row: Row) -> int | str:
        statement = next(self._statements(layout, [row]))
        try:
            return self._cursor.execute(statement)
        except pymysql.err.MySQLError as exc:
            if exc.args and exc.args[0] in _UNAVAILABLE | {_NO_SUCH_TABLE}:
                raise
            return f"database refused: {exc.args[-1]}"

    def query(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        self._cursor.execute(sql, tuple(params) or None)
        return list(self._cursor.fetchall())

    def execute(self, sql: str, params: Params = ()) -> int:
        return self._cursor.execute(sql, tuple(params) or None)

    def execute_many(self, sql: str, params: Sequence[Params]) -> None:
        self._cursor.executemany(sql, [tuple(p) for p in params])


def _row_literal(row: Row) -> str:
    encode = _ENCODERS
    try:
        return "(" + ",".join(["NULL" if v is None else encode[type(v)](v) for v in row]) + ")"
    except KeyError as exc:
        raise StoreError(f"cannot store a {exc.args[0].__name__} value") from None


def _quote_string(value: str) -> str:
    return "'" + escape_string(value) + "'"


# SQL literals by Python type: rows hold validated JSON values only.
_ENCODERS: dict[type[Value], Callable[[Any], str]] = {
    str: _quote_string,
    int: str,
    float: repr,
    bool: lambda value: "1" if value else "0",
    type(NULL): lambda _: "NULL",
}


INTERLEAVED = 2  # innodb_autoinc_lock_mode in which bulk inserts take no table lock


def _load_settings(cursor: pymysql.cursors.Cursor) -> tuple[int | None, float]:
    """The server's ``innodb_autoinc_lock_mode`` (None: it has none) and the seconds it waits
    for a LOAD's next packet (``net_read_timeout``)."""
    try:
        cursor.execute("SELECT @@innodb_autoinc_lock_mode, @@net_read_timeout")
        row = cursor.fetchone()
    except pymysql.err.MySQLError:
        return None, 0.0
    if not row:
        return None, 0.0
    mode, timeout = row
    return (None if mode is None else int(mode)), float(timeout or 0)


def _rollback(conn: pymysql.connections.Connection[Any]) -> None:
    with suppress(Exception):  # a dead connection has nothing to roll back
        conn.rollback()


def _connect_fix(code: object, database: str | None) -> tuple[str, ...]:
    """What to check when a connection is refused with MariaDB's error ``code`` (nothing
    particular: StoreUnavailable's default, the server may be down)."""
    if code in ER_ACCESS_DENIED:
        return ("check the user and password of --db",)
    if code == ER_DB_ACCESS_DENIED:
        return (
            f"grant the account what the command needs on `{database}` (forwarder: INSERT, "
            "CREATE; retention: SELECT, DELETE, UPDATE; backup verify: SELECT, "
            "REPLICATION CLIENT)",
        )
    if code == ER_BAD_DB:
        return (f"create it: CREATE DATABASE `{database}` CHARACTER SET utf8mb4",)
    return ()


def _connect_params(url: str, connect_timeout: float, io_timeout: float) -> dict[str, Any]:
    parts = urlsplit(url)
    database = parts.path.lstrip("/")
    if parts.scheme != "mysql" or not parts.hostname or not database:
        raise UserError(f"bad database URL {safe_url(url)}: use mysql://user:password@host:port/db")
    return {
        "host": parts.hostname,
        "port": parts.port or 3306,
        "user": unquote(parts.username or "root"),
        # MYSQL_PWD, as the MariaDB clients read it: a secret kept out of argv and the URL.
        "password": unquote(parts.password or "") or os.environ.get("MYSQL_PWD", ""),
        "database": database,
        "charset": "utf8mb4",
        "autocommit": False,
        "connect_timeout": connect_timeout,
        "read_timeout": io_timeout,
        "write_timeout": io_timeout,
        **session_tls(tls_of(url)),
    }
