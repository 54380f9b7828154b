"""The other replicas of a failover drill (``--other-replica``), as orchestrator moves them: each
waits until it holds everything the fenced primary wrote (the fence position), then replicates
from the promoted replica by GTID; the verify phase proves the canaries reach it there; an
aborted drill puts it back under the old primary.

A moved replica keeps its replication account (``CHANGE MASTER`` keeps what it is not given)
and its ``gtid_slave_pos``, the fence position, which the new primary's binary log holds
(``log_slave_updates``, checked at pre-flight).  It is put back only while its position is
still the one it was moved at: once it has applied a write of the new primary it holds what
the old primary never had, and is left where it is, which the report says.
The SQL is in ``store.replication`` and ``store.catalogue``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from el_monitor.backup.drill_log import ReplicaOutcome
from el_monitor.backup.failover_plan import DrillFailed
from el_monitor.errors import UserError
from el_monitor.store import Store, StoreError, StoreUnavailable
from el_monitor.store.base import safe_url
from el_monitor.store.catalogue import stored_uuids
from el_monitor.store.replication import (
    ReplicaStatus,
    gtid_slave_pos,
    replica_status,
    replicate_from,
    start_replica,
    stop_replica,
    wait_for_gtid,
)

# Outcomes, as the record and the report show them.
CHECKED = "checked"  # a dry run: the pre-flight passed
NOT_MOVED = "not moved"  # still under the old primary
MOVED = "moved"  # replicates from the new primary
PUT_BACK = "put back"  # moved, then back under the old primary (the drill aborted)
LEFT = "left under the new primary"  # moved and applied its writes: not put back
STRANDED = "stranded"  # could not be moved or put back: see the detail

POLL = 0.1  # seconds between looks at a moved replica's threads


@dataclass
class OtherReplica:
    """One other replica and what the drill has done with it so far."""

    url: str
    store: Store | None = None
    outcome: str = NOT_MOVED
    detail: str = ""
    old: tuple[str, int] = ("", 0)  # its primary as it names it, to put it back
    moved_at: str = ""  # its gtid_slave_pos when it was moved
    canaries_found: int | None = None

    @property
    def name(self) -> str:
        return f"the other replica {safe_url(self.url)}"

    @property
    def db(self) -> Store:
        if self.store is None:  # opened before the pre-flight; a bug otherwise
            raise RuntimeError(f"{self.name} is not open")
        return self.store

    def record(self) -> ReplicaOutcome:
        return ReplicaOutcome(safe_url(self.url), self.outcome, self.detail, self.canaries_found)


def reattach(
    replicas: list[OtherReplica], fence: str, new: tuple[str, int], timeout: float
) -> list[str]:
    """Wait until every replica has applied ``fence`` (within ``timeout`` seconds in all), then
    move each under ``new`` (host, port) and see its threads run (within ``timeout`` each);
    the phase's detail lines."""
    deadline = time.monotonic() + timeout
    late = []
    for replica in replicas:
        if wait_for_gtid(replica.db, fence, max(0.0, deadline - time.monotonic())):
            replica.detail = f"reached GTID {fence or '(none)'}"
        else:
            replica.detail = (
                f"did not reach GTID {fence} within {timeout:g} s ({_threads(replica)})"
            )
            late.append(f"{replica.name} {replica.detail}")
    if late:
        raise DrillFailed("; ".join(late))
    host, port = new
    for replica in replicas:
        _move(replica, host, port, time.monotonic() + timeout)
    moved = f"{len(replicas)} other replica" + ("s" if len(replicas) != 1 else "")
    return [f"{moved} moved to {host}:{port} at GTID {fence or '(none)'}"]


def _move(replica: OtherReplica, host: str, port: int, deadline: float) -> None:
    status = replica_status(replica.db)
    if status is not None:
        replica.old = (status.master_host, status.master_port)
    replica.moved_at = gtid_slave_pos(replica.db)
    replicate_from(replica.db, host, port)
    replica.outcome, replica.detail = MOVED, f"replicates from {host}:{port}"
    while True:
        status = replica_status(replica.db)
        if status is not None and status.running:
            return
        error = _error(status)
        if error or time.monotonic() >= deadline:
            replica.detail = f"does not replicate from {host}:{port}: {error or _threads(replica)}"
            raise DrillFailed(f"{replica.name} {replica.detail}")
        time.sleep(POLL)


def verify(
    replicas: list[OtherReplica], position: str, table: str | None, uuids: list[str], timeout: float
) -> list[str]:
    """Each moved replica reaches the new primary's ``position`` and holds ``uuids`` (the
    canaries, in ``table``; None: no canaries); the problems found, as sentences."""
    deadline = time.monotonic() + timeout
    problems = []
    for replica in (r for r in replicas if r.outcome == MOVED):
        if not wait_for_gtid(replica.db, position, max(0.0, deadline - time.monotonic())):
            problems.append(
                f"{replica.name} did not reach the new primary's GTID {position} within "
                f"{timeout:g} s ({_threads(replica)})"
            )
            continue
        if table is None:
            continue
        found = stored_uuids(replica.db, table, uuids)
        replica.canaries_found = len(found)
        replica.detail += f"; {len(found)} of {len(set(uuids))} canaries"
        if len(found) < len(set(uuids)):
            missing = [u for u in uuids if u not in found]
            problems.append(
                f"{len(missing)} canaries missing on {replica.name}: {', '.join(missing[:20])}"
            )
    return problems


def put_back(replicas: list[OtherReplica]) -> list[str]:
    """After an abort: each moved replica back under the primary it had, unless it applied a
    write of the new primary meanwhile; what was done, for the record."""
    done = []
    for replica in (r for r in replicas if r.outcome == MOVED):
        host, port = replica.old
        try:
            stop_replica(replica.db)
            position = gtid_slave_pos(replica.db)
            if position == replica.moved_at:
                replicate_from(replica.db, host, port)
                replica.outcome, replica.detail = PUT_BACK, f"replicates from {host}:{port} again"
            else:
                start_replica(replica.db)
                replica.outcome = LEFT
                replica.detail = (
                    f"it applied writes of the new primary (GTID {position}, moved at "
                    f"{replica.moved_at}) that the old primary lacks: rebuild it or keep it there"
                )
        except (StoreError, StoreUnavailable, UserError) as exc:
            replica.outcome, replica.detail = STRANDED, f"could NOT put it back: {exc}"
        done.append(f"{replica.name}: {replica.outcome} ({replica.detail})")
    return done


def _threads(replica: OtherReplica) -> str:
    try:
        status = replica_status(replica.db)
    except (StoreError, StoreUnavailable) as exc:
        return f"unreachable: {exc}"
    if status is None:
        return "not a replica"
    error = _error(status)
    return f"IO {status.io_state}, SQL {status.sql_state}" + (f": {error}" if error else "")


def _error(status: ReplicaStatus | None) -> str:
    if status is None:
        return "not a replica"
    return status.last_io_error or status.last_sql_error
