"""Replication on MariaDB (10.11; MySQL spells some of it differently): a replica's status,
GTID positions, the ``read_only`` fence, promotion and re-pointing, and the heartbeat table.

Every function takes a MySQL store and refuses a SQLite one with a ``UserError``; errors of
the server leave as the store's ``StoreUnavailable`` / ``StoreError``.

``el_monitor_heartbeat`` — one row per server that writes heartbeats (``el-monitor
heartbeat`` on the primary), replicated like any row:
  ``server_id`` (the writer's ``@@server_id``, primary key) and ``ts`` (``DATETIME(6)``, UTC).
Both times come from the database servers' own clocks, not the hosts running the writer or
the check: the primary's ``UTC_TIMESTAMP(6)`` is written, the replica's ``UTC_TIMESTAMP(6)``
is what it is compared with.  Database servers are the machines kept in NTP sync, and the
writer and the check may run anywhere (pt-heartbeat uses the writer's and the reader's host
clocks instead).  Under row-based replication the primary's value is what the replica
stores; under statement-based the primary's statement time is replayed with it.

``read_only`` stops writes from users without the ``READ ONLY ADMIN`` privilege (which
``ALL PRIVILEGES``, hence root, includes): the pipeline's writers must use an ordinary user
for the fence to hold them.  Refused writes fail with error 1290, which the stores count as
"database unavailable" (spool and retry).
"""

from __future__ import annotations

import datetime
import time
from typing import Any, NamedTuple

from el_monitor.errors import UserError
from el_monitor.store.base import Store
from el_monitor.store.dialect import MYSQL
from el_monitor.store.mapping import IDENTIFIER, TableMissing
from el_monitor.store.mysql import MySQLStore

HEARTBEAT_TABLE = "el_monitor_heartbeat"
_WAIT_SLICE = 20.0  # seconds per MASTER_GTID_WAIT call: well under the store's read timeout


class ReplicaStatus(NamedTuple):
    """One replication connection's ``SHOW [ALL] SLAVE[S] STATUS``, the parts a check, a
    compare or a drill needs."""

    io_state: str  # Slave_IO_Running: "Yes", "No" or "Connecting"
    sql_state: str  # Slave_SQL_Running: "Yes" or "No"
    seconds_behind: int | None  # Seconds_Behind_Master; None while a thread is stopped
    last_io_errno: int
    last_io_error: str
    last_sql_errno: int
    last_sql_error: str
    gtid_io_pos: str  # the last GTID received from the primary
    gtid_slave_pos: str  # the last GTID applied (@@gtid_slave_pos)
    master_host: str
    master_port: int
    master_server_id: int  # 0 until the IO thread has talked to the primary
    connection: str = ""  # its name ('' for the default connection)

    @property
    def io_running(self) -> bool:
        return self.io_state == "Yes"

    @property
    def sql_running(self) -> bool:
        return self.sql_state == "Yes"

    @property
    def running(self) -> bool:
        return self.io_running and self.sql_running


class Heartbeat(NamedTuple):
    """The newest heartbeat row of one writer, and how old it is by the reader's clock."""

    server_id: int
    written: datetime.datetime  # UTC, naive as the server gives it
    age: float  # seconds: the reader's UTC_TIMESTAMP(6) minus ``written``


def _mysql(store: Store) -> MySQLStore:
    if not isinstance(store, MySQLStore):
        raise UserError(
            f"replication needs a MySQL/MariaDB database; {store.url} is not one "
            "(use --db mysql://user@host:port/db)"
        )
    return store


def _value(store: Store, sql: str, params: tuple[object, ...] = ()) -> Any:
    rows = _mysql(store).query(sql, params)
    return rows[0][0] if rows else None


# status ------------------------------------------------------------------------------------


def replica_status(store: Store) -> ReplicaStatus | None:
    """The server's replication status, or None when it is not a replica (no primary
    configured: never was one, or ``RESET SLAVE ALL``)."""
    rows = _mysql(store).query_named("SHOW SLAVE STATUS")
    if not rows or not rows[0].get("Master_Host"):
        return None
    return _status(rows[0], gtid_slave_pos(store))


