"""What SQLite and MySQL/MariaDB spell differently, as one small value per engine.

A store picks its dialect once, in its constructor (``store.dialect``).  Everything else in
``store/`` writes engine-neutral SQL with the dialect's quoting and parameter mark, and asks it
for the few statements the engines spell differently: "create if missing" (keys, indexes, table
options), the additive upsert, the insert that skips stored uuids, and the catalogue queries.
Nothing else tells the engines apart.
"""

from __future__ import annotations

import hashlib
import hmac
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from el_monitor.store.mapping import DOUBLE, SQL_TYPES, Column, fitted_identifier

# number_list's NULL: a number neither engine writes (a leading zero) that numpy parses as
# -(2**63 - 1); a stored value parsing the same is told apart by its text.
NULL_NUMBER = "-09223372036854775807"
IN_LIMIT = 1000  # keys per … IN (…) of one statement: far below every engine's parameter limit

# Types of the two capsule columns that carry the unique key and the time index.
_CAPSULE_TYPES = {"uuid": "CHAR(32)", "timestamp": "VARCHAR(14)"}
EVENT_COLLATION = "utf8mb4_unicode_ci"


HMAC_FUNCTION = "el_hmac_sha256"  # SQLite: the application function (store.sqlite) behind it
_SHA256_BLOCK = 64


def hmac_hex(key: bytes, text: str) -> str:
    """HMAC-SHA256 of ``text``'s UTF-8 bytes, as lowercase hex: what ``hmac_sha256`` gives
    in SQL, and the stored form of a hashed token wherever it is computed in Python."""
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """HMAC-SHA256's inner and outer keys, ``key ^ ipad`` and ``key ^ opad`` (RFC 2104)."""
    if len(key) > _SHA256_BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_SHA256_BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


class Index(NamedTuple):
    name: str
    columns: tuple[str, ...]


class TableSpec(NamedTuple):
    """A table as both engines create it: an auto-increment ``id`` key, then ``columns``."""

    name: str
    columns: tuple[tuple[str, str], ...]  # (column, its SQL type and NULL / DEFAULT clauses)
    unique: Index | None = None
    indexes: tuple[Index, ...] = ()
    collation: str | None = None  # MySQL's table collation; None keeps the database default


class Query(NamedTuple):
    sql: str
    params: tuple[object, ...] = ()


class InsertSQL(NamedTuple):
    """An ``INSERT … VALUES`` that skips rows whose uuid is already stored, split around its
    rows so that a store can put placeholders (SQLite) or literals (MySQL) between."""

    head: str  # up to and including ``VALUES``
    tail: str  # after the rows: what makes a replayed uuid add nothing


def event_table(name: str, columns: Sequence[Column]) -> TableSpec:
    """One schema revision's table: every column NULLable, uuid unique, timestamp indexed."""
    return TableSpec(
        name=name,
        columns=tuple(
            (c.name, f"{_CAPSULE_TYPES.get(c.kind) or SQL_TYPES[c.kind]} NULL") for c in columns
        ),
        unique=Index(fitted_identifier(f"ix_{name}_uuid", f"{name}\0uuid"), ("uuid",)),
        indexes=(
            Index(fitted_identifier(f"ix_{name}_timestamp", f"{name}\0timestamp"), ("timestamp",)),
        ),
        collation=EVENT_COLLATION,
    )


