"""``el-monitor report daily``: the daily validity report, printed, written or mailed.

Without ``--send`` or ``--output`` the text rendering goes to stdout, so an operator can look at
a day's report without mailing anyone.
"""

from __future__ import annotations

import argparse
import datetime
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from el_monitor.argtypes import iso_date
from el_monitor.catalog.model import Catalog
from el_monitor.cli.catalog import load_or_report
from el_monitor.cli.options import (
    DEFAULT_DB,
    Commands,
    add_config_option,
    add_db_option,
    command_group,
    smtp_address,
)
from el_monitor.cli.stores import opened_store
from el_monitor.errors import UserError

if TYPE_CHECKING:
    from el_monitor.report.model import Chart, ReportData
    from el_monitor.report.render import Templates

__all__ = ["register"]


def register(commands: Commands) -> None:
    """Add ``report`` (with ``daily``) to the ``el-monitor`` subcommands."""
    kinds = command_group(
        commands,
        "report",
        help="reports on what was logged: the daily validity report",
        description="Reports built from the counts the forwarders record in the database.",
        kind="reports",
    )
    daily = kinds.add_parser(
        "daily",
        help="valid and invalid events per schema for one UTC day",
        description="Per schema for one UTC day: valid and invalid events, the invalid share, "
        "the change against the day before and the 7-day average, sampled-out and opted-out "
        "events, the most common validation errors with a redacted example, schemas without "
        "an owner, and charts. Prints the text version unless --output or --send is given; "
        "--send mails it to the ops list (alerts.report_recipients, else ops) and, with "
        "--owners, each owner their schemas' part.",
    )
    daily.add_argument(
        "--date",
        type=iso_date,
        metavar="YYYY-MM-DD",
        help="the UTC day to report on (default: yesterday, UTC)",
    )
    add_db_option(
        daily,
        default=DEFAULT_DB,
        help=f"database the forwarders record counts in: sqlite:///path or "
        f"mysql://user@host:port/db (default: {DEFAULT_DB})",
    )
    add_config_option(
        daily, "catalog TOML file: owners, ops list, SMTP (default: el-monitor.toml when it exists)"
    )
    daily.add_argument(
        "--output",
        type=Path,
        metavar="FILE.html",
        help="write the report as one self-contained HTML file (charts embedded)",
    )
    daily.add_argument(
        "--send", action="store_true", help="mail the report to the ops list (and owners)"
    )
    daily.add_argument(
        "--owners",
        action="store_true",
        help="with --send, also mail each owner the part about their schemas",
    )
    daily.add_argument(
        "--smtp",
        type=smtp_address,
        metavar="HOST:PORT",
        help="SMTP server ([v6]:PORT for IPv6), overriding the catalog's [smtp] host and "
        "port; without :PORT the catalog's port",
    )
    daily.add_argument(
        "--mail-from",
        metavar="ADDR",
        help="sender address, overriding the catalog's [smtp] mail_from",
    )
    daily.set_defaults(run=_run_daily)


def _run_daily(args: argparse.Namespace) -> int:
    from el_monitor.mail.figures import require_matplotlib

    require_matplotlib("report daily")
    from el_monitor.report.charts import make_charts
    from el_monitor.report.render import Templates, render_text, standalone_html

    today = datetime.datetime.now(datetime.UTC).date()
    day = args.date or today - datetime.timedelta(days=1)
    if day > today:
        raise UserError(f"--date {day} is in the future (today is {today} UTC)")
    catalog = load_or_report(args)
    if catalog is None:
        return 2
    report = _collect(args.db, catalog, day)
    templates = Templates()
    charts = make_charts(report)
    for chart in charts:
        if chart.error:
            print(f"el-monitor: chart {chart.name!r} not drawn: {chart.error}", file=sys.stderr)
    if args.output:
        try:
            args.output.write_text(standalone_html(report, charts, templates), encoding="utf-8")
        except OSError as exc:
            raise UserError(f"cannot write {args.output}: {exc.strerror}; check --output") from None
        print(f"wrote the report for {day} to {args.output}")
    if args.send:
        return _send(args, catalog, report, charts, templates)
    if args.owners:
        for owner, part in _owner_parts(report):
            names = [s.label for s in part.schemas] or [s.name for s in part.silent]
            print(f"not sent without --send: {owner}: {', '.join(names)}", file=sys.stderr)
    if not args.output:
        sys.stdout.write(render_text(report, charts, templates))
    return 0


def _collect(url: str, catalog: Catalog, day: datetime.date) -> ReportData:
    from el_monitor.report.collect import collect

    with opened_store(url, doing="read the counts") as store:
        return collect(store, catalog, day)


def _owner_parts(report: ReportData) -> list[tuple[str, ReportData]]:
    from el_monitor.report.model import owner_slices

    return list(owner_slices(report).items())


def _send(
    args: argparse.Namespace,
    catalog: Catalog,
    report: ReportData,
    charts: tuple[Chart, ...],
    templates: Templates,
) -> int:
    """Mail the ops report, then each owner's part; one failed owner does not stop the rest."""
    from el_monitor.mail.smtp import send
    from el_monitor.report.render import report_message

    settings = catalog.smtp
    if args.smtp:
        host, port = args.smtp
        settings = replace(settings, host=host, port=settings.port if port is None else port)
    if args.mail_from:
        settings = replace(settings, mail_from=args.mail_from)
    sender = settings.sender()
    recipients = tuple(catalog.alerts.report_recipients or catalog.ops)
    if not recipients:
        raise UserError(
            "nobody to send the report to: set ops (or report_recipients in [alerts]) in the "
            "catalog"
        )
    # The ops report first: if the server refuses it, the error ends the run (MailError).
    send(settings, [report_message(report, sender, recipients, charts, templates)])
    print(f"sent the report for {report.day} to {', '.join(recipients)}")
    if not args.owners:
        return 0
    failed = 0
    # One connection per owner, so one refused address costs only its own mail.
    for owner, part in _owner_parts(report):  # each part: its own schemas, its own charts
        try:
            send(settings, [report_message(part, sender, [owner], templates=templates)])
        except UserError as exc:
            print(f"el-monitor: report for {owner} not sent: {exc}", file=sys.stderr)
            failed += 1
        else:
            names = [s.label for s in part.schemas] or [s.name for s in part.silent]
            print(f"sent {owner} the part about {', '.join(names)}")
    return 1 if failed else 0
