"""MySQL's bulk path: a batch's rows as ``LOAD DATA LOCAL INFILE`` text, sent from memory.

The server loads such text 2-4x as fast as multi-row INSERTs of the same rows, and the text
(``mysql_text``) is written in C, where SQL literals take Python a call per value.  PyMySQL
sends the file a LOAD names by reading it from disk; ``LoadConnection`` sends the bytes handed
to ``load`` instead, as they are made: no file to write, read back and remove (a tmpfs file or
a named pipe would cost that, or a thread), the server loading while the next rows are encoded,
and a server that asks for a file unprompted gets an empty one (stock ``local_infile`` would
read it any file it names).  The statement says ``IGNORE``: a stored uuid is skipped (as the
INSERT's ``ON DUPLICATE KEY`` does) and a value strict mode would refuse is only a warning,
which ``Loader`` turns back into the INSERTs.
"""

from __future__ import annotations

import logging
import select
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

from pymysql.connections import Connection, MySQLResult
from pymysql.constants import CR
from pymysql.cursors import Cursor
from pymysql.err import MySQLError, OperationalError

from el_monitor.store.dialect import MYSQL
from el_monitor.store.mapping import BIGINT, DOUBLE, Row, StoreError, TableLayout
from el_monitor.store.mysql_session import Session
from el_monitor.store.mysql_text import LOAD_FORMAT, boolean_positions, load_text

log = logging.getLogger(__name__)

_PACKET_BYTES = 64 << 10  # a LOAD's data packets: far below any server's max_allowed_packet
_CHUNK_ROWS = 500  # rows encoded at a time while the server loads the ones before


# LOAD DATA LOCAL disabled on the server (MariaDB, MariaDB 10.6+, MySQL 8): INSERTs from then on.
_LOCAL_REFUSED = {1148, 4166, 3948}
_SAVEPOINT = "el_monitor_load"  # what a LOAD that says anything is undone to
# Column types that read a number's text as the INSERTs' literal would store it.
_NUMERIC = {"bigint", "int", "mediumint", "smallint", "tinyint", "double", "float", "decimal"}


class Loaded(NamedTuple):
    added: int  # rows inserted; those of stored uuids were skipped
    warnings: int  # what IGNORE let through: skipped duplicates, values strict mode refuses


class Loader:
    """A store's LOAD DATA of one table's rows in its open write transaction, or None for
    "insert them by statements": each load is undone to a savepoint whenever it says anything
    the INSERTs would not have (a warning beyond skipped duplicates: a value strict mode would
    refuse; an error about the data), so that every outcome is the INSERTs' own."""

    def __init__(self, server: str, passed: Collection[int]) -> None:
        self.server = server  # for the log line, without its password
        self.passed = passed  # error codes about the database, not the data: raised as they are
        self.enabled = True  # False once the server refused LOAD DATA LOCAL
        self._statements: dict[str, str | None] = {}  # None: the table takes INSERTs only

    def load(self, cursor: Cursor, layout: TableLayout, rows: Sequence[Row]) -> int | None:
        """Rows added (stored uuids skipped), or None when the rows must go by INSERT."""
        conn = cursor.connection
        assert isinstance(conn, LoadConnection)
        statement = self._statement(cursor, layout)
        if statement is None:
            return None
        mark(cursor)
        try:
            added, warnings = conn.load(
                cursor, statement, load_chunks(rows, boolean_positions(layout))
            )
        except (StoreError, UnicodeEncodeError):
            pass  # a value no text can hold: the INSERT fails as it always did
        except MySQLError as exc:
            code = exc.args[0] if exc.args else None
            if code in self.passed:
                raise
            if code in _LOCAL_REFUSED:
                log.warning("%s refuses LOAD DATA LOCAL (%s): rows go by INSERT statements",
                            self.server, exc.args[-1])  # fmt: skip
                self.enabled = False
        else:
            if self.accepted(Loaded(added, warnings), len(rows)):
                return added
        undo(cursor)
        return None

    def known_statement(self, layout: TableLayout) -> str | None:
        """The LOAD DATA of ``layout``'s table when a load of it has been prepared before (no
        statement runs to find out), else None."""
        return self._statements.get(layout.name) if self.enabled else None

    def accepted(self, loaded: Loaded, rows: int) -> bool:
        """Whether a load of ``rows`` rows said nothing the INSERTs would not have: each row it
        skipped says so once (a duplicate key); a value IGNORE let through adds its own."""
        return loaded.warnings == rows - loaded.added

    def _statement(self, cursor: Cursor, layout: TableLayout) -> str | None:
        """The LOAD DATA of ``layout``'s table, or None when it would not store exactly what
        the INSERTs do: a float's text is the INSERT's only in a numeric column, and a table
        made by another hand may hold a number field (double, bigint) in a text one."""
        if layout.name in self._statements:
            return self._statements[layout.name]
        cursor.execute(*MYSQL.table_columns(layout.name))
        types = {str(name).lower(): str(kind).lower() for name, kind in cursor.fetchall()}
        if not types:
            return None  # dropped meanwhile: the INSERT says so, and it is made again
        statement: str | None = load_statement(layout.name, layout.column_names)
        for column in layout.columns:
            if column.kind in (DOUBLE, BIGINT) and types.get(column.name.lower()) not in _NUMERIC:
                log.info("%s.%s is not a numeric column: its rows go by INSERT statements",
                         layout.name, column.name)  # fmt: skip
                statement = None
                break
        self._statements[layout.name] = statement
        return statement


