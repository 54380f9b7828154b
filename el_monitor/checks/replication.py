"""check_el_replication: is this replica replicating, and how far behind its primary is it?

The lag is pt-heartbeat's: the age, by the replica's clock, of the newest heartbeat row of its
primary's server id (``Master_Server_Id``; ``--master-server-id`` when the IO thread has not
met it yet) that ``el-monitor heartbeat`` writes on the primary every second.  Unlike
``Seconds_Behind_Master`` it is right while the replica is idle, while it reads a backlog, and
through a chain of replicas.  Judged against ``-w 30 -c 60`` (seconds)::

    EL_REPLICATION OK - lag 0.41 s by the heartbeat of server 1; replicating from
    db1:3306 | lag=0.412s;30;60;0

Replication stopped or broken is CRITICAL whatever the lag, with the replica's own error::

    EL_REPLICATION CRITICAL - replication broken: SQL thread stopped: error 1062: Could not
    execute Write_rows_v1 event on table test.t; Duplicate entry '2' ... | lag=12.1s;30;60;0

No heartbeat row (the writer never ran, or ``--database`` names another database) falls back
to ``Seconds_Behind_Master``, saying so.  A server that is not a replica, or does not answer,
is UNKNOWN.  Reads only.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, NamedTuple

import nagiosplugin
from nagiosplugin import Critical, Ok

from el_monitor.argtypes import positive_int
from el_monitor.checks import options, output
from el_monitor.checks.database import opened_database
from el_monitor.checks.judge import ValueContext, compared
from el_monitor.checks.runtime import run_check

if TYPE_CHECKING:
    from el_monitor.store.replication import ReplicaStatus

NAME = "EL_REPLICATION"
LAG, STATUS = "lag", "replication"
HEARTBEAT, SECONDS_BEHIND = "heartbeat", "Seconds_Behind_Master"


class Lag(NamedTuple):
    """The lag in seconds and where it came from (``None``: neither source had one)."""

    seconds: float | None
    source: str | None  # HEARTBEAT or SECONDS_BEHIND
    writer: int | None  # the server id whose heartbeat was read
    idle: bool  # it has applied all it received: an old heartbeat then means no writer


class Replication(nagiosplugin.Resource):
    """The replica's status and its lag, read once."""

    def __init__(self, db: str, database: str | None, writer: int | None) -> None:
        self.db, self.database, self.writer = db, database, writer

    def probe(self) -> Iterator[nagiosplugin.Metric]:
        from el_monitor.store.base import safe_url
        from el_monitor.store.replication import read_heartbeat, replica_status

        with opened_database(self.db) as store:
            status = replica_status(store)
            if status is None:
                raise nagiosplugin.CheckError(
                    f"{safe_url(self.db)} is not a replica (no primary configured); check --db"
                )
            writer = self.writer or status.master_server_id or None
            beat = read_heartbeat(store, writer, self.database)
        idle = status.sql_running and _gtids(status.gtid_io_pos) <= _gtids(status.gtid_slave_pos)
        if beat is not None:
            lag = Lag(max(0.0, beat.age), HEARTBEAT, beat.server_id, idle)
        else:
            behind = status.seconds_behind
            lag = Lag(None if behind is None else float(behind), SECONDS_BEHIND, None, idle)
        yield nagiosplugin.Metric(STATUS, status, context=STATUS)
        yield nagiosplugin.Metric(LAG, lag, uom="s", min=0, context=LAG)


def _gtids(position: str) -> frozenset[str]:
    """A GTID position's parts (one per replication domain)."""
    return frozenset(part.strip() for part in position.split(",") if part.strip())


def _or_null(value: int | None) -> str:
    return "NULL" if value is None else str(value)


def _seconds(value: float) -> str:
    """A lag for the status line: to the hundredth below 10 s, so ``1.02 s (> 1)`` reads."""
    return f"{value:.2f}" if value < 10 else output.num(value)


class StatusContext(nagiosplugin.Context):
    """CRITICAL unless both replication threads run; the hint says which stopped and why."""

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> nagiosplugin.Result:
        status: ReplicaStatus = metric.value
        if status.running:
            return nagiosplugin.Result(Ok, None, metric)
        return nagiosplugin.Result(Critical, stopped(status), metric)


def stopped(status: ReplicaStatus) -> str:
    """``replication broken: SQL thread stopped: error 1062: …`` or ``replication stopped
    (IO thread No, SQL thread No)``: the replica's own error text when it has one."""
    errors = []
    if not status.io_running and status.last_io_error:
        errors.append(f"IO thread {status.io_state}: error {status.last_io_errno}: "
                      f"{status.last_io_error}")  # fmt: skip
    if not status.sql_running and status.last_sql_error:
        errors.append(f"SQL thread stopped: error {status.last_sql_errno}: "
                      f"{status.last_sql_error}")  # fmt: skip
    if errors:
        return "replication broken: " + "; ".join(errors)
    threads = f"(IO thread {status.io_state}, SQL thread {status.sql_state})"
    if status.io_state == "Connecting" and status.sql_running:
        return f"replication not connected to its primary {threads}"
    return f"replication stopped {threads}"


