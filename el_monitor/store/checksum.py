"""Checksums of primary-key ranges, computed by the server: what two copies of a table are
compared by (``backup compare``) and what a dump's manifest is checked against.

One statement per range answers ``COUNT(*)`` and the ``BIT_XOR`` of every row's ``CRC32``, as
pt-table-checksum does, so no row leaves the server.  A row's text is its columns in a fixed
order (``id`` first, then the others sorted by name, whatever their order in the table) joined
by a NUL byte, followed by one ISNULL flag per column, so NULL and ``''`` differ and a value
cannot be mistaken for its neighbour's.  ``id`` is part of it, so equal rows never cancel out
in the XOR; the count catches a row missing wherever it is.  A changed row escapes with odds
of 1 in 2**32, per range.

MySQL / MariaDB only: SQLite has neither ``CRC32`` nor ``BIT_XOR``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple

from el_monitor.errors import UserError
from el_monitor.store.base import Store, safe_url
from el_monitor.store.dialect import Dialect

KEY = "id"  # the event tables' auto-increment primary key


class RangeChecksum(NamedTuple):
    rows: int
    checksum: int  # BIT_XOR of the rows' CRC32; 0 for no rows


class IdSpan(NamedTuple):
    first: int
    last: int


def _require_mysql(store: Store) -> Dialect:
    if store.dialect.name != "mysql":
        raise UserError(
            f"checksums need MySQL or MariaDB (CRC32, BIT_XOR): {safe_url(store.url)} is "
            f"{store.dialect.name}"
        )
    return store.dialect


def checksum_columns(names: Sequence[str]) -> list[str]:
    """The fixed order a row is hashed in: ``id`` first, then the rest by lower-case name."""
    rest = sorted((n for n in names if n.lower() != KEY), key=lambda n: (n.lower(), n))
    return [KEY, *rest]


def row_hash(dialect: Dialect, columns: Sequence[str]) -> str:
    """An expression: the CRC32 of one row's ``columns`` (``id`` first), NUL-separated, and
    their ISNULL flags (the key is never NULL)."""
    quoted = [dialect.quote(c) for c in columns]
    flags = ", ".join(f"ISNULL({c})" for c in quoted[1:]) or "''"
    return f"CRC32(CONCAT_WS(CHAR(0), {', '.join(quoted)}, CONCAT({flags})))"


def range_checksum(
    store: Store,
    table: str,
    first_id: int,
    last_id: int,
    columns: Sequence[str] | None = None,
    before: str | None = None,
) -> RangeChecksum:
    """Rows of ``table`` with ``first_id <= id <= last_id``: how many, and their checksum.

    ``columns`` (default: every column of the table) are hashed in ``checksum_columns``
    order, so two servers agree whatever order their tables list them in.  ``before`` (a
    MediaWiki timestamp) keeps only rows whose ``timestamp`` is earlier, or NULL.  Raises
    UserError on SQLite.
    """
    dialect = _require_mysql(store)
    names = checksum_columns(columns if columns is not None else table_columns(store, table))
    q = dialect.quote
    sql = (
        f"SELECT COUNT(*), COALESCE(BIT_XOR({row_hash(dialect, names)}), 0) "
        f"FROM {q(table)} WHERE {q(KEY)} BETWEEN %s AND %s"
    )
    params: tuple[object, ...] = (first_id, last_id)
    if before is not None:
        sql += f" AND ({q('timestamp')} < %s OR {q('timestamp')} IS NULL)"
        params += (before,)
    ((rows, checksum),) = store.query(sql, params)
    return RangeChecksum(int(rows), int(checksum))


def table_columns(store: Store, table: str) -> list[str]:
    """``table``'s column names, in table order; empty when it is missing."""
    return [column.name for column in store.columns(table)]


def id_span(store: Store, table: str, before: str | None = None) -> IdSpan | None:
    """The smallest and largest ``id`` of ``table`` (of its rows with a ``timestamp``
    earlier than ``before`` or NULL, when given); None when it has none."""
    q = _require_mysql(store).quote
    sql = f"SELECT MIN({q(KEY)}), MAX({q(KEY)}) FROM {q(table)}"
    params: tuple[object, ...] = ()
    if before is not None:
        sql += f" WHERE {q('timestamp')} < %s OR {q('timestamp')} IS NULL"
        params = (before,)
    ((first, last),) = store.query(sql, params)
    return None if first is None else IdSpan(int(first), int(last))


def chunk_end(store: Store, table: str, first_id: int, last_id: int, size: int) -> int:
    """The id that ends the chunk of ``size`` rows starting at ``first_id`` (``last_id`` when
    fewer rows remain): read off the primary key's index by skipping ``size - 1`` entries."""
    q = _require_mysql(store).quote
    rows = store.query(
        f"SELECT {q(KEY)} FROM {q(table)} WHERE {q(KEY)} BETWEEN %s AND %s "
        f"ORDER BY {q(KEY)} LIMIT 1 OFFSET %s",
        (first_id, last_id, size - 1),
    )
    return int(rows[0][0]) if rows else last_id


def chunks(store: Store, table: str, span: IdSpan, size: int) -> Iterator[IdSpan]:
    """``span`` cut into ranges of ``size`` rows each (the last one may hold fewer), each
    bound read when the range is asked for: rows added meanwhile only move later bounds."""
    if size < 1:
        raise ValueError(f"chunk size must be at least 1, not {size}")
    first = span.first
    while first <= span.last:
        end = chunk_end(store, table, first, span.last, size)
        yield IdSpan(first, end)
        first = end + 1