def mark(cursor: Cursor) -> None:
    """Where a load that says anything the INSERTs would not is undone to (``undo``)."""
    cursor.execute(f"SAVEPOINT {_SAVEPOINT}")


def undo(cursor: Cursor) -> None:
    cursor.execute(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")


def load_statement(table: str, columns: Sequence[str]) -> str:
    """LOAD DATA of ``load_text``'s rows into ``columns`` of ``table``, skipping stored uuids
    (the file name is never read: ``LoadConnection`` sends the rows)."""
    return (
        f"LOAD DATA LOCAL INFILE 'el-monitor-rows' IGNORE INTO TABLE {MYSQL.quote(table)} "
        f"CHARACTER SET utf8mb4 {LOAD_FORMAT} ({MYSQL.names(columns)})"
    )


def load_chunks(rows: Sequence[Row], booleans: Sequence[int]) -> Iterator[bytes]:
    """``load_text`` of the rows, a few hundred at a time: sent as each is made, so the
    server loads one while the next is encoded (the sum of both times becomes the larger)."""
    for start in range(0, len(rows), _CHUNK_ROWS):
        yield load_text(rows[start : start + _CHUNK_ROWS], booleans)


class LoadConnection(Session):
    """A PyMySQL connection whose ``LOAD DATA LOCAL INFILE`` sends the bytes given to ``load``.

    PyMySQL offers no public way to feed a LOAD from memory, so this takes over the one step
    where a statement's result is read (``_read_query_result``): every statement on this
    connection reads its result through ``_LoadResult``, whose LOAD file is what ``load`` was
    given, and empty for a LOAD the server asks for on its own (it never reads a file here).
    """

    _rows: Iterable[bytes] | None = None  # what the statement running now loads

    def begin_load(self, cursor: Cursor, statement: str) -> None:
        """Run a LOAD DATA LOCAL ``statement`` and leave its file open: ``feed`` sends rows,
        ``end_load`` ends it.  Nothing else may run on the connection in between."""
        self._rows = _LEFT_OPEN
        try:
            cursor.execute(statement)
        finally:
            self._rows = None

    def feed(self, text: bytes) -> None:
        """Send ``text`` (``load_text``) into the open LOAD; raises MySQLError when the server
        has answered meanwhile (an error ended the load) or is gone."""
        with _in_step(self):
            if not self._send_file(text):
                raise OperationalError(CR.CR_COMMANDS_OUT_OF_SYNC, "the server ended the load")

    def end_file(self) -> None:
        """End the open LOAD's file without waiting for the server's answer: it loads the rows
        while the caller goes on, and ``load_answer`` reads what it did."""
        with _in_step(self):
            self.write_packet(b"")

    def end_load(self) -> Loaded:
        """End the open LOAD's file and read what it did (the server's error, if any)."""
        self.end_file()
        return self.load_answer()

    def load_answer(self) -> Loaded:
        """What the LOAD whose file has ended did (raises the server's error, if any)."""
        result = MySQLResult(self)
        result._read_ok_packet(self._answer())  # type: ignore[attr-defined]
        self.server_status = result.server_status
        return Loaded(result.affected_rows or 0, result.warning_count)

    def _send_file(self, text: bytes) -> bool:
        """Send ``text`` as the LOAD's file goes on, a packet at a time; False when the server
        said something (or closed the connection) first: a peer that went away is noticed at
        once, not after the socket's buffers fill and a write times out."""
        view = memoryview(text)
        for start in range(0, len(view), _PACKET_BYTES):
            if _answered(self):
                return False
            self.write_packet(view[start : start + _PACKET_BYTES])
        return True

    def _answer(self) -> Any:
        """The OK packet of the LOAD whose file has ended (raises the server's error)."""
        with _in_step(self):
            ok_packet = self._read_packet()
        if not ok_packet.is_ok_packet():
            raise OperationalError(CR.CR_COMMANDS_OUT_OF_SYNC, "Commands Out of Sync")
        return ok_packet

    def load(self, cursor: Cursor, statement: str, rows: Iterable[bytes]) -> Loaded:
        """Run a LOAD DATA LOCAL ``statement`` (on a cursor of this connection) with ``rows``
        as its file, sent as they come; an exception ``rows`` raises ends the file there and
        is raised once the server has answered (the caller undoes what it loaded)."""
        self._rows = rows
        try:
            added = cursor.execute(statement)
        finally:
            self._rows = None
        result = self._result
        assert result is not None  # the statement's, just read
        return Loaded(added, result.warning_count)

    def _read_query_result(self, unbuffered: bool = False) -> int | None:
        if unbuffered:  # the store reads every result whole: no cursor asks for this
            raise MySQLError("unbuffered results are not read on a loading connection")
        self._result = None  # until this statement's is read whole
        outcome = _LoadResult(self, self._rows)
        outcome.read()  # sends the LOAD's file when the server asks for it
        self._result = outcome
        status: int | None = outcome.server_status
        if status is not None:
            self.server_status = status
        return outcome.affected_rows


@contextmanager
def _in_step(conn: Connection[Any]) -> Iterator[None]:
    """Sending a LOAD's file: an interruption (anything but the server's own error, after
    which PyMySQL has closed a broken connection or an error packet left it in step) leaves
    the protocol out of step, so the connection is closed."""
    try:
        yield
    except MySQLError:
        raise
    except BaseException:
        conn._force_close()  # type: ignore[attr-defined]
        raise


def _answered(conn: Connection[Any]) -> bool:
    """Whether the server said something (or closed the connection) before the file ended."""
    sock = conn._sock  # type: ignore[attr-defined]
    return sock is not None and bool(select.select([sock], [], [], 0)[0])


class _LeftOpen:
    """``begin_load``'s file, left open for ``feed``: never read as an iterable."""

    def __iter__(self) -> Iterator[bytes]:
        return iter(())


_LEFT_OPEN = _LeftOpen()


class _LoadResult(MySQLResult):
    """A statement's result; a LOAD's file is ``rows`` (nothing when no LOAD was sent)."""

    def __init__(self, connection: LoadConnection, rows: Iterable[bytes] | None) -> None:
        super().__init__(connection)
        self._rows = rows or ()

    def _read_load_local_packet(self, first_packet: Any) -> None:
        conn = self.connection
        assert isinstance(conn, LoadConnection)
        if self._rows is _LEFT_OPEN:
            return  # ``begin_load``: the file is sent later, by ``feed`` and ``end_load``
        failed: Exception | None = None
        with _in_step(conn):
            try:
                for chunk in self._rows:
                    if not conn._send_file(chunk):
                        break  # the server ended the load (an error, or it went away)
            except (StoreError, UnicodeEncodeError) as exc:  # the rows', not the connection's
                failed = exc
        conn.end_file()
        self._read_ok_packet(conn._answer())  # type: ignore[attr-defined]
        if failed is not None:
            raise failed
