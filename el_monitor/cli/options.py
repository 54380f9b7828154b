"""Options every ``el-monitor`` subcommand shares: ``--config`` and a command group's usage."""

from __future__ import annotations

import argparse


def add_config_option(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    help: str = "catalog TOML file (default: el-monitor.toml when it exists)",
) -> None:
    """``--config`` after the command too; SUPPRESS keeps a value given before the command
    (the global option) when this one is absent."""
    parser.add_argument(
        "--config", dest="config", default=argparse.SUPPRESS, metavar="FILE", help=help
    )


def usage(parser: argparse.ArgumentParser) -> int:
    """A command group run without its subcommand: show what it offers."""
    parser.print_help()
    return 2
