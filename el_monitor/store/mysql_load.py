"""MySQL's bulk path: a batch's rows as ``LOAD DATA LOCAL INFILE`` text, sent from memory.

LOAD DATA is about four times as fast as multi-row INSERTs of the same rows, and its text is
much cheaper to build than SQL literals (most values need no escaping at all).  PyMySQL sends the
file a LOAD names by reading it from disk; ``LoadConnection`` sends the bytes handed to ``load``
instead, so there is no file, and a server that asks for a file unprompted gets an empty one
(stock ``local_infile`` would read it any file it names).  The statement says ``IGNORE``: a
stored uuid is skipped (as the INSERT's ``ON DUPLICATE KEY`` does) and a value strict mode
would refuse is only a warning, which the store turns back into an INSERT (``MySQLStore``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import methodcaller
from typing import TYPE_CHECKING, Any, NamedTuple

from pymysql.connections import Connection, MySQLResult
from pymysql.constants import CR
from pymysql.cursors import Cursor
from pymysql.err import MySQLError, OperationalError

from el_monitor.store.dialect import MYSQL
from el_monitor.store.mapping import Row, StoreError

_PACKET_BYTES = 64 << 10  # a LOAD's data packets: far below any server's max_allowed_packet
_NULL = "\\N"
# Text of the non-string values (never a character that needs escaping); bool before int.
_TEXT: dict[type, Callable[[Any], str]] = {
    int: int.__repr__,
    float: float.__repr__,
    bool: ("0", "1").__getitem__,
}
_COUNT_NULLS = methodcaller("count", None)
# The characters LOAD DATA reads specially with the default FIELDS and LINES: backslash first.
_ESCAPES = (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"), ("\0", "\\0"))


class Loaded(NamedTuple):
    added: int  # rows inserted; those of stored uuids were skipped
    warnings: int  # what IGNORE let through: skipped duplicates, values strict mode refuses


def load_statement(table: str, columns: Sequence[str]) -> str:
    """LOAD DATA of ``load_text``'s rows into ``columns`` of ``table``, skipping stored uuids
    (the file name is never read: ``LoadConnection`` sends the rows)."""
    return (
        f"LOAD DATA LOCAL INFILE 'el-monitor-rows' IGNORE INTO TABLE {MYSQL.quote(table)} "
        "CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' "
        f"LINES TERMINATED BY '\\n' ({MYSQL.names(columns)})"
    )


def load_text(rows: Sequence[Row]) -> bytes:
    """The rows as LOAD DATA reads them (tab-separated, a line each, ``\\N`` for NULL), UTF-8.

    Built unescaped first; the text is right as it is when it has exactly the tabs, newlines
    and backslashes (one per NULL) its rows put there, and no CR or NUL: any other character
    that LOAD DATA reads specially came from a value, and the rows are written again escaped.
    Raises StoreError for a value of a type no column holds, UnicodeEncodeError for a string
    that is not valid Unicode (a lone surrogate).
    """
    text = _TEXT
    try:
        lines = [
            "\t".join(
                [
                    _NULL if v is None else v if v.__class__ is str else text[v.__class__](v)
                    for v in row
                ]
            )
            for row in rows
        ]
    except KeyError as exc:
        raise StoreError(f"cannot store a {exc.args[0].__name__} value") from None
    lines.append("")  # the last line's terminator
    body = "\n".join(lines)
    tabs = sum(map(len, rows)) - len(rows)
    nulls = sum(map(_COUNT_NULLS, rows))
    if (
        body.count("\t") != tabs
        or body.count("\n") != len(rows)
        or body.count("\\") != nulls
        or "\r" in body
        or "\0" in body
    ):
        lines = ["\t".join([_field(v) for v in row]) for row in rows]
        lines.append("")
        body = "\n".join(lines)
    return body.encode()


def _field(value: Any) -> str:
    """One value as LOAD DATA reads it back, escaped."""
    if value is None:
        return _NULL
    if value.__class__ is not str:
        return _TEXT[value.__class__](value)
    for char, escaped in _ESCAPES:
        if char in value:
            value = value.replace(char, escaped)
    return value


if TYPE_CHECKING:
    _Connection = Connection[Cursor]  # generic in the stubs only
else:
    _Connection = Connection


class LoadConnection(_Connection):
    """A PyMySQL connection whose ``LOAD DATA LOCAL INFILE`` sends the bytes given to ``load``.

    Hooks PyMySQL where it reads a statement's result (``_read_query_result``, the same code
    with our result class), since it offers no public way to feed a LOAD from memory.
    """

    _rows: bytes | None = None  # what the statement running now loads

    def load(self, cursor: Cursor, statement: str, rows: bytes) -> Loaded:
        """Run a LOAD DATA LOCAL ``statement`` (on a cursor of this connection) with ``rows``
        as its file."""
        self._rows = rows
        try:
            added = cursor.execute(statement)
        finally:
            self._rows = None
        result = self._result
        assert result is not None  # the statement's, just read
        return Loaded(added, result.warning_count)

    def _read_query_result(self, unbuffered: bool = False) -> int | None:
        self._result = None
        result = _LoadResult(self, self._rows)
        if unbuffered:
            result.init_unbuffered_query()
        else:
            result.read()
        self._result = result
        if result.server_status is not None:
            self.server_status = result.server_status
        return result.affected_rows


class _LoadResult(MySQLResult):
    """A statement's result; a LOAD's file is ``rows`` (nothing when no LOAD was sent)."""

    def __init__(self, connection: LoadConnection, rows: bytes | None) -> None:
        super().__init__(connection)
        self._rows = memoryview(rows or b"")

    def _read_load_local_packet(self, first_packet: Any) -> None:
        conn = self.connection
        assert conn is not None
        rows = self._rows
        try:
            for start in range(0, len(rows), _PACKET_BYTES):
                conn.write_packet(rows[start : start + _PACKET_BYTES])
            conn.write_packet(b"")  # the end of the file
            ok_packet = conn._read_packet()  # raises the server's error, if any
        except MySQLError:
            raise  # PyMySQL closed a broken connection; an error packet leaves it in step
        except BaseException:  # interrupted mid-file: the protocol is out of step
            conn._force_close()  # type: ignore[attr-defined]
            raise
        if not ok_packet.is_ok_packet():
            raise OperationalError(CR.CR_COMMANDS_OUT_OF_SYNC, "Commands Out of Sync")
        self._read_ok_packet(ok_packet)  # type: ignore[attr-defined]
