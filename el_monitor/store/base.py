"""What both database writers share: table layouts, batched idempotent inserts, and the
split between 'the database is away' (spool and retry) and 'this row is bad' (EventError)."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from el_monitor.store.dialect import Dialect, TableSpec, event_table
from el_monitor.store.mapping import (
    CAPSULE_COLUMNS,
    Column,
    Row,
    StoreError,
    TableLayout,
    TableMissing,
    event_columns,
    table_name,
)

log = logging.getLogger(__name__)


class StoreUnavailable(Exception):
    """The database cannot be reached or refuses writes: the batch must wait and be retried."""


@dataclass(frozen=True)
class Rejected:
    """A row the database refused (value too long, out of range…): the event's EventError."""

    layout: TableLayout
    index: int  # position in the rows handed to insert()
    message: str


class InsertResult(NamedTuple):
    inserted: dict[TableLayout, int]  # new rows per table; replayed uuids add nothing
    rejected: list[Rejected]


class TableColumn(NamedTuple):
    name: str
    sql_type: str  # as the engine reports it: ``VARCHAR(191)`` (SQLite), ``varchar`` (MySQL)


Batch = Mapping[TableLayout, Sequence[Row]]
Params = Sequence[object]


class Store(ABC):
    """A database that holds one table per schema revision."""

    url: str

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect  # chosen once: the only place the engines are told apart
        self._layouts: dict[tuple[str, str], TableLayout] = {}

    def layout(self, schema: str, revision: str, event_schema: Mapping[str, Any]) -> TableLayout:
        """The table for a schema revision, created on first use."""
        key = (schema, revision)
        layout = self._layouts.get(key)
        if layout is None:
            name = table_name(schema, revision)
            wanted = [*CAPSULE_COLUMNS, *event_columns(event_schema)]
            existing = self._create_table(name, wanted)
            layout = self._layouts[key] = _layout_from(name, wanted, existing)
        return layout

    def insert(self, batch: Batch) -> InsertResult:
        """Insert every row in one transaction; duplicates of stored uuids are skipped.

        When the database refuses the batch for its data, the rows are retried one by one so
        that a single bad row costs only itself.  A table dropped since its layout was read
        is recreated (said at WARNING) and the batch retried, as for a table never seen.
        """
        for _ in range(len(batch) + 1):  # each retry recreates at least one table
            try:
                return self._insert_once(batch)
            except TableMissing as exc:
                if not self._recreate_missing(batch):
                    raise StoreUnavailable(f"{exc}, yet every table is there: retry later") from exc
        raise StoreUnavailable("tables keep vanishing while the batch is inserted")

    def _insert_once(self, batch: Batch) -> InsertResult:
        try:
            return InsertResult(self._insert_batch(batch), [])
        except TableMissing:
            raise
        except StoreError as exc:
            log.info("batch refused (%s); retrying row by row", exc)
        return self._insert_rows(batch)

    def _recreate_missing(self, batch: Batch) -> bool:
        """Recreate the batch's tables that are gone, with their layouts' columns (so the
        rows built against them still fit); returns whether any was missing."""
        present = {name.lower() for name in self.tables()}
        missing = [layout for layout in batch if layout.name.lower() not in present]
        for layout in missing:
            self.create(event_table(layout.name, layout.columns))
            self._layouts = {k: v for k, v in self._layouts.items() if v.name != layout.name}
            log.warning("table %s was missing; recreated", layout.name)
        return bool(missing)

    def create(self, spec: TableSpec) -> None:
        """Create ``spec``'s table and indexes when missing; a statement at a time, since
        MySQL commits DDL at once whatever the transaction."""
        for statement in self.dialect.create_table(spec):
            self.execute(statement)

    def _create_table(self, name: str, columns: Sequence[Column]) -> list[str]:
        """Create the table if missing and return the names of the columns it really has."""
        self.create(event_table(name, columns))
        return [column.name for column in self.columns(name)]

    @abstractmethod
    def _insert_batch(self, batch: Batch) -> dict[TableLayout, int]:
        """One transaction; raises StoreError for a data problem, StoreUnavailable otherwise."""

    @abstractmethod
    def _insert_rows(self, batch: Batch) -> InsertResult:
        """One transaction, one statement per row, refused rows reported."""

    @abstractmethod
    def query(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        """Run a read-only query; its rows as the driver returns them."""

    def execute(self, sql: str, params: Params = ()) -> int:
        """Run one write statement in its own transaction; returns the rows it changed."""
        return self.execute_all([(sql, params)])[0]

    @abstractmethod
    def execute_all(self, statements: Sequence[tuple[str, Params]]) -> list[int]:
        """Run write statements in one transaction, so that all of them take effect or none
        does (no DDL: MySQL commits it at once); returns the rows each changed."""

    def tables(self) -> list[str]:
        """Names of the tables in the database."""
        return [name for (name,) in self.query(self.dialect.list_tables)]

    def table_exists(self, name: str) -> bool:
        return name.lower() in {t.lower() for t in self.tables()}

    def columns(self, table: str) -> list[TableColumn]:
        """The columns ``table`` has, in table order; empty when it is missing."""
        query = self.dialect.table_columns(table)
        return [TableColumn(name, kind) for name, kind in self.query(*query)]

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


def safe_url(url: str) -> str:
    """A database URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(":" + parts.password + "@", ":***@")
    return parts._replace(netloc=netloc).geturl()
