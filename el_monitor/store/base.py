"""What both database writers share: table layouts, batched idempotent inserts, and the
split between 'the database is away' (spool and retry) and 'this row is bad' (EventError)."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol
from urllib.parse import quote, urlsplit

from el_monitor.errors import UserError
from el_monitor.store.dialect import Dialect, TableSpec, event_table
from el_monitor.store.duplicates import Duplicate, duplicates_of, split_stored, stored_rows
from el_monitor.store.mapping import (
    CAPSULE_COLUMNS,
    RETENTION_MARKER,
    Column,
    Row,
    StoreError,
    TableLayout,
    TableMissing,
    Value,
    event_columns,
    table_name,
)

log = logging.getLogger(__name__)


SERVER_DOWN = "is the database running? check --db"  # StoreUnavailable's fix unless told


class StoreUnavailable(Exception):
    """The database cannot be reached or refuses writes: the batch must wait and be retried.
    ``fix`` is what a person should check, as the driver's error tells it."""

    def __init__(self, message: str, fix: str = SERVER_DOWN) -> None:
        super().__init__(message)
        self.fix = fix


class JobRunning(StoreError):
    """Another process runs the same job on this database now (``Store.exclusive``)."""


@dataclass(frozen=True)
class Rejected:
    """A row the database refused (value too long, out of range…): the event's EventError."""

    layout: TableLayout
    index: int  # position in the rows handed to insert()
    message: str


class InsertResult(NamedTuple):
    inserted: dict[TableLayout, int]  # new rows per table; replayed uuids add nothing
    rejected: list[Rejected]
    duplicates: tuple[Duplicate, ...] = ()  # rows whose uuid was stored already


class TableColumn(NamedTuple):
    name: str
    sql_type: str  # as the engine reports it: ``VARCHAR(191)`` (SQLite), ``varchar`` (MySQL)


Batch = Mapping[TableLayout, Sequence[Row]]


class Preloading(Protocol):
    """One table's rows of the batch being filled, sent as they come (``Store.preload``):
    ``insert`` finishes the work when the batch hands it ``rows`` itself."""

    rows: list[Row]

    def add(self, row: Row) -> None: ...


Params = Sequence[object]
# What else a batch's transaction writes, given what the insert did (the counts of the batch).
Bookkeeping = Callable[[InsertResult], Sequence[tuple[str, Sequence[Params]]]]


class Transaction(ABC):
    """One open write transaction of a store; engine errors leave it through the store's
    mapping (StoreError, StoreUnavailable) and roll it back."""

    @abstractmethod
    def insert(self, layout: TableLayout, rows: Sequence[Row]) -> int:
        """Insert rows, skipping stored uuids; returns how many were added."""

    @abstractmethod
    def insert_row(self, layout: TableLayout, row: Row) -> int | str:
        """Insert one row: 1 or 0 (its uuid was stored), or why the database refused it."""

    @abstractmethod
    def query(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]: ...

    @abstractmethod
    def execute(self, sql: str, params: Params = ()) -> int: ...

    @abstractmethod
    def execute_many(self, sql: str, params: Sequence[Params]) -> None:
        """One statement over many parameter rows (a multi-row write where the driver can)."""


class _Replayed(Exception):
    """Some tables added fewer rows than sent: the transaction is redone reading them back."""

    def __init__(self, layouts: set[TableLayout]) -> None:
        super().__init__("stored uuids in the batch")
        self.layouts = layouts


