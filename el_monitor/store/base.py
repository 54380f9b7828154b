"""What both database writers share: table layouts, batched idempotent inserts, and the
split between 'the database is away' (spool and retry) and 'this row is bad' (EventError)."""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from el_monitor.store.mapping import (
    CAPSULE_COLUMNS,
    Column,
    StoreError,
    TableLayout,
    event_columns,
    table_name,
)
from el_monitor.store.sql import SAMPLING_TABLE, sampling_table_sql

log = logging.getLogger(__name__)


class StoreUnavailable(Exception):
    """The database cannot be reached or refuses writes: the batch must wait and be retried."""


class Rejected(NamedTuple):
    """A row the database refused (value too long, out of range…): the event's EventError."""

    layout: TableLayout
    index: int  # position in the rows handed to insert()
    message: str


class InsertResult(NamedTuple):
    inserted: dict[TableLayout, int]  # new rows per table; replayed uuids add nothing
    rejected: list[Rejected]


class Store(ABC):
    """A database that holds one table per schema revision."""

    url: str

    def __init__(self) -> None:
        self._layouts: dict[tuple[str, str], TableLayout] = {}

    def layout(self, schema: str, revision: str, event_schema: Mapping) -> TableLayout:
        """The table for a schema revision, created on first use."""
        key = (schema, revision)
        layout = self._layouts.get(key)
        if layout is None:
            name = table_name(schema, revision)
            wanted = [*CAPSULE_COLUMNS, *event_columns(event_schema)]
            existing = self._create_table(name, wanted)
            layout = self._layouts[key] = _layout_from(name, wanted, existing)
        return layout

    def insert(self, batch: Mapping[TableLayout, Sequence[list]]) -> InsertResult:
        """Insert every row in one transaction; duplicates of stored uuids are skipped.

        When the database refuses the batch for its data, the rows are retried one by one so
        that a single bad row costs only itself.
        """
        try:
            return InsertResult(self._insert_batch(batch), [])
        except StoreError as exc:
            log.info("batch refused (%s); retrying row by row", exc)
        return self._insert_rows(batch)

    @abstractmethod
    def _create_table(self, name: str, columns: Sequence[Column]) -> list[str]:
        """Create the table if missing and return the names of the columns it really has."""

    @abstractmethod
    def _insert_batch(self, batch: Mapping[TableLayout, Sequence[list]]) -> dict[TableLayout, int]:
        """One transaction; raises StoreError for a data problem, StoreUnavailable otherwise."""

    @abstractmethod
    def _insert_rows(self, batch: Mapping[TableLayout, Sequence[list]]) -> InsertResult:
        """One transaction, one statement per row, refused rows reported."""

    placeholder: str  # the driver's parameter marker: "?" (SQLite) or "%s" (MySQL)

    @abstractmethod
    def quote(self, identifier: str) -> str:
        """The identifier quoted for this engine."""

    @abstractmethod
    def query(self, sql: str, params: Sequence = ()) -> list[tuple]:
        """Run a read-only query (tests, reports, ``schemas`` listing)."""

    def execute(self, sql: str, params: Sequence = ()) -> int:
        """Run one write statement in its own transaction; returns the rows it changed."""
        return self.execute_all([(sql, params)])[0]

    @abstractmethod
    def execute_all(self, statements: Sequence[tuple[str, Sequence]]) -> list[int]:
        """Run write statements in one transaction, so that all of them take effect or none
        does (no DDL: MySQL commits it at once); returns the rows each changed."""

    def record_sample_rate(self, schema: str, revision: str, rate: int) -> int | None:
        """Record the rate in force for a revision; returns the previous one if it changed."""
        table, mark = self.quote(SAMPLING_TABLE), self.placeholder
        self.execute(sampling_table_sql(self.quote, mysql=self.placeholder == "%s"))
        rows = self.query(
            f"SELECT sample_rate FROM {table} WHERE schema_name = {mark} AND revision = {mark} "
            "ORDER BY id DESC LIMIT 1",
            (schema, revision),
        )
        if rows and rows[0][0] == rate:
            return None
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.execute(
            f"INSERT INTO {table} (schema_name, revision, sample_rate, since) "
            f"VALUES ({mark}, {mark}, {mark}, {mark})",
            (schema, revision, rate, since),
        )
        return rows[0][0] if rows else None

    def table_exists(self, name: str) -> bool:
        return name.lower() in {t.lower() for t in self.tables()}

    @abstractmethod
    def tables(self) -> list[str]:
        """Names of the tables in the database."""

    @abstractmethod
    def close(self) -> None: ...


def _layout_from(name: str, wanted: Sequence[Column], existing: Sequence[str]) -> TableLayout:
    """Layout over the columns the table really has; uuid and timestamp come first."""
    have = {c.lower(): c for c in existing}
    if "uuid" not in have or "timestamp" not in have:
        raise StoreError(f"table {name} exists but lacks uuid/timestamp: not an EventLogging table")
    kinds = {c.name.lower(): c.kind for c in wanted}
    columns = [Column(have["uuid"], "uuid"), Column(have["timestamp"], "timestamp")]
    columns += [
        Column(actual, kinds.get(lower, "text"))
        for lower, actual in have.items()
        if lower not in ("id", "uuid", "timestamp")
    ]
    return TableLayout(name, columns)
