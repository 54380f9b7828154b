"""Schema → table: EventLogging's layout, as a small declarative table.

One table per schema revision, ``<Schema>_<revision>``.  Capsule columns first, then event
fields flattened with ``_`` and prefixed ``event_``.  Nested objects that declare properties
flatten; arrays and free-form objects are stored as JSON text.  Every column but ``id`` is
NULLable so retention can null fields later.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any, ClassVar, NamedTuple, Union

import msgspec
import msgspec.structs
import orjson

from el_monitor.event.capsule import mediawiki_timestamp
from el_monitor.event.jsontext import decoded_key

IDENTIFIER = re.compile(r"[A-Za-z0-9_]{1,64}")
_MAX_IDENTIFIER = 64  # characters in a MySQL table or index name
VARCHAR_LIMIT = 191  # longest utf8mb4 VARCHAR that InnoDB can index in its smallest row format

# Logical column kinds and the SQL types they become.
BIGINT, DOUBLE, BOOLEAN, VARCHAR, TEXT, JSON = (
    "bigint",
    "double",
    "boolean",
    "varchar",
    "text",
    "json",
)
SQL_TYPES = {
    BIGINT: "BIGINT",
    DOUBLE: "DOUBLE",
    BOOLEAN: "BOOLEAN",
    VARCHAR: f"VARCHAR({VARCHAR_LIMIT})",
    TEXT: "TEXT",
    JSON: "TEXT",
}
_JSON_TYPES = {"integer": BIGINT, "number": DOUBLE, "boolean": BOOLEAN}
# What ``TableLayout.row``'s loop stores unchanged in a column of each kind (``_event_struct``).
_STRUCT_FIELDS: dict[str, Any] = {
    BIGINT: Union[int, float, None],  # noqa: UP007
    DOUBLE: Union[int, float, None],  # noqa: UP007
    BOOLEAN: Union[bool, None],  # noqa: UP007
    VARCHAR: Union[Annotated[str, msgspec.Meta(max_length=VARCHAR_LIMIT)], None],  # noqa: UP007
    TEXT: Union[str, None],  # noqa: UP007
}


# A stored value: validated JSON scalars, and JSON text for arrays and free-form objects.
Value = str | int | float | bool | None | orjson.Fragment  # a Fragment: MySQL's empty
Row = list[Value]  # one event's values, in its TableLayout's column order


def column_text(value: object) -> str | None:
    """A text column's value as str (None for NULL): binary collations give bytes."""
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    return None if value is None else str(value)


class Column(NamedTuple):
    name: str
    kind: str


# uuid and timestamp are declared separately: they carry the unique key and the index.
CAPSULE_COLUMNS = (
    Column("uuid", "uuid"),
    Column("timestamp", "timestamp"),
    Column("wiki", VARCHAR),
    Column("webHost", VARCHAR),
    Column("userAgent", TEXT),
    Column("topic", VARCHAR),
)
_CAPSULE_VALUES = tuple(map(decoded_key, ("wiki", "webHost", "userAgent", "topic")))
# Capsule fields a policy (keep, rollup dimensions) may name: their columns are their names.
_CAPSULE_FIELD_COLUMNS = frozenset(c.name for c in CAPSULE_COLUMNS)
# Added by retention to a table it sanitizes: how far a row has been sanitized (NULL: not
# at all).  Never part of an insert: a forwarder's rows leave it NULL.
RETENTION_MARKER = "el_retention"


class StoreError(ValueError):
    """A valid event that its table cannot hold: it becomes an EventError with code 'store'."""


class TableMissing(StoreError):
    """A statement named a table that does not exist (dropped while we ran): the store
    recreates it and retries rather than refusing the rows."""


def table_name(schema: str, revision: str) -> str:
    name = f"{schema}_{re.sub(r'[^A-Za-z0-9_]', '_', revision)}"
    if not IDENTIFIER.fullmatch(name):
        raise StoreError(
            f"table name {name!r} is not a valid identifier (at most 64 of A-Za-z0-9_)"
        )
    return name


def fitted_identifier(name: str, key: str) -> str:
    """``name``, or when longer than an identifier may be, its start and a hash of ``key``
    (what makes it unique), so that a long table name still gets its index names."""
    if len(name) <= _MAX_IDENTIFIER:
        return name
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    return f"{name[: _MAX_IDENTIFIER - len(digest) - 1]}_{digest}"