def replica_connections(store: Store) -> list[ReplicaStatus]:
    """Every replication connection of the server; empty when it replicates from nothing."""
    rows = _mysql(store).query_named("SHOW ALL SLAVES STATUS")
    return [_status(row, _text(row, "Gtid_Slave_Pos")) for row in rows]


def _status(row: dict[str, Any], slave_pos: str) -> ReplicaStatus:
    behind = row.get("Seconds_Behind_Master")
    return ReplicaStatus(
        io_state=_text(row, "Slave_IO_Running") or "No",
        sql_state=_text(row, "Slave_SQL_Running") or "No",
        seconds_behind=None if behind is None else int(behind),
        last_io_errno=int(row.get("Last_IO_Errno") or 0),
        last_io_error=_text(row, "Last_IO_Error"),
        last_sql_errno=int(row.get("Last_SQL_Errno") or 0),
        last_sql_error=_text(row, "Last_SQL_Error"),
        gtid_io_pos=_text(row, "Gtid_IO_Pos"),
        gtid_slave_pos=slave_pos,
        master_host=_text(row, "Master_Host"),
        master_port=int(row.get("Master_Port") or 0),
        master_server_id=int(row.get("Master_Server_Id") or 0),
        connection=_text(row, "Connection_name"),
    )


def _text(row: dict[str, Any], key: str) -> str:
    value = row.get(key)
    return value.decode() if isinstance(value, bytes) else str(value or "")


def server_id(store: Store) -> int:
    return int(_value(store, "SELECT @@server_id"))


def gtid_binlog_pos(store: Store) -> str:
    """The GTIDs this server has written to its binary log (its own and replicated ones)."""
    return str(_value(store, "SELECT @@gtid_binlog_pos") or "")


def gtid_current_pos(store: Store) -> str:
    """The newest of binlog and slave positions: where this server's data is."""
    return str(_value(store, "SELECT @@gtid_current_pos") or "")


def gtid_slave_pos(store: Store) -> str:
    """The GTIDs the replication SQL thread has applied."""
    return str(_value(store, "SELECT @@gtid_slave_pos") or "")


def wait_for_gtid(store: Store, position: str, timeout: float) -> bool:
    """Wait until the replica has applied ``position`` (``MASTER_GTID_WAIT``); False when
    ``timeout`` seconds pass first.  Waits in slices so no single call outlasts the store's
    read timeout."""
    if not position:
        return True
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        wait = max(0.0, min(left, _WAIT_SLICE))
        if _value(store, "SELECT MASTER_GTID_WAIT(%s, %s)", (position, wait)) == 0:
            return True
        if left <= _WAIT_SLICE:
            return False


# fence, promotion, re-pointing -----------------------------------------------------------------


def set_read_only(store: Store, on: bool) -> None:
    """Fence (``on``) or unfence the server: ``SET GLOBAL read_only``."""
    _mysql(store).execute(f"SET GLOBAL read_only = {'ON' if on else 'OFF'}")


def is_read_only(store: Store) -> bool:
    return bool(int(_value(store, "SELECT @@GLOBAL.read_only")))


def logs_replicated_events(store: Store) -> bool:
    """Whether the server writes what it replicates to its binary log (``log_bin`` and
    ``log_slave_updates``): replicas moved under it after a promotion need those events."""
    return bool(int(_value(store, "SELECT @@GLOBAL.log_bin AND @@GLOBAL.log_slave_updates")))


def stop_replica(store: Store, sql_thread_only: bool = False) -> None:
    """``STOP SLAVE`` (or only its SQL thread: events still arrive, none is applied)."""
    _mysql(store).execute("STOP SLAVE SQL_THREAD" if sql_thread_only else "STOP SLAVE")


def start_replica(store: Store) -> None:
    _mysql(store).execute("START SLAVE")