class Dialect(ABC):
    """Quoting, parameter mark and the statements one engine spells its own way."""

    name: str
    mark: str  # the driver's parameter marker
    auto_key: str  # type and constraints of the auto-increment ``id`` column
    list_tables: str  # a query answering one row per table, its name (internal ones left out)
    _skip_stored_uuid: str  # after an insert's rows: a replayed uuid adds nothing
    lock_rows: str  # after a SELECT in a write transaction: no other writer adds what it read
    concat_limit: str | None  # a query answering the longest text concat_rows gives; None: any
    others_inserts: str | None  # a query answering the insert statements of other sessions

    @abstractmethod
    def quote(self, identifier: str) -> str:
        """``identifier`` quoted, any quote character inside doubled."""

    def names(self, identifiers: Iterable[str]) -> str:
        """Quoted identifiers, comma-separated."""
        return ", ".join(map(self.quote, identifiers))

    def marks(self, count: int) -> str:
        """``count`` parameter marks, comma-separated."""
        return ", ".join([self.mark] * count)

    def create_table(self, spec: TableSpec) -> list[str]:
        """Statements that create ``spec`` when it is missing, and leave it alone otherwise."""
        q = self.quote
        lines = [f"{q('id')} {self.auto_key}"]
        lines += [f"{q(column)} {kind}" for column, kind in spec.columns]
        if spec.unique is not None:
            lines.append(self._unique_key(spec.unique))
        lines += self._inline_indexes(spec.indexes)
        body = ",\n  ".join(lines)
        create = f"CREATE TABLE IF NOT EXISTS {q(spec.name)} (\n  {body}\n)"
        return [create + self._table_options(spec.collation), *self._create_indexes(spec)]

    def upsert(
        self,
        table: str,
        keys: Sequence[str],
        additive: Sequence[str],
        first_only: Sequence[str] = (),
    ) -> str:
        """Insert one row (parameters: ``keys``, ``additive``, ``first_only`` in that order);
        when a row with the same ``keys`` exists, add the ``additive`` columns to it instead
        and keep its ``first_only`` columns as they are."""
        columns = [*keys, *additive, *first_only]
        return (
            f"INSERT INTO {self.quote(table)} ({self.names(columns)}) "
            f"VALUES ({self.marks(len(columns))}) {self._add_on_conflict(keys, additive)}"
        )

    def insert_new(self, table: str, columns: Sequence[str]) -> InsertSQL:
        """The bulk insert of event rows, idempotent on their uuid."""
        head = f"INSERT INTO {self.quote(table)} ({self.names(columns)}) VALUES "
        return InsertSQL(head, self._skip_stored_uuid)

    def add_column(self, table: str, column: str, kind: str) -> str:
        """Add a column to an existing table (the same words on both engines)."""
        return f"ALTER TABLE {self.quote(table)} ADD COLUMN {self.quote(column)} {kind}"

    def add_index(self, table: str, index: Index) -> str:
        """Add an index to an existing table (the same words on both engines; online on
        InnoDB: inserts go on while it is built)."""
        return (
            f"CREATE INDEX {self.quote(index.name)} ON {self.quote(table)} "
            f"({self.names(index.columns)})"
        )

    @abstractmethod
    def table_indexes(self, table: str) -> Query:
        """A query answering one row per index of ``table``, its name."""

    def number_list(self, columns: Sequence[str | None]) -> str:
        """An expression: the numeric ``columns`` of a row as one comma-separated text, each
        value written so that ``float()`` reads it back exactly (an integer as its digits),
        ``NULL_NUMBER`` for NULL (and for None: a column the table lacks).  Numbers only: a
        window of rows parses in one C call (``rollup_scan``)."""
        null = f"'{NULL_NUMBER}'"
        return self._join_text([null if c is None else self._number(self.quote(c), null)
                                for c in columns], ",")  # fmt: skip

    def key_text(self, period: str, columns: Sequence[tuple[str, str]]) -> str:
        """An expression: a row's group as one text of hex digits, ``N`` and ``|`` only, so
        rows join unambiguously with any other separator: ``period`` (an expression giving
        digits), then per ``(column, kind)`` ``N`` for NULL or the hex of its value's bytes
        (a number's as text), ``|`` between."""
        items = [period]
        for column, kind in columns:
            q = self.quote(column)
            text = self._number(q, "''") if kind == DOUBLE else q
            items.append(f"CASE WHEN {q} IS NULL THEN 'N' ELSE {self._hex(text)} END")
        return self._join_text(items, "|")

    @abstractmethod
    def concat_rows(self, expression: str, separator: str) -> str:
        """An aggregate: ``expression`` of every row, joined by ``separator`` (one character
        that the expression never gives); NULL when there are no rows."""

    @abstractmethod
    def hmac_sha256(self, expression: str, key: bytes) -> tuple[str, tuple[bytes | str, ...]]:
        """An expression: the HMAC-SHA256 of ``expression``'s text (its UTF-8 bytes) under
        ``key``, as lowercase hex, NULL for NULL; and its parameters, in the order of their
        marks.  Computed where the rows are, so tokens are never read out to be hashed."""

    @abstractmethod
    def _number(self, expression: str, null: str) -> str:
        """A numeric ``expression`` as text that ``float()`` reads back exactly; ``null``
        (an SQL text) for NULL."""

    @abstractmethod
    def _hex(self, expression: str) -> str:
        """The hex digits of ``expression``'s bytes (of its text for a number)."""

    @abstractmethod
    def _join_text(self, items: Sequence[str], separator: str) -> str: ...

    @abstractmethod
    def table_columns(self, table: str) -> Query:
        """A query answering (name, SQL type) per column of ``table``, in table order; no
        rows when the table is missing."""

    @abstractmethod
    def _unique_key(self, index: Index) -> str: ...

    @abstractmethod
    def _inline_indexes(self, indexes: Sequence[Index]) -> list[str]: ...

    @abstractmethod
    def _create_indexes(self, spec: TableSpec) -> list[str]: ...

    @abstractmethod
    def _table_options(self, collation: str | None) -> str: ...

    @abstractmethod
    def _add_on_conflict(self, keys: Sequence[str], additive: Sequence[str]) -> str: ...


