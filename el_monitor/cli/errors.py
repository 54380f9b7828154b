"""``el-monitor errors``: a schema owner's view of what the forwarders recorded as invalid.

``--db``: the error groups (count, code, JSON path, message, first and last seen, revision)
with one example each, most recently seen first; ``--log-dir DIR --follow``: the invalid log's
records for one schema as they are written.  Everything shown is redacted as the daily report
redacts it (``report.owner_errors``), so owners need no access to anyone's raw data.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from typing import TYPE_CHECKING

from el_monitor.argtypes import positive_float, positive_int, schema_name, since_time
from el_monitor.cli.options import Commands, add_config_option, add_db_option
from el_monitor.cli.signals import stop_on_signals
from el_monitor.errors import UserError

if TYPE_CHECKING:
    from el_monitor.catalog.model import Catalog
    from el_monitor.report.owner_errors import OwnerError


def register(commands: Commands) -> None:
    parser = commands.add_parser(
        "errors",
        help="the invalid events recorded for a schema, redacted",
        description="Show the error groups the forwarders recorded (from --db), most recently "
        "seen first, or follow the invalid log (--log-dir DIR --follow) for one schema. "
        "Examples and messages are redacted with the catalog's user_fields, as in the report.",
    )
    add_db_option(parser, help="the forwarders' database (sqlite:///path or mysql://...)")
    parser.add_argument("--schema", type=schema_name, metavar="NAME", help="only this schema")
    parser.add_argument(
        "--since",
        type=since_time,
        default="24h",
        metavar="TIME",
        help="from this UTC time (2026-12-04T16:00) or age (90m, 24h, 7d); default 24h",
    )
    parser.add_argument(
        "--limit", type=positive_int, default=20, metavar="N", help="groups shown (default 20)"
    )
    parser.add_argument("--log-dir", metavar="DIR", help="the forwarder's --log-dir")
    parser.add_argument(
        "--follow", action="store_true", help="with --log-dir: print new invalid records"
    )
    parser.add_argument(
        "--interval", type=positive_float, default=0.5, help=argparse.SUPPRESS
    )  # how often --follow looks at the log, in seconds
    parser.add_argument("--json", action="store_true", help="one JSON object per group")
    add_config_option(parser)
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from el_monitor.cli.catalog import load_or_report

    if args.log_dir is not None:
        if not args.follow or args.schema is None or args.db is not None:
            raise UserError("--log-dir goes with --follow and --schema NAME, without --db")
    elif args.db is None:
        raise UserError("say where to look: --db URL, or --log-dir DIR --follow --schema NAME")
    elif args.follow:
        raise UserError("--follow reads the invalid log: give --log-dir DIR, not --db")
    catalog = load_or_report(args)
    if catalog is None:
        return 2
    if args.log_dir is not None:
        return _follow(args, catalog)
    return _groups(args, catalog)


def _groups(args: argparse.Namespace, catalog: Catalog) -> int:
    from el_monitor.cli.stores import opened_store
    from el_monitor.report.owner_errors import recent_errors

    with opened_store(args.db, doing="read the error groups") as store:
        found = recent_errors(store, catalog, args.since, args.schema, args.limit)
    for error in found:
        _show(error, args.json)
    if not found and not args.json:
        since = args.since.strftime("%Y-%m-%dT%H:%M:%SZ")
        print(f"no errors recorded{' for ' + args.schema if args.schema else ''} since {since}")
    return 0


def _follow(args: argparse.Namespace, catalog: Catalog) -> int:
    from el_monitor.report.invalid_tail import InvalidLogTail
    from el_monitor.report.owner_errors import logged_error

    tail = InvalidLogTail(args.log_dir)
    print(f"following the invalid log of {args.schema} in {args.log_dir}", file=sys.stderr)
    with stop_on_signals() as stop:
        while not stop.wait(args.interval):
            now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            for record in tail.poll():
                error = logged_error(record, catalog, now)
                if error is not None and error.schema == args.schema:
                    _show(error, args.json)
            sys.stdout.flush()
    return 0


def _show(error: OwnerError, as_json: bool) -> None:
    if as_json:
        print(json.dumps(error.as_json(), ensure_ascii=False))
        return
    seen = (
        error.first_seen
        if error.first_seen == error.last_seen
        else (f"{error.first_seen} .. {error.last_seen}")
    )
    print(
        f"{error.schema} {error.revision or '-'}  {error.code}  {error.path or '-'}  "
        f"{error.events} event{'s' if error.events != 1 else ''}  {seen}"
    )
    print(f"  message: {error.message}")
    if error.example is not None:
        print(f"  example: {error.example}")
