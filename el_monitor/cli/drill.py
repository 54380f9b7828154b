"""``el-monitor drill``: the drills ops run on a schedule; ``failover`` promotes the replica
under load and proves no event was lost; ``restore`` (``cli.drill_restore``) loads the newest
complete backup into a scratch database and compares it.

The report goes to stdout (with each phase's time against the last drill's), to the drill log
(``--report-dir``: JSON, text and HTML, one set per drill) and, with ``--mail``, to ops.  Exit
status 0 when the drill passed (``--dry-run``: when the pre-flight did), 1 when it was aborted,
2 for a mistake on the command line.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from el_monitor.argtypes import positive_float, positive_int
from el_monitor.backup.drill_log import DEFAULT_DIR
from el_monitor.cli.drill_forwarder import register_forwarder
from el_monitor.cli.drill_restore import register_restore
from el_monitor.cli.options import Commands, add_config_option, command_group, smtp_address
from el_monitor.errors import UserError

if TYPE_CHECKING:
    from el_monitor.backup.drill_report import DrillReport
    from el_monitor.backup.failover import FailoverPlan
    from el_monitor.store import Store

__all__ = ["register"]

log = logging.getLogger(__name__)


def register(commands: Commands) -> None:
    drills = command_group(
        commands,
        "drill",
        help="run a failover (or restore) drill and keep its report",
        description="Drills ops run on a schedule, each kept in a drill log so the next one "
        "compares itself with the last (check_el_drill warns when none passed lately).",
        kind="drills",
    )
    register_failover(drills)
    register_restore(drills)
    register_forwarder(drills)


def register_failover(drills: Commands) -> None:
    failover = drills.add_parser(
        "failover",
        help="promote the replica under load; prove every canary event reached it",
        description="Pre-flight (replicas running, lag, disk space, forwarder), fence the "
        "primary (read_only), wait for the replica to apply its last GTID, promote it, move "
        "the other replicas (--other-replica) under it, point the forwarder at it (--db-file, "
        "SIGHUP), and prove every canary sent through the forwarder during the drill is on "
        "the new primary and the other replicas. Each phase is timed (RTO); any failure "
        "aborts: the primary is unfenced, the forwarder pointed back and moved replicas put "
        "back under the primary.",
    )
    failover.add_argument(
        "--primary",
        required=True,
        metavar="URL",
        help="the primary, with an account allowed to set read_only",
    )
    failover.add_argument(
        "--replica", required=True, metavar="URL", help="its replica, to promote (same privileges)"
    )
    failover.add_argument(
        "--other-replica",
        action="append",
        default=[],
        metavar="URL",
        help="another replica of the primary, moved under the promoted one once it has "
        "applied the primary's last GTID (keeps its replication account); repeat for each",
    )
    failover.add_argument(
        "--forwarder",
        metavar="PIDFILE",
        help="the pid file of the forwarder to re-point (forward --pid-file)",
    )
    failover.add_argument(
        "--db-file", metavar="PATH", help="that forwarder's --db-file (required with --forwarder)"
    )
    failover.add_argument(
        "--canary-url",
        metavar="URL",
        help="the forwarder's HTTP beacon (http://host:port) to send canaries to",
    )
    failover.add_argument(
        "--canary-event",
        metavar="FILE",
        help="a JSON capsule (schema, revision, wiki, event) the forwarder "
        "accepts: each canary is a copy with its own uuid",
    )
    failover.add_argument(
        "--canary-interval",
        type=positive_float,
        default=0.2,
        metavar="S",
        help="seconds between canaries (default %(default)g)",
    )
    failover.add_argument(
        "--max-lag",
        type=positive_float,
        default=5.0,
        metavar="S",
        help="pre-flight: most seconds the replica may be behind (default 5)",
    )
    failover.add_argument(
        "--catch-up-timeout",
        type=positive_float,
        default=60.0,
        metavar="S",
        help="abort when the replica has not caught up by then (default 60)",
    )
    failover.add_argument(
        "--canary-timeout",
        type=positive_float,
        default=60.0,
        metavar="S",
        help="abort when canaries are not on the new primary by then (default 60)",
    )
    failover.add_argument(
        "--min-free-mb",
        type=positive_int,
        default=512,
        metavar="MIB",
        help="pre-flight: free space wanted where the report and the "
        "forwarder's database file live (default 512)",
    )
    failover.add_argument(
        "--dry-run",
        action="store_true",
        help="run the pre-flight and print the plan; change nothing",
    )
    failover.add_argument(
        "--report-dir",
        default=DEFAULT_DIR,
        metavar="DIR",
        help=f"the drill log (default {DEFAULT_DIR})",
    )
    failover.add_argument(
        "--mail", action="store_true", help="mail the report to ops (the catalog's ops and [smtp])"
    )
    failover.add_argument(
        "--smtp",
        type=smtp_address,
        metavar="HOST[:PORT]",
        help="SMTP server, overriding the catalog's [smtp] host and port",
    )
    add_config_option(failover, help="catalog TOML: ops and [smtp], for --mail")
    failover.set_defaults(run=run_failover)


def run_failover(args: argparse.Namespace) -> int:
    from el_monitor.backup import drill_log
    from el_monitor.backup.drill_report import DrillReport
    from el_monitor.backup.failover import KIND, FailoverDrill

    plan = _plan(args)
    previous = drill_log.last(args.report_dir, KIND)
    drill = FailoverDrill(plan, _open_db, hook=lambda name: log.info("phase %s ...", name))
    record = drill.run(dry_run=args.dry_run)
    report = DrillReport(record, previous)
    print(report.text(), end="")
    if not args.dry_run:
        kept = drill_log.keep(
            args.report_dir, record, [(".txt", report.text()), (".html", report.html())]
        )
        print(f"\nkept in {kept}")
    if args.mail:
        _mail(args, report)
    return 0 if record.outcome in (drill_log.PASSED, drill_log.PLANNED) else 1


def _open_db(url: str) -> Store:
    from el_monitor.cli.stores import open_or_fail

    return open_or_fail(url, create=False, spool_dir=None, hint="")


def _plan(args: argparse.Namespace) -> FailoverPlan:
    from el_monitor.backup.canary import CanaryStream, beacon_sender, load_template
    from el_monitor.backup.failover import FailoverPlan
    from el_monitor.backup.repoint import ForwarderLink

    if bool(args.forwarder) != bool(args.db_file):
        raise UserError(
            "--forwarder and --db-file go together: the pid file and the "
            "database file of the same forwarder"
        )
    if bool(args.canary_url) != bool(args.canary_event):
        raise UserError("--canary-url needs --canary-event (the event to send), and the reverse")
    forwarder = ForwarderLink(args.forwarder, args.db_file) if args.forwarder else None
    canaries = None
    if args.canary_url:
        template = load_template(args.canary_event)
        canaries = CanaryStream(beacon_sender(args.canary_url), template, args.canary_interval)
    spaces = [Path(args.report_dir)] + ([Path(args.db_file).parent] if args.db_file else [])
    return FailoverPlan(
        primary=args.primary,
        replica=args.replica,
        forwarder=forwarder,
        canaries=canaries,
        max_lag=args.max_lag,
        catch_up_timeout=args.catch_up_timeout,
        canary_timeout=args.canary_timeout,
        min_free_bytes=args.min_free_mb << 20,
        space_paths=tuple(_existing(p) for p in spaces),
        others=tuple(args.other_replica),
    )


def _existing(path: Path) -> Path:
    """``path`` or its nearest existing parent (the report directory may not exist yet)."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _mail(args: argparse.Namespace, report: DrillReport) -> None:
    from el_monitor.catalog.load import load_catalog
    from el_monitor.mail.smtp import send

    catalog = load_catalog(getattr(args, "config", None))
    settings = catalog.smtp
    if args.smtp:
        host, port = args.smtp
        settings = replace(settings, host=host, port=settings.port if port is None else port)
    recipients = tuple(catalog.alerts.report_recipients or catalog.ops)
    if not recipients:
        raise UserError("nobody to mail the drill report to: set ops in the catalog")
    send(settings, [report.message(settings.sender(), recipients)])
    print(f"mailed the report to {', '.join(recipients)}")
