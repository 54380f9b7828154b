"""What an event table holds, as ``el-monitor schemas`` and the forwarder ask about it, and
how busy the server is, as retention asks before each batch."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import NamedTuple

from el_monitor.store.base import Store
from el_monitor.store.dialect import IN_LIMIT
from el_monitor.store.mapping import TableMissing, column_text


class TableStats(NamedTuple):
    rows: int
    last_timestamp: str | None  # the latest MediaWiki ``YYYYMMDDHHMMSS``; None when empty


def table_stats(store: Store, table: str) -> TableStats:
    """How many rows ``table`` has and the timestamp of its latest event."""
    q = store.dialect.quote
    ((count, last),) = store.query(f"SELECT COUNT(*), MAX({q('timestamp')}) FROM {q(table)}")
    if isinstance(last, bytes | bytearray):
        last = bytes(last).decode("utf-8", "replace")
    return TableStats(int(count), None if last is None else str(last))


def has_rows(store: Store, table: str) -> bool:
    """Whether ``table`` holds any row (without counting them)."""
    return bool(store.query(f"SELECT 1 FROM {store.dialect.quote(table)} LIMIT 1"))


def others_inserts(store: Store) -> int | None:
    """Insert statements other sessions have run since the server started, or None when the
    engine does not say: a rising count means live traffic is being written."""
    query = store.dialect.others_inserts
    if query is None:
        return None
    rows = store.query(query)
    return int(rows[0][0]) if rows and rows[0][0] is not None else None


def stored_uuids(store: Store, table: str, uuids: Sequence[str]) -> set[str]:
    """Those of ``uuids`` that ``table`` holds (a failover drill's canaries); none when the
    table does not exist."""
    return set(uuid_rows(store, table, uuids))


def uuid_rows(store: Store, table: str, uuids: Sequence[str]) -> Counter[str]:
    """How many rows of ``table`` carry each of ``uuids`` that it holds (a drill looks for
    events lost or stored twice); empty when the table does not exist."""
    q, dialect = store.dialect.quote, store.dialect
    found: Counter[str] = Counter()
    unique = list(dict.fromkeys(uuids))
    for start in range(0, len(unique), IN_LIMIT):
        chunk = unique[start : start + IN_LIMIT]
        marks = dialect.marks(len(chunk))
        sql = f"SELECT {q('uuid')} FROM {q(table)} WHERE {q('uuid')} IN ({marks})"
        try:
            rows = store.query(sql, chunk)
        except TableMissing:
            return Counter()
        found.update(str(column_text(row[0])) for row in rows)
    return found