_INSERT_COUNTERS = "('COM_INSERT', 'COM_INSERT_SELECT', 'COM_REPLACE', 'COM_LOAD')"
_OTHERS_INSERTS = (  # every session's since the server started, less this session's
    "SELECT (SELECT SUM(VARIABLE_VALUE) FROM information_schema.GLOBAL_STATUS "
    f"WHERE VARIABLE_NAME IN {_INSERT_COUNTERS}) - (SELECT SUM(VARIABLE_VALUE) "
    f"FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME IN {_INSERT_COUNTERS})"
)


class SQLiteDialect(Dialect):
    name = "sqlite"
    mark = "?"
    auto_key = "INTEGER PRIMARY KEY"  # the rowid: increments without a sequence table
    list_tables = (
        "SELECT name FROM sqlite_master WHERE type = 'table' "
        "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
    )
    _skip_stored_uuid = ' ON CONFLICT("uuid") DO NOTHING'
    lock_rows = ""  # one writer at a time: the transaction's write lock covers it
    concat_limit = None
    others_inserts = None  # the writer is in-process: no one else's inserts to count

    def quote(self, identifier: str) -> str:
        return '"' + identifier.replace('"', '""') + '"'

    def table_columns(self, table: str) -> Query:
        return Query("SELECT name, type FROM pragma_table_info(?) ORDER BY cid", (table,))

    def table_indexes(self, table: str) -> Query:
        return Query("SELECT name FROM pragma_index_list(?)", (table,))

    def _number(self, expression: str, null: str) -> str:
        # %.17g: the text of a REAL keeps only 15 digits; printf would write NULL as ''.
        return f"CASE WHEN {expression} IS NULL THEN {null} ELSE printf('%.17g', {expression}) END"

    def _hex(self, expression: str) -> str:
        return f"hex({expression})"

    def _join_text(self, items: Sequence[str], separator: str) -> str:
        return f" || '{separator}' || ".join(items)

    def concat_rows(self, expression: str, separator: str) -> str:
        return f"group_concat({expression}, '{separator}')"

    def hmac_sha256(self, expression: str, key: bytes) -> tuple[str, tuple[bytes | str, ...]]:
        return f"{HMAC_FUNCTION}({self.mark}, {expression})", (key,)

    def _unique_key(self, index: Index) -> str:
        return f"UNIQUE ({self.names(index.columns)})"

    def _inline_indexes(self, indexes: Sequence[Index]) -> list[str]:
        return []

    def _create_indexes(self, spec: TableSpec) -> list[str]:
        return [
            f"CREATE INDEX IF NOT EXISTS {self.quote(index.name)} "
            f"ON {self.quote(spec.name)} ({self.names(index.columns)})"
            for index in spec.indexes
        ]

    def _table_options(self, collation: str | None) -> str:
        return ""

    def _add_on_conflict(self, keys: Sequence[str], additive: Sequence[str]) -> str:
        q = self.quote
        update = ", ".join(f"{q(c)} = {q(c)} + excluded.{q(c)}" for c in additive)
        return f"ON CONFLICT ({self.names(keys)}) DO UPDATE SET {update}"


