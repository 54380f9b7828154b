"""Rows sent ahead: one table's rows of the batch being filled, loaded as they are made.

The server's LOAD of a batch takes about as long as all of the forwarder's work on it; done at
the flush, the two run one after the other.  A preload opens the LOAD when the batch gets its
first event and sends each few hundred rows as the pipeline accepts them, so the server
inserts them on its own core while the next lines are parsed; the flush then only ends the
LOAD, checks what it said as ``Loader.load`` does, and commits (``MySQLStore.insert`` adopts
it into the batch's transaction).  It is a head start and nothing more: its rows stay in
memory, and anything unexpected (a statement wanted on the connection, a value no text can
carry, an error, a lost server) abandons it, undoing what it loaded, and the flush takes the
usual path.
"""

from __future__ import annotations

from typing import NamedTuple

from el_monitor.store.mapping import Row, TableLayout
from el_monitor.store.mysql_load import LoadConnection, Loaded, load_text

SEND_ROWS = 256  # rows encoded and sent at a time: a few packets, the server never idle long


class Preload:
    """A LOAD of ``layout``'s rows left open on ``conn``: ``add`` each row, then ``finish``."""

    def __init__(self, conn: LoadConnection, layout: TableLayout) -> None:
        self.conn = conn
        self.layout = layout
        self.rows: list[Row] = []  # every row added, in order: the batch's rows of the table
        self.failed = False  # the LOAD can no longer be trusted: the store abandons it
        self._sent = 0

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
            return self.conn.end_load()
        except Exception:  # the server's error, or the connection lost: undone by the store
            self.failed = True
            return None

    def _send(self) -> None:
        if self.failed:
            return
        rows, self._sent = self.rows[self._sent :], len(self.rows)
        try:
            self.conn.feed(load_text(rows))
        except Exception:  # a value no text carries, the server's answer, a lost connection
            self.failed = True


class Adopted(NamedTuple):
    """A finished preload whose transaction an insert continues."""

    conn: LoadConnection
    rows: list[Row]
    loaded: Loaded