class Store(ABC):
    """A database that holds one table per schema revision."""

    url: str
    # What a row holds for a column the event leaves empty (``TableLayout.empty``): a value
    # the driver binds as NULL.
    empty: Value = None
    # Whether one connection writes at a time, whoever it is (SQLite: the file's lock, and a
    # commit empties the page cache of every other connection to the file).
    single_writer = False

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
            layout = self._layouts[key] = _layout_from(name, wanted, existing, self.empty)
        return layout

    def preload(self, layout: TableLayout, hold: float) -> Preloading | None:
        """Start sending ``layout``'s rows of the batch being filled ahead of its ``insert``,
        which comes within ``hold`` seconds; None where the engine gains nothing by it (all
        but MySQL)."""
        return None

    def insert(self, batch: Batch, bookkeeping: Bookkeeping | None = None) -> InsertResult:
        """Insert every row in one transaction; duplicates of stored uuids are skipped, and
        ``bookkeeping``'s statements (given the result) run in the same transaction.

        Only when a table adds fewer rows than sent is the transaction redone, reading the
        stored rows of its uuids first, to tell which rows were duplicates and how they differ.
        When the database refuses the batch for its data, the rows are retried one by one so
        that a single bad row costs only itself.  A table dropped since its layout was read
        is recreated (said at WARNING) and the batch retried, as for a table never seen.
        """
        for _ in range(len(batch) + 1):  # each retry recreates at least one table
            try:
                return self._insert_once(batch, bookkeeping)
            except TableMissing:
                if not self._recreate_missing(batch):
                    raise  # a table beside the batch's (the counts): its owner makes it again
        raise StoreUnavailable("tables keep vanishing while the batch is inserted")

    def _insert_once(self, batch: Batch, bookkeeping: Bookkeeping | None) -> InsertResult:
        checked: set[TableLayout] = set()
        try:
            for _ in range(3):  # a concurrent writer can add a uuid between two tries
                try:
                    with self._transaction() as tx:
                        result = self._insert_checked(tx, batch, checked)
                        _book(tx, bookkeeping, result)
                    return result
                except _Replayed as replayed:
                    checked |= replayed.layouts
            raise StoreUnavailable("other writers keep adding this batch's uuids; retrying later")
        except TableMissing:
            raise
        except StoreError as exc:
            log.info("batch refused (%s); retrying row by row", exc)
        with self._transaction() as tx:
            result = self._insert_rows(tx, batch)
            _book(tx, bookkeeping, result)
        return result

    def _insert_checked(
        self, tx: Transaction, batch: Batch, checked: set[TableLayout]
    ) -> InsertResult:
        """Insert each table's rows; those of ``checked`` tables after reading back which of
        their uuids are stored.  Raises _Replayed naming the tables that fell short."""
        inserted: dict[TableLayout, int] = {}
        duplicates: list[Duplicate] = []
        short = set()
        for layout, rows in batch.items():
            if layout in checked:
                uuids = [str(row[0]) for row in rows]
                stored = stored_rows(tx.query, self.dialect, layout, uuids)
                new, found = split_stored(layout, rows, stored)
                duplicates += found
                sent = [rows[i] for i in new] if found else rows
            else:
                sent = rows
            added = inserted[layout] = tx.insert(layout, sent) if sent else 0
            if added < len(sent):
                short.add(layout)
        if short:
            raise _Replayed(short)
        return InsertResult(inserted, [], tuple(duplicates))

    def _insert_rows(self, tx: Transaction, batch: Batch) -> InsertResult:
        """One statement per row, refused rows reported, skipped ones compared."""
        inserted: dict[TableLayout, int] = dict.fromkeys(batch, 0)
        rejected = []
        duplicates: list[Duplicate] = []
        for layout, rows in batch.items():
            skipped = []
            for index, row in enumerate(rows):
                outcome = tx.insert_row(layout, row)
                if isinstance(outcome, str):
                    rejected.append(Rejected(layout, index, outcome))
                elif outcome:
                    inserted[layout] += outcome
                else:
                    skipped.append(index)
            if skipped:
                uuids = [str(rows[i][0]) for i in skipped]
                stored = stored_rows(tx.query, self.dialect, layout, uuids)
                duplicates += duplicates_of(layout, rows, skipped, stored)
        return InsertResult(inserted, rejected, tuple(duplicates))

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
    def _transaction(self) -> AbstractContextManager[Transaction]:
        """A write transaction: committed when the block ends, rolled back when it raises;
        engine errors become StoreError (the data) or StoreUnavailable (the database)."""

    @abstractmethod
    def query(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        """Run a read-only query; its rows as the driver returns them."""

    def execute(self, sql: str, params: Params = ()) -> int:
        """Run one write statement in its own transaction; returns the rows it changed."""
        return self.execute_all([(sql, params)])[0]

    def execute_all(self, statements: Sequence[tuple[str, Params]]) -> list[int]:
        """Run write statements in one transaction, so that all of them take effect or none
        does (no DDL: MySQL commits it at once); returns the rows each changed."""
        with self._transaction() as tx:
            return [tx.execute(sql, params) for sql, params in statements]

    def tables(self) -> list[str]:
        """Names of the tables in the database."""
        return [name for (name,) in self.query(self.dialect.list_tables)]

    def table_exists(self, name: str) -> bool:
        return name.lower() in {t.lower() for t in self.tables()}

    def columns(self, table: str) -> list[TableColumn]:
        """The columns ``table`` has, in table order; empty when it is missing."""
        query = self.dialect.table_columns(table)
        return [TableColumn(name, kind) for name, kind in self.query(*query)]

    def another_connection(self) -> Store | None:
        """A second store on the same database, to read in parallel with this one (the
        caller closes it); None when the engine gains nothing from one (SQLite)."""
        return None

    @abstractmethod
    def exclusive(self, job: str) -> AbstractContextManager[None]:
        """Hold ``job``'s lock on this database while the block runs, so that two runs of a
        job that must not overlap (a timer's and one started by hand) never do; raises
        JobRunning at once when another holds it.  The lock ends with its holder, however
        that ends."""

    @abstractmethod
    def close(self) -> None: ...


def _book(tx: Transaction, bookkeeping: Bookkeeping | None, result: InsertResult) -> None:
    if bookkeeping is not None:
        for sql, rows in bookkeeping(result):
            tx.execute_many(sql, rows)


def _layout_from(
    name: str, wanted: Sequence[Column], existing: Sequence[str], empty: Value
) -> TableLayout:
    """Layout over the columns the table really has; uuid and timestamp come first.  The
    retention marker is left out: rows are inserted unsanitized (it stays NULL)."""
    have = {c.lower(): c for c in existing}
    if "uuid" not in have or "timestamp" not in have:
        raise StoreError(f"table {name} exists but lacks uuid/timestamp: not an EventLogging table")
    kinds = {c.name.lower(): c.kind for c in wanted}
    columns = [Column(have["uuid"], "uuid"), Column(have["timestamp"], "timestamp")]
    columns += [
        Column(actual, kinds.get(lower, "text"))
        for lower, actual in have.items()
        if lower not in ("id", "uuid", "timestamp", RETENTION_MARKER)
    ]
    return TableLayout(name, columns, empty)


def url_with_password_file(url: str, password_file: str) -> str:
    """``url`` with the password read from ``password_file`` (its first line), so the secret is
    in neither argv, a unit file nor the catalog; UserError when the file cannot be read.  Only
    a ``mysql://`` URL carries one: any other comes back as it is."""
    if urlsplit(url).scheme != "mysql":
        return url
    try:
        with open(password_file, encoding="utf-8") as file:
            password = file.readline().rstrip("\r\n")
    except OSError as exc:
        raise UserError(f"cannot read the password file {password_file}: {exc.strerror}") from None
    parts = urlsplit(url)
    user = parts.username or "root"
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{user}:{quote(password, safe='')}@{host}").geturl()


def safe_url(url: str) -> str:
    """A database URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(":" + parts.password + "@", ":***@")
    return parts._replace(netloc=netloc).geturl()