def promote(store: Store) -> None:
    """Make a replica a primary: stop replicating, forget its primary, accept writes."""
    mysql = _mysql(store)
    mysql.execute("STOP SLAVE")
    mysql.execute("RESET SLAVE ALL")
    mysql.execute("SET GLOBAL read_only = OFF")


def replicate_from(
    store: Store,
    host: str,
    port: int,
    user: str | None = None,
    password: str | None = None,
    start_at: str | None = None,
    connect_retry: int | None = None,
) -> None:
    """Replicate from ``host:port`` by GTID (``MASTER_USE_GTID=slave_pos``) and start.

    Without ``user`` and ``password`` the replica keeps the account it has (``CHANGE MASTER``
    leaves options it is not given as they were): a replica moved from one primary to another.
    ``start_at`` first sets ``gtid_slave_pos``: a demoted primary passes its own
    ``gtid_binlog_pos``, or it would ask the new primary for everything since its (empty)
    slave position.  ``connect_retry`` is the seconds between reconnection attempts
    (the server's default: 60)."""
    mysql = _mysql(store)
    mysql.execute("STOP SLAVE")
    if start_at is not None:
        mysql.execute("SET GLOBAL gtid_slave_pos = %s", (start_at,))
    params: tuple[object, ...] = (host, int(port))
    account = ""
    if user is not None:
        account = ", MASTER_USER = %s, MASTER_PASSWORD = %s"
        params = (*params, user, password or "")
    retry = "" if connect_retry is None else f", MASTER_CONNECT_RETRY = {int(connect_retry)}"
    mysql.execute(
        f"CHANGE MASTER TO MASTER_HOST = %s, MASTER_PORT = %s{account}, "
        f"MASTER_USE_GTID = slave_pos{retry}",
        params,
    )
    mysql.execute("START SLAVE")


# heartbeat ---------------------------------------------------------------------------------


def _heartbeat_table(database: str | None) -> str:
    """The heartbeat table, qualified with ``database`` when given (else the URL's)."""
    table = MYSQL.quote(HEARTBEAT_TABLE)
    if database is None:
        return table
    if not IDENTIFIER.fullmatch(database):
        raise UserError(f"bad database name {database!r}: letters, digits and _ only")
    return f"{MYSQL.quote(database)}.{table}"


def create_heartbeat(store: Store, database: str | None = None) -> None:
    """Create the heartbeat table when missing (on the primary: it replicates)."""
    _mysql(store).execute(
        f"CREATE TABLE IF NOT EXISTS {_heartbeat_table(database)} ("
        "server_id INT UNSIGNED NOT NULL PRIMARY KEY, ts DATETIME(6) NOT NULL) ENGINE=InnoDB"
    )


def write_heartbeat(store: Store, database: str | None = None) -> None:
    """Upsert this server's row with its clock's time now (UTC, microseconds)."""
    _mysql(store).execute(
        f"INSERT INTO {_heartbeat_table(database)} (server_id, ts) "
        "VALUES (@@server_id, UTC_TIMESTAMP(6)) ON DUPLICATE KEY UPDATE ts = VALUES(ts)"
    )


def read_heartbeat(
    store: Store, writer: int | None, database: str | None = None
) -> Heartbeat | None:
    """The heartbeat of server ``writer`` (the primary's id; None: the newest of any), aged
    by this server's clock; None when there is no such row or no heartbeat table."""
    where, params = ("WHERE server_id = %s ", (writer,)) if writer is not None else ("", ())
    sql = (
        "SELECT server_id, ts, TIMESTAMPDIFF(MICROSECOND, ts, UTC_TIMESTAMP(6)) "
        f"FROM {_heartbeat_table(database)} {where}ORDER BY ts DESC LIMIT 1"
    )
    try:
        rows = _mysql(store).query(sql, params)
    except TableMissing:
        return None
    if not rows:
        return None
    writer_id, written, micros = rows[0]
    return Heartbeat(int(writer_id), written, int(micros) / 1e6)