_NUMBERED_REVISION = re.compile(r"[0-9][0-9_]*")  # as table_name writes 17325565 or 1.7.0


def schema_of_table(table: str, schemas: Iterable[str]) -> str | None:
    """Which of ``schemas`` a table named by ``table_name`` belongs to: the longest name it
    starts with, followed by a numbered revision; None when none fits."""
    for name in sorted(schemas, key=len, reverse=True):
        revision = table[len(name) + 1 :]
        if table.startswith(name + "_") and _NUMBERED_REVISION.fullmatch(revision):
            return name
    return None


def split_table_name(table: str, schemas: Iterable[str]) -> tuple[str, str] | None:
    """(schema, revision as the table writes it) of an event table's name: the longest of
    ``schemas`` that fits, else the name cut before its first numbered part (a schema no
    registry or catalog knows any more); None for a name ``table_name`` never makes."""
    known = schema_of_table(table, schemas)
    if known is not None:
        return known, table[len(known) + 1 :]
    for at, char in enumerate(table):
        if char == "_" and at and _NUMBERED_REVISION.fullmatch(table[at + 1 :]):
            return table[:at], table[at + 1 :]
    return None


def field_column(path: str) -> str:
    """The column of a field as the catalog names it (``performer.user_id``): a capsule
    field's own, else ``event_`` and the path with ``_`` for dots."""
    return path if path in _CAPSULE_FIELD_COLUMNS else "event_" + path.replace(".", "_")


def event_columns(schema: Mapping[str, Any]) -> list[Column]:
    """The ``event_*`` columns for an (effective, draft-7) event schema."""
    columns: list[Column] = []
    _add_columns(schema.get("properties", {}), "event_", columns)
    seen: set[str] = set()
    for column in columns:
        if not IDENTIFIER.fullmatch(column.name):
            raise StoreError(f"field {column.name!r} cannot be a column name (A-Za-z0-9_, ≤64)")
        if column.name.lower() in seen:
            raise StoreError(f"two fields map to the column {column.name!r}")
        seen.add(column.name.lower())
    return columns


def _add_columns(properties: Mapping[str, Any], prefix: str, out: list[Column]) -> None:
    for key in sorted(properties):
        spec = properties[key] if isinstance(properties[key], Mapping) else {}
        name = prefix + key
        kind = _kind(spec)
        if kind is None:
            _add_columns(spec["properties"], name + "_", out)
        else:
            out.append(Column(name, kind))


def _kind(spec: Mapping[str, Any]) -> str | None:
    """Column kind for a property schema; None means 'flatten its properties'."""
    types = spec.get("type")
    if isinstance(types, list):
        non_null = [t for t in types if t != "null"]
        types = non_null[0] if len(non_null) == 1 else None
    if types == "object" and spec.get("properties"):
        return None
    if types == "string":
        # Longer values than a VARCHAR holds are refused row by row (strict mode), never cut.
        max_length = spec.get("maxLength")
        return TEXT if isinstance(max_length, int) and max_length > VARCHAR_LIMIT else VARCHAR
    return _JSON_TYPES.get(types, JSON) if isinstance(types, str) else JSON


class EventRow(
    msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True, gc=False
):
    """An event decoded straight into the values of its table's event columns
    (``event_row_type``); as JSON (``msgspec.to_builtins``) it is the event again."""

    columns: ClassVar[tuple[Column, ...]] = ()  # the event columns its fields fill, in order
    empty: ClassVar[Value] = None  # a field's value where the event has none


def event_row_type(
    columns: Sequence[Column], types: Mapping[str, tuple[Any, bool]], empty: Value
) -> type[EventRow] | None:
    """An EventRow with a field per event column, of the type ``types`` gives its field's
    name (with whether the field is required), ``empty`` where an event leaves it out; None
    when a column has no type there, or msgspec cannot take the names."""
    fields: list[tuple[str, Any] | tuple[str, Any, Value]] = []
    for index, column in enumerate(columns):
        name = column.name[6:]
        if column.name[:6] != "event_" or name not in types:
            return None
        kind, required = types[name]
        fields.append((f"f{index}", kind) if required else (f"f{index}", kind, empty))
    try:
        row_type: type[EventRow] = msgspec.defstruct(  # type: ignore[assignment]
            "TypedEvent",
            fields,
            bases=(EventRow,),
            rename={f"f{index}": c.name[6:] for index, c in enumerate(columns)},
            kw_only=True,
            forbid_unknown_fields=True,
            omit_defaults=True,
            gc=False,
        )
    except (TypeError, ValueError):
        return None
    row_type.columns, row_type.empty = tuple(columns), empty
    return row_type