class LagContext(ValueContext):
    """Seconds of lag against ``-w``/``-c``; not judged when unknown (replication stopped
    with no heartbeat: the status says CRITICAL)."""

    def value(self, metric: nagiosplugin.Metric) -> float:
        seconds: float | None = metric.value.seconds
        return float("nan") if seconds is None else seconds

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> nagiosplugin.Result:
        if metric.value.seconds is None:
            return nagiosplugin.Result(Ok, None, metric)
        return super().evaluate(metric, resource)

    def performance(
        self, metric: nagiosplugin.Metric, resource: object
    ) -> nagiosplugin.Performance:
        """``lag=0.412s;30;60;0``; ``lag=U;30;60;0`` when unknown (no unit after ``U``)."""
        seconds = metric.value.seconds
        return output.performance(
            LAG, seconds, "s" if seconds is not None else None, self.warning, self.critical, 0
        )


def _lag_text(result: nagiosplugin.Result, judged: bool) -> str:
    """``lag 35.2 s (> 30) by the heartbeat of server 1``, with the fallback's note."""
    lag: Lag = result.metric.value
    if lag.seconds is None:
        return "lag unknown (no heartbeat, and Seconds_Behind_Master is NULL)"
    limit = result.context.failed(result) if judged and result.state != Ok else None
    exact = lag.source == HEARTBEAT  # Seconds_Behind_Master counts whole seconds
    text = f"lag {_seconds(lag.seconds) if exact else output.num(lag.seconds)} s"
    if limit is not None:
        text += f" ({compared(lag.seconds, limit)})"
    if exact:
        text += f" by the heartbeat of server {lag.writer}"
        if limit is not None and lag.idle:
            text += " (the replica has applied all it received: is el-monitor heartbeat running?)"
        return text
    return (
        f"{text} by Seconds_Behind_Master (no heartbeat row of the primary: run "
        "el-monitor heartbeat on it)"
    )


class ReplicationSummary(nagiosplugin.Summary):
    def ok(self, results: nagiosplugin.Results) -> str:
        status: ReplicaStatus = results[STATUS].metric.value
        lag = _lag_text(results[LAG], judged=False)
        return f"{lag}; replicating from {status.master_host}:{status.master_port}"

    def problem(self, results: nagiosplugin.Results) -> str:
        unknown = output.unknown_text(results)
        if unknown:
            return unknown
        parts = []
        status = results[STATUS]
        if status.state != Ok:
            parts.append(str(status.hint))
        parts.append(_lag_text(results[LAG], judged=True))
        return "; ".join(parts)

    def verbose(self, results: nagiosplugin.Results) -> list[str]:
        if STATUS not in results:
            return []
        status: ReplicaStatus = results[STATUS].metric.value
        return [
            f"primary {status.master_host}:{status.master_port} (server id "
            f"{status.master_server_id or 'unknown'})",
            f"IO thread {status.io_state}, SQL thread {status.sql_state}, "
            f"Seconds_Behind_Master {_or_null(status.seconds_behind)}",
            f"GTID received {status.gtid_io_pos or '-'}, applied {status.gtid_slave_pos or '-'}",
        ]


def build_parser() -> argparse.ArgumentParser:
    parser = options.base_parser(
        "check_el_replication",
        "Replication of a MariaDB replica: CRITICAL when it is stopped or broken (with the "
        "replica's error), else its lag judged: the age of the primary's newest heartbeat "
        "row (el-monitor heartbeat), or Seconds_Behind_Master when there is none.",
        warning="30",
        critical="60",
        units="seconds of lag",
        waits_for="the database",
    )
    parser.add_argument(
        "--db", required=True, metavar="URL", help="the replica: mysql://user@host:port/db"
    )
    parser.add_argument(
        "--database",
        metavar="NAME",
        help="database of the heartbeat table (default: the one --db names)",
    )
    parser.add_argument(
        "--master-server-id",
        type=positive_int,
        metavar="ID",
        help="server id of the primary whose heartbeat to read (default: the replica's "
        "Master_Server_Id; the newest row of any server when unknown)",
    )
    return parser


def build_check(args: argparse.Namespace) -> nagiosplugin.Check:
    return nagiosplugin.Check(
        Replication(args.db, args.database, args.master_server_id),
        StatusContext(STATUS),
        LagContext(LAG, args.warning, args.critical),
        ReplicationSummary(),
    )


def _source(args: argparse.Namespace) -> str:
    from el_monitor.store.base import safe_url

    return f"the replica {safe_url(args.db)}"


def main(argv: Sequence[str] | None = None) -> int:
    return run_check(NAME, build_parser(), build_check, _source, argv)


if __name__ == "__main__":
    raise SystemExit(main())
