"""Does the server given as a replica replicate from the given primary, and is it running?

Asked before a compare: comparing with a server that does not replicate from the primary
says nothing, and one whose threads are stopped differs by whatever it has not applied.
The replica's connection to the primary is the one whose ``Master_Server_Id`` is the
primary's ``server_id`` or, before it ever connected, whose host and port are the primary
URL's.
"""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import urlsplit

from el_monitor.store import Store
from el_monitor.store.replication import ReplicaStatus, replica_connections, server_id

RUNNING = "running"
STOPPED = "stopped"
NOT_A_REPLICA = "not a replica"


class Replication(NamedTuple):
    state: str  # RUNNING, STOPPED or NOT_A_REPLICA
    detail: str  # one line for the operator


def replication_of(primary: Store, replica: Store, primary_url: str) -> Replication:
    """The replica's replication from ``primary`` (reached at ``primary_url``)."""
    primary_id, replica_id = server_id(primary), server_id(replica)
    if primary_id == replica_id:
        return Replication(NOT_A_REPLICA, f"both URLs reach server_id {primary_id}")
    connections = replica_connections(replica)
    if not connections:
        return Replication(NOT_A_REPLICA, f"server_id {replica_id} replicates from nothing")
    found = _from_primary(connections, primary_id, primary_url)
    if found is None:
        sources = ", ".join(
            f"{c.master_host}:{c.master_port} (server_id {c.master_server_id})" for c in connections
        )
        return Replication(
            NOT_A_REPLICA,
            f"server_id {replica_id} replicates from {sources}, not from server_id {primary_id}",
        )
    name = f"connection '{found.connection}' " if found.connection else ""
    if not found.running:
        last_error = found.last_sql_error or found.last_io_error
        error = f": {last_error}" if last_error else ""
        return Replication(
            STOPPED, f"{name}IO thread {found.io_state}, SQL thread {found.sql_state}{error}"
        )
    behind = "unknown" if found.seconds_behind is None else f"{found.seconds_behind} s"
    return Replication(RUNNING, f"{name}{behind} behind")


def _from_primary(
    connections: list[ReplicaStatus], primary_id: int, primary_url: str
) -> ReplicaStatus | None:
    for connection in connections:
        if connection.master_server_id == primary_id:
            return connection
    parts = urlsplit(primary_url)
    address = (parts.hostname or "", parts.port or 3306)
    for connection in connections:
        if connection.master_server_id == 0 and (
            (connection.master_host, connection.master_port) == address
        ):
            return connection
    return None
