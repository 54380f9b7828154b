"""What a failover drill is given and what it checks before it touches anything: the plan
(servers, other replicas, forwarder, canaries, limits), the steps ``--dry-run`` prints, and
the pre-flight."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from el_monitor.backup.canary import CanaryStream
from el_monitor.backup.repoint import ForwarderLink, moved_url, same_server, server_address
from el_monitor.errors import UserError
from el_monitor.store import Store
from el_monitor.store.base import safe_url
from el_monitor.store.replication import (
    ReplicaStatus,
    is_read_only,
    logs_replicated_events,
    replica_status,
    server_id,
)


class DrillFailed(Exception):
    """A phase found what stops the drill; the message says what."""


@dataclass(frozen=True)
class FailoverPlan:
    primary: str  # admin URLs: the drill fences, waits and promotes
    replica: str
    forwarder: ForwarderLink | None = None
    canaries: CanaryStream | None = None
    max_lag: float = 5.0  # seconds the replica may be behind at pre-flight
    catch_up_timeout: float = 60.0
    canary_timeout: float = 60.0  # for canaries to reach the new primary
    min_free_bytes: int = 512 << 20
    space_paths: tuple[Path, ...] = ()  # where spooled events and the report go
    after_switch: int = 5  # canaries accepted after the re-point before the drill ends
    others: tuple[str, ...] = ()  # admin URLs of the other replicas, moved under the new one

    def steps(self, forwarder_url: str | None) -> tuple[str, ...]:
        """What the drill will do, in order (``--dry-run`` prints it)."""
        replica, primary = safe_url(self.replica), safe_url(self.primary)
        steps = [
            f"fence the primary {primary}: SET GLOBAL read_only = ON",
            f"wait (up to {self.catch_up_timeout:g} s) for the replica {replica} to apply "
            "the primary's last GTID (MASTER_GTID_WAIT)",
            f"promote {replica}: STOP SLAVE, RESET SLAVE ALL, SET GLOBAL read_only = OFF",
        ]
        if self.others:
            host, port = server_address(self.replica)
            steps += [
                f"wait for the other replica {safe_url(url)} to apply the primary's last GTID, "
                f"then CHANGE MASTER TO {host}:{port} (MASTER_USE_GTID = slave_pos, its "
                "replication account kept), START SLAVE"
                for url in self.others
            ]
        if self.forwarder is not None and forwarder_url:
            new = safe_url(moved_url(forwarder_url, self.replica))
            steps.append(
                f"point the forwarder at {new}: rewrite {self.forwarder.db_file}, "
                f"SIGHUP the pid in {self.forwarder.pid_file}"
            )
        if self.canaries is not None:
            schema, revision = self.canaries.schema
            steps.insert(
                0,
                f"send a {schema}/{revision} canary every "
                f"{self.canaries.interval:g} s through the forwarder, to the end",
            )
            steps.append("prove every canary is on the new primary (RPO 0 events)")
        if self.others:
            steps.append(
                "prove each other replica reaches the new primary's GTID position"
                + (" and holds every canary" if self.canaries is not None else "")
            )
        steps.append(
            "on any failure: unfence the primary, point the forwarder back, "
            + ("put moved replicas back under the primary, " if self.others else "")
            + "report"
        )
        return tuple(steps)


def preflight(
    plan: FailoverPlan,
    primary: Store,
    replica: Store,
    dry_run: bool,
    others: Sequence[tuple[str, Store]] = (),
) -> str | None:
    """Every reason not to start, at once (DrillFailed); the forwarder's URL when there is
    one.  A dry run sends no canary: it would be stored."""
    problems: list[str] = []
    if is_read_only(primary):
        problems.append("the primary is read_only already (a drill in progress?)")
    problems += _replicas_problems(plan, primary, replica, others)
    for path in plan.space_paths:
        free = shutil.disk_usage(path).free
        if free < plan.min_free_bytes:
            problems.append(
                f"{path}: {free >> 20} MiB free (at least {plan.min_free_bytes >> 20} MiB)"
            )
    forwarder_url = None
    if plan.forwarder is not None:
        try:
            plan.forwarder.pid()
            forwarder_url = plan.forwarder.url()
        except UserError as exc:
            problems.append(str(exc))
        else:
            if not forwarder_url or not same_server(forwarder_url, plan.primary):
                problems.append(
                    f"the forwarder's database file names "
                    f"{safe_url(forwarder_url or 'nothing')}, not the primary"
                )
    if plan.canaries is not None and not problems and not dry_run:
        plan.canaries.send_one()
        if not plan.canaries.accepted():
            problems.append(f"the forwarder refused a canary: {plan.canaries.last_error}")
    if problems:
        raise DrillFailed("pre-flight: " + "; ".join(problems))
    return forwarder_url


def _replicas_problems(
    plan: FailoverPlan, primary: Store, replica: Store, others: Sequence[tuple[str, Store]]
) -> list[str]:
    """The replica and each other replica: replicating from the primary, running, caught up;
    the replica logging what it replicates when the others are to follow it."""
    primary_id = server_id(primary)
    problems = replica_problems(
        f"the replica {safe_url(plan.replica)}", replica_status(replica), primary_id, plan.max_lag
    )
    if others and not logs_replicated_events(replica):
        problems.append(
            f"the replica {safe_url(plan.replica)} does not log what it replicates (log_bin "
            "and log_slave_updates): the other replicas could not follow it"
        )
    seen = [plan.primary, plan.replica]
    for url, store in others:
        name = f"the other replica {safe_url(url)}"
        if any(same_server(url, server) for server in seen):
            problems.append(f"{name} is named twice (or is the primary or the replica)")
            continue
        seen.append(url)
        problems += replica_problems(name, replica_status(store), primary_id, plan.max_lag)
    return problems


def replica_problems(
    name: str, status: ReplicaStatus | None, primary_id: int, max_lag: float
) -> list[str]:
    """Why ``name`` is not a replica of the primary (server ``primary_id``), running and at
    most ``max_lag`` seconds behind."""
    if status is None:
        return [f"{name} replicates from nothing (not a replica)"]
    problems = []
    if not status.running:
        problems.append(
            f"{name}: replication is not running (IO {status.io_state}, SQL "
            f"{status.sql_state}) {status.last_io_error or status.last_sql_error}".rstrip()
        )
    elif status.seconds_behind is None or status.seconds_behind > max_lag:
        problems.append(f"{name} is {status.seconds_behind} s behind (at most {max_lag:g} s)")
    if status.master_server_id not in (0, primary_id):
        problems.append(
            f"{name} replicates from {status.master_host}:{status.master_port} "
            f"(server id {status.master_server_id}), not from the primary"
        )
    return problems