class BuiltRows(NamedTuple):
    """A group of capsules as rows of one table, and those it refused."""

    rows: list[Row]
    kept: list[dict[str, Any]]  # the capsules of ``rows``, in the same order
    refused: list[tuple[dict[str, Any], str]]  # (capsule, why): store errors


class TableLayout:
    """The columns an existing table has, and how an event's capsule becomes a row of it.

    Built from the columns the table really has (read from the database), so an event with a
    field the table lacks is a ``StoreError`` rather than a failed batch.
    """

    def __init__(self, name: str, columns: list[Column], empty: Value = None) -> None:
        self.name = name
        # What a row holds where the event has no value: a NULL to the engine (``Store``
        # chooses; ``differing`` reads it as None).
        self.empty = empty
        self.columns = tuple(columns)
        self.column_names = tuple(c.name for c in columns)
        self._position = {c.name: i for i, c in enumerate(columns)}
        self._json = frozenset(c.name for c in columns if c.kind == JSON)
        self._nested = frozenset(
            c.name[:i] for c in columns for i, ch in enumerate(c.name) if ch == "_" and i > 6
        )
        # The capsule's fields this table has a column for (an old table may lack some), and
        # whether each is a VARCHAR.  SQLite ignores a VARCHAR's length and MySQL's strict mode
        # refuses a longer string: both engines agree by refusing it here, as the row is built.
        self._varchar = frozenset(c.name for c in columns if c.kind == VARCHAR)
        self._capsule = tuple(
            (self._position[k], k, k in self._varchar)
            for k in _CAPSULE_VALUES
            if k in self._position
        )
        # The fast path maps a top-level event field to its column with one lookup: scalar
        # columns by position, VARCHAR ones by ``~position`` (negative), so only their strings
        # pay for the length check.  Keyed by the names as decoded events hold them
        # (``decoded_key``): found by identity.
        self._top = {
            decoded_key(c.name[6:]): ~i if c.kind == VARCHAR else i
            for i, c in enumerate(columns)
            if c.name[:6] == "event_" and c.kind != JSON
        }
        self._last_second = -1
        self._last_mw = ""
        # The event columns, when they all come after the capsule's and hold scalars (every
        # table the forwarder makes): the usual event becomes their values in one C call.
        head = next((i for i, c in enumerate(columns) if c.name[:6] == "event_"), len(columns))
        self._head = head if all(position < head for position, _, _ in self._capsule) else 0
        self._struct = _event_struct(columns[self._head :], empty) if self._head else None
        self._typed: dict[type, bool] = {}  # EventRow types → whether they fill this table

    def row(self, capsule: Mapping[str, Any]) -> Row:
        """One row, in ``column_names`` order.  Raises StoreError for unmapped fields."""
        event = capsule["event"]
        if event.__class__ is not dict:  # an EventRow: the usual event of a typed line
            fits = self._typed.get(event.__class__)
            if fits is None:
                fits = self._typed[event.__class__] = self._fits(event.__class__)
            if fits:
                values = self._capsule_values(capsule, self._head)
                values += msgspec.structs.astuple(event)
                return values
            event = msgspec.to_builtins(event)
        struct = self._struct
        if struct is not None:
            try:
                fields = msgspec.structs.astuple(msgspec.convert(event, struct))
            except Exception:  # a field it does not place as the loop would: the loop
                fields = None
            if fields is not None:
                values = self._capsule_values(capsule, self._head)
                values += fields
                return values
        values = self._capsule_values(capsule, len(self.columns))
        self._event_values(event, values)
        return values

    def _fits(self, row_type: type[EventRow]) -> bool:
        """Whether an EventRow's fields are this table's event columns, empty as it is."""
        columns = self.columns[self._head :]
        return bool(self._head) and row_type.columns == columns and row_type.empty is self.empty

    def _capsule_values(self, capsule: Mapping[str, Any], size: int) -> Row:
        """A row of ``size`` columns holding the capsule's values, the rest empty."""
        values: Row = [self.empty] * size
        values[0] = capsule["uuid"]
        second = capsule["timestamp"]
        if second != self._last_second:
            self._last_second, self._last_mw = second, mediawiki_timestamp(second)
        values[1] = self._last_mw
        for position, key, limited in self._capsule:
            value = capsule.get(key)
            if value is not None:
                if limited and len(value) > VARCHAR_LIMIT:
                    self._too_long(position, value)
                values[position] = value
        return values

    def _event_values(self, event: Mapping[str, Any], values: Row) -> None:
        """Place the event's fields in ``values``.  A validated event holds a scalar wherever
        its table has a scalar column: only the fields without one (nested objects, JSON
        columns, unknown names) take ``_fill``."""
        top = self._top
        for key, value in event.items():
            try:  # (a subscript, not ``get``: most fields have a column, and a call costs)
                at = top[key]
            except KeyError:
                self._fill({key: value}, "event_", values)
                continue
            if at >= 0:
                values[at] = value
            elif value.__class__ is str and len(value) > VARCHAR_LIMIT:
                self._too_long(~at, value)
            else:
                values[~at] = value

    def rows(self, capsules: list[dict[str, Any]]) -> BuiltRows:
        """Rows of ``capsules``; one the table cannot hold is refused, not the group."""
        rows: list[Row] = []
        refused: list[tuple[dict[str, Any], str]] = []
        row = self.row
        for capsule in capsules:
            try:
                rows.append(row(capsule))
            except StoreError as exc:
                refused.append((capsule, str(exc)))
        if not refused:
            return BuiltRows(rows, capsules, refused)
        gone = {id(capsule) for capsule, _ in refused}
        return BuiltRows(rows, [c for c in capsules if id(c) not in gone], refused)

    def _too_long(self, position: int, value: str) -> None:
        """Refuse a string longer than its VARCHAR column, as MySQL's strict mode does."""
        raise StoreError(
            f"{self.column_names[position]} is too long: {len(value):,} characters, "
            f"where its column holds at most {VARCHAR_LIMIT}"
        )

    def _fill(self, obj: Mapping[str, Any], prefix: str, values: Row) -> None:
        position_of = self._position
        for key, value in obj.items():
            name = prefix + key
            position = position_of.get(name)
            if position is not None:
                if value.__class__ in (dict, list) or name in self._json:
                    try:
                        value = orjson.dumps(value).decode()
                    except TypeError:  # orjson writes 254 levels at most
                        raise StoreError(f"{name} nests too deep to store as JSON") from None
                elif (
                    name in self._varchar and isinstance(value, str) and len(value) > VARCHAR_LIMIT
                ):
                    self._too_long(position, value)
                values[position] = value
            elif value.__class__ is dict and name in self._nested:
                self._fill(value, name + "_", values)
            elif value is not None:
                raise StoreError(f"table {self.name} has no column {name}")


def _event_struct(columns: Sequence[Column], empty: Value) -> type | None:
    """A Struct of the event columns ``columns`` (in table order), each ``empty`` by default,
    accepting only what ``TableLayout.row``'s loop stores unchanged: a known field, a scalar
    of its column's kind, a VARCHAR string no longer than the column holds.  Any other event
    (a nested object, an unknown field, an over-long string) takes the loop, which stores it
    or says why not; None when a column holds what no Struct field gives (JSON text)."""
    fields: list[tuple[str, Any, Value]] = []
    rename = {}
    for index, column in enumerate(columns):
        kind = _STRUCT_FIELDS.get(column.kind)
        if kind is None or column.name[:6] != "event_":
            return None
        fields.append((f"f{index}", kind, empty))
        rename[f"f{index}"] = column.name[6:]
    try:
        return msgspec.defstruct(
            "EventColumns",
            fields,
            rename=rename,
            forbid_unknown_fields=True,
            kw_only=True,
            gc=False,  # scalars only: nothing for the collector to track
        )
    except (TypeError, ValueError):  # a column name msgspec cannot take: the loop does all
        return None
