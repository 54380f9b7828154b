"""The history of sample rates in force per schema revision, kept beside the data.

Stored counts of a sampled schema are 1 in N of what was sent; keeping N with the rows (and
every change of it) lets readers scale them, and lets ``el-monitor schemas`` show when the
rate in the catalog no longer matches the one the rows were kept at.
"""

from __future__ import annotations

import time
from typing import NamedTuple

from el_monitor.store.base import Store
from el_monitor.store.dialect import TableSpec

SAMPLING_TABLE = "el_monitor_sampling"
_COLUMNS = ("schema_name", "revision", "sample_rate", "since")
SAMPLING = TableSpec(
    SAMPLING_TABLE,
    (
        ("schema_name", "VARCHAR(63) NOT NULL"),
        ("revision", "VARCHAR(63) NOT NULL"),
        ("sample_rate", "INTEGER NOT NULL"),
        ("since", "VARCHAR(20) NOT NULL"),
    ),
)


class RecordedRate(NamedTuple):
    schema: str
    revision: str
    sample_rate: int  # 1 in sample_rate events kept
    since: str  # 'YYYY-MM-DDTHH:MM:SSZ' (UTC)


def record_sample_rate(store: Store, schema: str, revision: str, rate: int) -> int | None:
    """Record the rate in force for a revision; returns the previous one if it changed."""
    q, mark = store.dialect.quote, store.dialect.mark
    store.create(SAMPLING)
    rows = store.query(
        f"SELECT {q('sample_rate')} FROM {q(SAMPLING_TABLE)} "
        f"WHERE {q('schema_name')} = {mark} AND {q('revision')} = {mark} "
        f"ORDER BY {q('id')} DESC LIMIT 1",
        (schema, revision),
    )
    previous = int(rows[0][0]) if rows else None
    if previous == rate:
        return None
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    store.execute(
        f"INSERT INTO {q(SAMPLING_TABLE)} ({store.dialect.names(_COLUMNS)}) "
        f"VALUES ({store.dialect.marks(len(_COLUMNS))})",
        (schema, revision, rate, since),
    )
    return previous


def recorded_sample_rates(store: Store) -> list[RecordedRate]:
    """Every rate recorded, oldest first (so the last one of a revision is in force); empty
    when no forwarder has recorded any yet."""
    if not store.table_exists(SAMPLING_TABLE):
        return []
    q = store.dialect.quote
    columns = store.dialect.names(_COLUMNS)
    rows = store.query(f"SELECT {columns} FROM {q(SAMPLING_TABLE)} ORDER BY {q('id')}")
    return [
        RecordedRate(str(schema), str(revision), int(rate), str(since))
        for schema, revision, rate, since in rows
    ]
