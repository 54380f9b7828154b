"""Rows sent ahead: one table's rows of the batch being filled, loaded as they are made.

The server's LOAD of a batch takes about as long as all of the forwarder's work on it; done at
the flush, the two run one after the other.  A preload sends each few hundred rows as the
pipeline accepts them, into a LOAD opened with the batch's first event or as a LOAD of their
own, so the server inserts them on its own core while the next lines are parsed; the flush
then only ends the LOAD, checks what it said as ``Loader.load`` does, and commits
(``MySQLStore.insert`` adopts it into the batch's transaction).  It is a head start and
nothing more: its rows stay in memory, and anything unexpected (a statement wanted on the
connection, a value no text can carry, an error, a lost server) abandons it, undoing what it
loaded, and the flush takes the usual path.
"""

from __future__ import annotations

from typing import NamedTuple

from el_monitor.store.mapping import Row, TableLayout
from el_monitor.store.mysql_load import LoadConnection, Loaded
from el_monitor.store.mysql_text import boolean_positions, load_text

SEND_ROWS = 256  # rows encoded and sent at a time: a few packets, the server never idle long


class Preload:
    """``layout``'s rows loaded on ``conn`` as they come: ``add`` each row, then ``finish``.

    Either one LOAD left open for the whole batch, or (``statement`` given) a LOAD
    ``statement`` for each few hundred rows, its answer read when the next is sent: where a
    LOAD holds its table's AUTO-INC lock until it ends (``innodb_autoinc_lock_mode`` 0 and 1)
    it is held for a few hundred rows at a time, never while the forwarder waits for lines.
    """

    def __init__(self, conn: LoadConnection, layout: TableLayout, statement: str | None) -> None:
        self.conn = conn
        self.layout = layout
        self.booleans = boolean_positions(layout)
        self.statement = statement
        self.rows: list[Row] = []  # every row added, in order: the batch's rows of the table
        self.failed = False  # the LOAD can no longer be trusted: the store abandons it
        self._sent = 0
        self._loaded = Loaded(0, 0)  # what the statements answered so far
        self._answer_due = False  # a statement's rows sent, its answer not yet read

    def add(self, row: Row) -> None:
        """Keep ``row``; send the rows kept since the last send once there are enough."""
        self.rows.append(row)
        if len(self.rows) - self._sent >= SEND_ROWS:
            self._send()

    def finish(self, send_rest: bool = True) -> Loaded | None:
        """Send the rest (unless it is to be undone anyway) and end the LOAD: what it did,
        or None when it failed."""
        if send_rest and self._sent < len(self.rows):
            self._send()
        if self.failed:
            return None
        try:
            if self.statement is None:
                return self.conn.end_load()
            self._read_answer()
        except Exception:  # the server's error, or the connection lost: undone by the store
            self.failed = True
            return None
        return self._loaded

    def _send(self) -> None:
        if self.failed:
            return
        rows, self._sent = self.rows[self._sent :], len(self.rows)
        try:
            text = load_text(rows, self.booleans)
            if self.statement is None:
                self.conn.feed(text)
                return
            self._read_answer()
            with self.conn.cursor() as cursor:
                self.conn.begin_load(cursor, self.statement)
            self.conn.feed(text)
            self.conn.end_file()
            self._answer_due = True
        except Exception:  # a value no text carries, the server's answer, a lost connection
            self.failed = True

    def _read_answer(self) -> None:
        """Add up what the last statement sent did."""
        if self._answer_due:
            self._answer_due = False
            loaded = self.conn.load_answer()
            self._loaded = Loaded(
                self._loaded.added + loaded.added, self._loaded.warnings + loaded.warnings
            )


class Adopted(NamedTuple):
    """A finished preload whose transaction an insert continues."""

    conn: LoadConnection
    rows: list[Row]
    loaded: Loaded
