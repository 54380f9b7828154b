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
from collections.abc import Sequence

from el_monitor import __version__
from el_monitor.cli import (
    backfill,
    backup,
    catalog,
    drill,
    forward,
    heartbeat,
    notify,
    optout,
    report,
    retention,
    schemas,
)
from el_monitor.cli.options import LOG_FORMAT
from el_monitor.errors import UserError

log = logging.getLogger("el_monitor")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG
        if args.verbose > 1
        else logging.INFO
        if args.verbose
        else logging.WARNING,
        format=LOG_FORMAT,
    )
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
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
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    # In the order of --help.
    for command in (
        forward,
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
    ):
        command.register(commands)
    return parser


if __name__ == "__main__":
    sys.exit(main())
