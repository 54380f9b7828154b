"""Option groups several ``el-monitor`` commands share, each written once.

``--config`` after the command, the schema registry pair (``--schemas`` + ``--schema-cache``),
``--db``, ``--smtp``; each command keeps its own help text (what the option means *to it*) and
whether it is required.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeAlias

# What ``add_subparsers()`` returns: each command module's ``register`` adds itself to it.
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
# What a command module sets as ``run``: the parsed arguments in, the exit status out.
Run: TypeAlias = Callable[[argparse.Namespace], int]
Options: TypeAlias = "argparse.ArgumentParser | argparse._ArgumentGroup"

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"  # every command's log lines
REGISTRY_HELP = (
    "schema registry: a directory <Schema>/<revision>.json, or an HTTP schema repository URL"
)
DEFAULT_SCHEMA_CACHE = ".el-monitor-schemas"
DEFAULT_DB = (
    "sqlite:///el-monitor.db"  # where the forwarder writes, and the report reads, by default
)


def add_config_option(
    parser: Options,
    help: str = "catalog TOML file (default: el-monitor.toml when it exists)",
) -> None:
    """``--config`` after the command too; SUPPRESS keeps a value given before the command
    (the global option) when this one is absent."""
    parser.add_argument(
        "--config", dest="config", default=argparse.SUPPRESS, metavar="FILE", help=help
    )


def add_registry_options(
    parser: Options, *, help: str = REGISTRY_HELP, required: bool = True
) -> None:
    """``--schemas DIR|URL`` and the on-disk cache an HTTP registry needs beside it."""
    parser.add_argument("--schemas", required=required, metavar="DIR|URL", help=help)
    parser.add_argument(
        "--schema-cache",
        metavar="DIR",
        default=DEFAULT_SCHEMA_CACHE,
        help="on-disk cache for an HTTP schema repository",
    )


def add_db_option(
    parser: Options,
    *,
    help: str,
    default: str | None = None,
    required: bool = False,
    password: bool = True,
) -> None:
    """``--db URL``: the database a command reads or writes (open it with ``cli.stores``), and
    ``--db-password-file`` beside it unless ``password`` is False (a caller adding --db to a
    mutually exclusive group adds that to the command with ``add_db_password_option``)."""
    parser.add_argument("--db", required=required, default=default, metavar="URL", help=help)
    if password:
        add_db_password_option(parser)


def add_db_password_option(parser: Options) -> None:
    """``--db-password-file``: ``main`` puts the file's password in ``--db``'s URL."""
    parser.add_argument(
        "--db-password-file",
        metavar="FILE",
        help="the password of --db's user, the file's first line (or MYSQL_PWD in the "
        "environment): never in the URL, which ps and unit files show",
    )


def smtp_address(text: str) -> tuple[str, int | None]:
    """``--smtp HOST[:PORT]`` (``[v6]:PORT`` for IPv6); no port means the catalog's."""
    from el_monitor.mail.smtp import parse_smtp_address

    try:
        return parse_smtp_address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def command_group(
    commands: Commands, name: str, *, help: str, description: str, kind: str
) -> Commands:
    """A command with subcommands (``catalog``, ``optout``, ``report``); run alone it shows
    what it offers and exits 2.  ``kind`` names the subcommands in --help (``actions``)."""
    group = commands.add_parser(name, help=help, description=description)
    group.set_defaults(run=lambda _args: _usage(group))
    return group.add_subparsers(title=kind, metavar=kind.rstrip("s").upper())


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2
