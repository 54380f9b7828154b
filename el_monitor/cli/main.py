"""``el-monitor``: the top-level parser, logging, and how a failed command ends.

Each command lives in its own module and adds itself with ``register``; this is the only place
that turns an error into the one line a user sees and an exit status: ``UserError`` is that
line and status 2, an interrupt 130, a closed stdout pipe a quiet 0.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Iterator, Sequence

from el_monitor import __version__
from el_monitor.cli import (
    backfill,
    backup,
    catalog,
    devserver,
    drill,
    errors,
    forward,
    heartbeat,
    notify,
    optout,
    publish,
    report,
    retention,
    schemas,
    validate,
)
from el_monitor.cli.options import LOG_FORMAT, add_config_option
from el_monitor.errors import UserError

log = logging.getLogger("el_monitor")
SYSLOG_ADDRESS = "/dev/log"  # the local syslog daemon's socket


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose, args.syslog)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        if getattr(args, "db_password_file", None) and args.db:
            from el_monitor.store.base import url_with_password_file

            args.db = url_with_password_file(args.db, args.db_password_file)
        return args.run(args)
    except UserError as exc:
        if args.verbose:
            log.exception("failed")
        print(f"el-monitor: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `el-monitor schemas | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _configure_logging(verbose: int, syslog: bool) -> None:
    """Log lines to stderr, with a timestamp unless journald (``JOURNAL_STREAM``, set by
    systemd for a unit's stderr) stamps them itself; or to the local syslog with ``--syslog``."""
    level = logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING
    if syslog:
        from logging.handlers import SysLogHandler

        handler: logging.Handler = SysLogHandler(address=SYSLOG_ADDRESS)
        handler.setFormatter(logging.Formatter("el-monitor[%(process)d]: %(name)s: %(message)s"))
        logging.basicConfig(level=level, handlers=[handler])
        return
    journald = os.environ.get("JOURNAL_STREAM")  # it stamps each line itself
    logging.basicConfig(
        level=level, format=LOG_FORMAT.replace("%(asctime)s ", "") if journald else LOG_FORMAT
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="el-monitor",
        description="Monitoring and alerting companion for EventLogging pipelines.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="more logging (-vv for debug); tracebacks on errors",
    )
    parser.add_argument("--config", metavar="FILE", help="catalog / configuration TOML file")
    parser.add_argument(
        "--syslog", action="store_true", help="log to the local syslog (/dev/log), not stderr"
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    # In the order of --help.
    for command in (
        forward,
        publish,
        catalog,
        schemas,
        optout,
        retention,
        backup,
        report,
        notify,
        heartbeat,
        drill,
        backfill,
        validate,
        errors,
        devserver,
    ):
        command.register(commands)
    for leaf in _commands(parser):
        if "--config" not in leaf._option_string_actions:
            add_config_option(leaf)
    return parser


def _commands(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """Every command's own parser (``backup dump``, not ``backup``): ``--config`` is taken
    before or after the command, whichever command it is."""
    groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not groups:
        yield parser
    for group in groups:
        for sub in dict.fromkeys(group.choices.values()):  # aliases share a parser
            yield from _commands(sub)


if __name__ == "__main__":
    sys.exit(main())
