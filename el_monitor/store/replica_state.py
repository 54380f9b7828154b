"""What a MariaDB replica says of its replication, and the GTID position to wait for.

``backup compare`` needs to know whether the server it compares with a primary replicates
from that primary at all (its connections' ``Master_Server_Id``, or host and port), and
whether its threads run: a stopped replica differs by what it has not applied.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from el_monitor.store.base import Store
from el_monitor.store.checksum import require_mysql
from el_monitor.store.mysql import MySQLStore


class ReplicaConnection(NamedTuple):
    """One replication connection of a server (``SHOW ALL SLAVES STATUS``)."""

    name: str  # '' for the default connection
    master_host: str
    master_port: int
    master_server_id: int  # 0 until the replica has connected once
    io_running: str  # Yes, No, Connecting
    sql_running: str  # Yes, No
    last_error: str  # the IO or SQL thread's error text, '' when none
    seconds_behind: int | None

    @property
    def running(self) -> bool:
        return self.io_running == "Yes" and self.sql_running == "Yes"


def server_id(store: Store) -> int:
    ((value,),) = store.query("SELECT @@server_id")
    return int(value)


def replica_connections(store: Store) -> list[ReplicaConnection]:
    """The server's replication connections; empty when it replicates from nothing."""
    require_mysql(store)
    assert isinstance(store, MySQLStore)
    return [_connection(row) for row in store.query_records("SHOW ALL SLAVES STATUS")]


def _connection(row: dict[str, Any]) -> ReplicaConnection:
    def text(key: str) -> str:
        value = row.get(key)
        return value.decode() if isinstance(value, bytes) else str(value or "")

    behind = row.get("Seconds_Behind_Master")
    error = text("Last_SQL_Error") or text("Last_IO_Error")
    return ReplicaConnection(
        name=text("Connection_name"),
        master_host=text("Master_Host"),
        master_port=int(row.get("Master_Port") or 0),
        master_server_id=int(row.get("Master_Server_Id") or 0),
        io_running=text("Slave_IO_Running"),
        sql_running=text("Slave_SQL_Running"),
        last_error=error,
        seconds_behind=None if behind is None else int(behind),
    )


def binlog_position(store: Store) -> str:
    """The GTID position of everything the server has written to its binary log."""
    ((position,),) = store.query("SELECT @@gtid_binlog_pos")
    return str(position or "")


def wait_for_position(store: Store, position: str, timeout: float) -> bool:
    """Wait until the replica has applied ``position`` (at most ``timeout`` seconds);
    whether it did."""
    if not position:
        return True
    ((reached,),) = store.query("SELECT MASTER_GTID_WAIT(%s, %s)", (position, timeout))
    return reached == 0