class MySQLDialect(Dialect):
    name = "mysql"
    mark = "%s"
    auto_key = "BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY"
    list_tables = "SHOW TABLES"
    _skip_stored_uuid = " ON DUPLICATE KEY UPDATE `uuid` = `uuid`"
    lock_rows = " FOR UPDATE"  # also locks the gaps where a missing uuid would go
    concat_limit = "SELECT @@SESSION.group_concat_max_len"
    others_inserts = _OTHERS_INSERTS

    def quote(self, identifier: str) -> str:
        return "`" + identifier.replace("`", "``") + "`"

    def table_columns(self, table: str) -> Query:
        return Query(
            "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
            (table,),
        )

    def table_indexes(self, table: str) -> Query:
        return Query(
            "SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
            (table,),
        )

    def _number(self, expression: str, null: str) -> str:
        # A number in text is what the protocol itself sends for it: read back exactly.
        return f"IFNULL({expression}, {null})"

    def _hex(self, expression: str) -> str:
        return f"HEX(CONCAT({expression}))"  # CONCAT: a number's text, not its value, in hex

    def _join_text(self, items: Sequence[str], separator: str) -> str:
        return f"CONCAT_WS('{separator}', {', '.join(items)})"

    def concat_rows(self, expression: str, separator: str) -> str:
        # As long as the session allows (group_concat_max_len): a longer text comes back cut.
        return f"GROUP_CONCAT({expression} SEPARATOR '{separator}')"

    def hmac_sha256(self, expression: str, key: bytes) -> tuple[str, tuple[str, ...]]:
        # RFC 2104 spelled in SHA2 calls: H((K ^ opad) || H((K ^ ipad) || text)).  The keys
        # travel as hex (a bytes parameter would be read as utf8mb4 text); CONCAT with a
        # binary argument is binary, so the column's text enters as its utf8mb4 bytes.
        inner, outer = hmac_pads(key)
        key_mark = f"UNHEX({self.mark})"
        sql = f"SHA2(CONCAT({key_mark}, UNHEX(SHA2(CONCAT({key_mark}, {expression}), 256))), 256)"
        return sql, (outer.hex(), inner.hex())

    def _unique_key(self, index: Index) -> str:
        return f"UNIQUE KEY {self.quote(index.name)} ({self.names(index.columns)})"

    def _inline_indexes(self, indexes: Sequence[Index]) -> list[str]:
        return [f"KEY {self.quote(i.name)} ({self.names(i.columns)})" for i in indexes]

    def _create_indexes(self, spec: TableSpec) -> list[str]:
        return []

    def _table_options(self, collation: str | None) -> str:
        options = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
        return options + f" COLLATE={collation}" if collation else options

    def _add_on_conflict(self, keys: Sequence[str], additive: Sequence[str]) -> str:
        q = self.quote
        return "ON DUPLICATE KEY UPDATE " + ", ".join(
            f"{q(c)} = {q(c)} + VALUES({q(c)})" for c in additive
        )


SQLITE = SQLiteDialect()
MYSQL = MySQLDialect()
