"""Event rows by their ``id`` key: counted, scanned in key order in batches, deleted.

For work that must visit every row of a table without holding it all (the opt-out purge):
a scan resumes after the last key it saw, so progress survives an interruption.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from el_monitor.store.base import Params, Store
from el_monitor.store.dialect import IN_LIMIT


class KeyedRow(NamedTuple):
    key: int
    values: tuple[Any, ...]  # the columns asked for, in that order


def count_rows_after(store: Store, table: str, key: str, after: int) -> int:
    """Rows of ``table`` whose ``key`` column is greater than ``after``."""
    q, mark = store.dialect.quote, store.dialect.mark
    ((count,),) = store.query(f"SELECT COUNT(*) FROM {q(table)} WHERE {q(key)} > {mark}", (after,))
    return int(count)


def scan_rows_after(
    store: Store, table: str, key: str, columns: Sequence[str], after: int, limit: int
) -> list[KeyedRow]:
    """The next ``limit`` rows after key ``after``, in key order, with ``columns``."""
    q, mark = store.dialect.quote, store.dialect.mark
    rows = store.query(
        f"SELECT {store.dialect.names((key, *columns))} FROM {q(table)} "
        f"WHERE {q(key)} > {mark} ORDER BY {q(key)} LIMIT {mark}",
        (after, limit),
    )
    return [KeyedRow(row[0], row[1:]) for row in rows]


def delete_rows(store: Store, table: str, key: str, keys: Sequence[int]) -> int:
    """Delete the rows with these keys, in one transaction; returns how many went."""
    q, dialect = store.dialect.quote, store.dialect
    statements: list[tuple[str, Params]] = []
    for start in range(0, len(keys), IN_LIMIT):
        chunk = keys[start : start + IN_LIMIT]
        sql = f"DELETE FROM {q(table)} WHERE {q(key)} IN ({dialect.marks(len(chunk))})"
        statements.append((sql, chunk))
    return sum(store.execute_all(statements)) if statements else 0
