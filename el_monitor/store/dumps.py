"""What backups ask of a MariaDB server: a range's row and sanitized counts, a snapshot to read
a range in while a dump runs, scratch databases, and the ``mariadb-dump`` / ``mariadb`` command
lines (replication status is ``store.replication``'s).

The client tools get their account from a defaults file (``client_defaults``), never from
argv, so a password never shows in ``ps``.  The id range a dump covers is written here as its
``--where`` clause, like all other SQL text of the project.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote, urlsplit, urlunsplit

from el_monitor.errors import UserError
from el_monitor.store.base import Store
from el_monitor.store.checksum import IdSpan
from el_monitor.store.mapping import IDENTIFIER, RETENTION_MARKER
from el_monitor.store.mysql_session import client_tls, tls_of

DUMP_TOOL = "mariadb-dump"
CLIENT_TOOL = "mariadb"
SCRATCH_PREFIX = "el_drill_"
_SCRATCH = re.compile(rf"{SCRATCH_PREFIX}[a-z0-9_]{{1,40}}")


class RangeState(NamedTuple):
    """Rows of an id range, and how many of them retention has sanitized (marker set)."""

    rows: int
    sanitized: int


@contextmanager
def snapshot_reader(store: Store) -> Iterator[Store]:
    """Another session on ``store``'s database whose reads all see the snapshot taken when
    the block starts (MySQL / MariaDB only); closed after."""
    from el_monitor.store.mysql import MySQLStore

    if not isinstance(store, MySQLStore):
        raise UserError(f"consistent snapshots need MariaDB or MySQL, not {store.dialect.name}")
    reader = store.another_connection()
    try:
        with reader.snapshot():
            yield reader
    finally:
        reader.close()


def sanitized_rows(store: Store, table: str, span: IdSpan | None) -> int:
    """Rows of ``span`` retention has sanitized: 0 without a query when the table has no
    marker column (retention never sanitized it)."""
    if span is None or not any(c.name == RETENTION_MARKER for c in store.columns(table)):
        return 0
    q = store.dialect.quote
    [(count,)] = store.query(
        f"SELECT COUNT({q(RETENTION_MARKER)}) FROM {q(table)} WHERE {q('id')} BETWEEN "
        f"{store.dialect.mark} AND {store.dialect.mark}",
        (span.first, span.last),
    )
    return int(count)


def range_state(store: Store, table: str, span: IdSpan | None) -> RangeState:
    """Rows with ids in ``span`` and those of them sanitized."""
    if span is None:
        return RangeState(0, 0)
    q = store.dialect.quote
    [(rows,)] = store.query(
        f"SELECT COUNT(*) FROM {q(table)} WHERE {q('id')} BETWEEN "
        f"{store.dialect.mark} AND {store.dialect.mark}",
        (span.first, span.last),
    )
    return RangeState(int(rows), sanitized_rows(store, table, span))


def dump_where(span: IdSpan | None) -> str:
    """``mariadb-dump --where``: the rows of ``span`` only (none for an empty table)."""
    if span is None:
        return "1 = 0"
    return f"`id` BETWEEN {int(span.first)} AND {int(span.last)}"


def server_version(store: Store) -> str:
    [(version,)] = store.query("SELECT VERSION()")
    return str(version)


def ping(store: Store) -> None:
    store.query("SELECT 1")


def scratch_name(text: str) -> str:
    """A scratch database's name, checked: only names this module would make are dropped."""
    if not _SCRATCH.fullmatch(text):
        raise UserError(f"{text!r} is not a scratch database name ({SCRATCH_PREFIX}...)")
    return text


def create_database(store: Store, name: str) -> None:
    store.execute(
        f"CREATE DATABASE {store.dialect.quote(scratch_name(name))} "
        "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
    )


def drop_database(store: Store, name: str) -> None:
    store.execute(f"DROP DATABASE IF EXISTS {store.dialect.quote(scratch_name(name))}")


def database_exists(store: Store, name: str) -> bool:
    rows = store.query(
        "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = "
        + store.dialect.mark,
        (name,),
    )
    return bool(rows)


class Client(NamedTuple):
    """How the client tools reach a server: the defaults file text and the database."""

    defaults: str  # [client] options: host, port, user, password
    database: str


def client_defaults(url: str) -> Client:
    """The ``[client]`` options file for a ``mysql://`` URL (written 0600 by the caller)."""
    parts = urlsplit(url)
    database = parts.path.lstrip("/")
    if parts.scheme != "mysql" or not parts.hostname or not IDENTIFIER.fullmatch(database):
        raise UserError(f"dumps need a mysql://user@host:port/db URL, not {parts.scheme}://...")
    lines = [
        "[client]",
        f"host={parts.hostname}",
        f"port={parts.port or 3306}",
        f"user={unquote(parts.username or 'root')}",
        "protocol=TCP",
        "default-character-set=utf8mb4",
    ]
    if parts.password:
        lines.append(f"password={unquote(parts.password)}")
    lines += client_tls(tls_of(url))
    return Client("\n".join(lines) + "\n", database)


def dump_argv(
    defaults: Path, database: str, table: str, span: IdSpan | None, *, whole: bool = False
) -> list[str]:
    """One table's dump in one consistent read (``--single-transaction``), no locks taken:
    the rows of ``span`` (none when None), or all of them when ``whole``."""
    where = [] if whole else [f"--where={dump_where(span)}"]
    return [
        DUMP_TOOL,
        f"--defaults-extra-file={defaults}",
        "--single-transaction",
        "--skip-lock-tables",
        "--no-tablespaces",
        "--skip-dump-date",
        "--skip-triggers",
        *where,
        database,
        table,
    ]


def load_argv(defaults: Path, database: str) -> list[str]:
    """The client that replays a dump (its SQL on stdin) into ``database``."""
    return [CLIENT_TOOL, f"--defaults-extra-file={defaults}", "--batch", database]


def with_database(url: str, database: str) -> str:
    """The same server URL naming another database (its options, TLS among them, kept)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))
