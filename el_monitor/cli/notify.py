"""``el-monitor notify``: what Icinga's ``el-monitor-notify`` NotificationCommand runs.

Every setting the catalog's ``[smtp]`` and ``[alerts]`` hold has a flag that overrides it, so
an operator can run a route by hand (``--dry-run`` prints the mails instead of sending them).

Exit status: 0 when the mails went out or were deliberately held back (repeat interval,
flapping); 1 when something needs fixing but what could be sent was sent (a schema with
nobody to mail, an invalid catalog, an unusable state file); 2 with one line on stderr when
the mail could not be handed to SMTP or the notification itself is incomplete.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import replace

from el_monitor.catalog.checker import EMAIL_RE, URL_RE
from el_monitor.catalog.load import load_catalog
from el_monitor.catalog.model import CatalogError, empty_catalog
from el_monitor.cli.options import Commands, add_config_option, add_registry_options, smtp_address
from el_monitor.errors import UserError

log = logging.getLogger(__name__)


def register(commands: Commands) -> None:
    """Add ``notify`` to the ``el-monitor`` subcommands."""
    notify = commands.add_parser(
        "notify",
        help="mail an Icinga notification to the owners of the schemas that caused it",
        description="Mail one Icinga notification to the owners of the schemas it names "
        "(from the catalog; ops for schemas without owners), one mail per owner group, with a "
        "graph of the rates and links to Graphite and the runbook. The same schema and state "
        "is mailed at most once per repeat interval; a flapping service gets one summary. "
        "Each value comes from its flag, else from EL_NOTIFY_<NAME> (TYPE, HOST, SERVICE, "
        "STATE, OUTPUT, PERFDATA, TIME).",
        epilog="The SMTP password is never a flag: [smtp] password_file or "
        "$EL_MONITOR_SMTP_PASSWORD.",
    )
    facts = notify.add_argument_group("the notification (else EL_NOTIFY_*)")
    facts.add_argument("--type", metavar="TYPE", help="PROBLEM, RECOVERY, ACKNOWLEDGEMENT, ...")
    facts.add_argument("--host", metavar="NAME", help="Icinga host name")
    facts.add_argument("--service", metavar="NAME", help="Icinga service name, e.g. el-rate")
    facts.add_argument("--state", metavar="STATE", help="OK, WARNING, CRITICAL or UNKNOWN")
    facts.add_argument("--output", metavar="TEXT", help="the plugin's status line")
    facts.add_argument("--perfdata", metavar="TEXT", help="the plugin's performance data")
    facts.add_argument(
        "--time",
        metavar="UNIX",
        help="when it happened, Unix seconds (a number outside 1970-9999: the mail shows "
        "when it was sent, with a note)",
    )
    where = notify.add_argument_group("overrides of the catalog's [smtp] and [alerts]")
    add_config_option(where)
    where.add_argument("--smtp", metavar="HOST:PORT", type=smtp_address, help="SMTP server")
    where.add_argument("--mail-from", metavar="ADDRESS", type=_address, help="sender address")
    where.add_argument(
        "--graphite", metavar="URL", type=_url, help="graphite-web base URL (render API)"
    )
    where.add_argument("--state-file", metavar="FILE", help="where repeats are remembered")
    where.add_argument(
        "--ops",
        metavar="ADDRESS",
        action="append",
        type=_address,
        help="who gets alerts for schemas without owners (repeatable; replaces the catalog's ops)",
    )
    add_registry_options(
        where,
        required=False,
        help="schema registry, so that schema names the catalog does not list are recognised",
    )
    notify.add_argument(
        "--dry-run",
        action="store_true",
        help="print the mails instead of sending them; the state file is not changed",
    )
    notify.set_defaults(run=run_notify)


def _address(text: str) -> str:
    if not EMAIL_RE.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not an email address like ops@example.org")
    return text


def _url(text: str) -> str:
    if not URL_RE.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not an http:// or https:// URL")
    return text.rstrip("/")


def run_notify(args: argparse.Namespace) -> int:
    """The ``notify`` command; raises ``UserError`` (one line, exit 2) when SMTP fails."""
    from el_monitor.mail.figures import require_matplotlib

    require_matplotlib("notify")
    from el_monitor.mail.message import describe
    from el_monitor.notify.dispatch import known_schemas, notify
    from el_monitor.notify.notification import Notification

    given = {
        name: getattr(args, name, None)
        for name in ("type", "host", "service", "state", "output", "perfdata", "time")
    }
    notification = Notification.from_sources(given, os.environ)
    notes: list[str] = []
    broken = False
    try:
        catalog = load_catalog(getattr(args, "config", None))
    except CatalogError as exc:
        # A broken catalog must not silence the alert: ops still hear of it.
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        catalog = empty_catalog()
        broken = True
        notes.append(
            f"The catalog is invalid ({len(exc.problems)} problem"
            f"{'' if len(exc.problems) == 1 else 's'}; run el-monitor catalog check), so this "
            "went to ops instead of the owners."
        )
    smtp, alerts = catalog.smtp, catalog.alerts
    if args.smtp:
        host, port = args.smtp
        smtp = replace(smtp, host=host, port=smtp.port if port is None else port)
    if args.mail_from:
        smtp = replace(smtp, mail_from=args.mail_from)
    if args.graphite:
        alerts = replace(alerts, graphite_url=args.graphite)
    if args.state_file:
        alerts = replace(alerts, state_file=args.state_file)
    catalog = replace(catalog, smtp=smtp, alerts=alerts)
    ops = tuple(args.ops or ())
    if broken and not (ops or catalog.ops):
        raise UserError("the catalog is invalid and no --ops is given: nobody to mail")
    known = known_schemas(args.schemas, args.schema_cache)
    result = notify(notification, catalog, ops=ops, known=known, dry_run=args.dry_run, notes=notes)
    for message in result.messages:
        if args.dry_run:
            print(describe(message))
            print("-" * 72)
        else:
            print(f"mailed {message['To']}: {message['Subject']}")
    if result.held:
        held = ", ".join(result.held)
        print(f"held back ({result.reason}): {held}")
    if result.graph_note:
        done = "would be mailed" if args.dry_run else "mailed"
        print(f"el-monitor: {done} without a graph: {result.graph_note}", file=sys.stderr)
    if result.failure is not None:
        raise result.failure
    status = 0
    for problem in result.state_problems:
        print(f"el-monitor: repeats not suppressed: {problem}", file=sys.stderr)
        status = 1
    if result.unrouted:
        print(
            f"el-monitor: nobody to mail about {', '.join(result.unrouted)}: they have no "
            "owners and there is no ops address; set ops in the catalog or pass --ops",
            file=sys.stderr,
        )
        status = 1
    return 1 if broken else status
