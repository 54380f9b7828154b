"""``el-monitor heartbeat``: keep the primary's heartbeat row fresh for ``check_el_replication``.

Runs until SIGINT or SIGTERM (exit 0, as a systemd service stops it); the server going away
and coming back is logged, one line each, and survived.  A server that does not answer at
start, a SQLite ``--db`` or a refused write ends it with one line and status 2.
"""

from __future__ import annotations

import argparse
import logging

from el_monitor.argtypes import positive_float
from el_monitor.cli.options import Commands, add_db_option
from el_monitor.cli.signals import stop_on_signals
from el_monitor.cli.stores import opened_store

__all__ = ["register"]

log = logging.getLogger(__name__)


def register(commands: Commands) -> None:
    heartbeat = commands.add_parser(
        "heartbeat",
        help="write the replication heartbeat on the primary",
        description="Refresh this primary's row (server id, UTC time to the microsecond by "
        "the server's clock) in el_monitor_heartbeat every interval, until SIGINT or SIGTERM; "
        "replicas' lag is the age of the newest row they have applied (check_el_replication). "
        "Survives a server restart: writes are retried with backoff.",
    )
    add_db_option(heartbeat, required=True, help="the primary: mysql://user@host:port/db")
    heartbeat.add_argument(
        "--interval",
        type=positive_float,
        default=1.0,
        metavar="SECONDS",
        help="seconds between heartbeats (default: %(default)g)",
    )
    heartbeat.add_argument(
        "--database",
        metavar="NAME",
        help="database of the heartbeat table (default: the one --db names); it must "
        "replicate to the replicas",
    )
    heartbeat.set_defaults(run=run_heartbeat_command)


def run_heartbeat_command(args: argparse.Namespace) -> int:
    from el_monitor.backup.heartbeat import run_heartbeat
    from el_monitor.store.base import safe_url
    from el_monitor.store.replication import server_id

    with opened_store(args.db, doing="write the heartbeat") as store, stop_on_signals() as stop:
        log.info(
            "writing heartbeats of server id %d to %s every %g s",
            server_id(store),
            safe_url(args.db),
            args.interval,
        )
        result = run_heartbeat(store, stop, args.interval, args.database)
    log.info("stopped: %d heartbeats written, %d outages", result.written, result.outages)
    return 0
