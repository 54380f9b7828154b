"""Pieces every ``el-monitor`` subcommand shares: option types and the ``--config`` option."""

from __future__ import annotations

import argparse
import re

_INSTANCE = re.compile(r"[A-Za-z0-9_-]{1,63}")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def instance_name(text: str) -> str:
    """A forwarder's name: one Graphite node, and a key of the report's counts (63 at most)."""
    if not _INSTANCE.fullmatch(text):
        raise argparse.ArgumentTypeError(f"must be 1-63 of A-Z a-z 0-9 _ -, got {text[:80]!r}")
    return text


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


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
