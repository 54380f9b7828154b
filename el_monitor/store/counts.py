"""The two tables where forwarders persist their counters: layout, additive writes, report reads.

Graphite keeps rates, but its retention and aggregation make it a poor source for "how many
events of schema X were valid yesterday"; the daily report needs exact sums.  So every
forwarder instance adds its counts into one row per UTC hour, instance and schema, and its
validation errors into one row per hour, instance, schema, code and JSON path.  The report sums
them by day in SQL.  Both the forwarder (writer) and the report (reader) go through this
module, so it is the single source of the layout.

Text columns use a binary collation on MySQL: schema names are case-sensitive (``Edit`` and
``edit`` are different schemas, as they are to SQLite), and a case-insensitive unique key would
merge their rows.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from el_monitor.measures import MEASURES
from el_monitor.store.base import Params, Store
from el_monitor.store.dialect import IN_LIMIT, Dialect, Index, TableSpec
from el_monitor.store.mapping import StoreError, column_text

__all__ = [
    "COUNTS_TABLE",
    "ERRORS_TABLE",
    "MEASURES",
    "NO_SCHEMA",
    "PATH_LENGTH",
    "DailyCounts",
    "ErrorGroup",
    "ErrorKey",
    "FirstExample",
    "HourCounts",
    "HourErrors",
    "Measures",
    "StoredExample",
    "add_counts",
    "clear_examples",
    "count_statements",
    "counts_tables_sql",
    "create_counts_tables",
    "daily_counts",
    "day_error_groups",
    "first_examples",
    "old_example_keys",
    "period_of",
    "scan_examples",
]

COUNTS_TABLE = "el_monitor_counts"
ERRORS_TABLE = "el_monitor_errors"
# schema_name of lines for which no schema could be named (unparseable, no schema field).
NO_SCHEMA = "-"
# Longest JSON path stored; a writer cuts longer ones (they stay distinct enough to group).
PATH_LENGTH = 191
CODE_LENGTH = 20
NAME_LENGTH = 63  # instance and schema names: EventLogging's schema-name limit
PERIOD_LENGTH = 20  # 'YYYY-MM-DDTHH:00:00Z'
FIRSTS_PER_QUERY = 100  # error groups whose first example one query fetches


class Measures(NamedTuple):
    """One number per measure, in ``MEASURES`` order (COUNTS_TABLE's columns)."""

    raw: int = 0
    valid: int = 0
    invalid: int = 0
    sampled_out: int = 0
    opted_out: int = 0
    inserted: int = 0
    duplicate: int = 0
    spooled: int = 0


_WHERE = ("period", "instance", "schema_name")  # what one row counts
_ERROR_GROUP = (*_WHERE, "code", "path")

_MEASURE_TYPE = "BIGINT NOT NULL DEFAULT 0"
_KEY_COLUMNS = (
    ("period", f"VARCHAR({PERIOD_LENGTH}) NOT NULL"),
    ("instance", f"VARCHAR({NAME_LENGTH}) NOT NULL"),
    ("schema_name", f"VARCHAR({NAME_LENGTH}) NOT NULL"),
)
COUNTS = TableSpec(
    COUNTS_TABLE,
    (*_KEY_COLUMNS, *((measure, _MEASURE_TYPE) for measure in MEASURES)),
    unique=Index(f"ux_{COUNTS_TABLE}", _WHERE),
    collation="utf8mb4_bin",
)
ERRORS = TableSpec(
    ERRORS_TABLE,
    (
        *_KEY_COLUMNS,
        ("code", f"VARCHAR({CODE_LENGTH}) NOT NULL"),
        ("path", f"VARCHAR({PATH_LENGTH}) NOT NULL DEFAULT ''"),
        ("count", "BIGINT NOT NULL DEFAULT 0"),
        # The first message and raw event of the hour, NOT redacted: redact before showing.
        ("message", "TEXT NULL"),
        ("example", "TEXT NULL"),
    ),
    unique=Index(f"ux_{ERRORS_TABLE}", _ERROR_GROUP),
    collation="utf8mb4_bin",
)


def period_of(when: datetime.datetime | float) -> str:
    """The hour row a moment is counted in: ``'YYYY-MM-DDTHH:00:00Z'`` (UTC).

    ``when`` is an aware datetime or a POSIX timestamp; a naive datetime is taken as UTC.
    """
    if not isinstance(when, datetime.datetime):
        when = datetime.datetime.fromtimestamp(when, datetime.UTC)
    elif when.tzinfo is not None:
        when = when.astimezone(datetime.UTC)
    return when.strftime("%Y-%m-%dT%H:00:00Z")


def counts_tables_sql(dialect: Dialect) -> list[str]:
    """``CREATE TABLE IF NOT EXISTS`` statements for both tables, for one engine."""
    return [sql for table in (COUNTS, ERRORS) for sql in dialect.create_table(table)]


def create_counts_tables(store: Store) -> None:
    """Create both tables in ``store`` when missing, and add the measures a table made by an
    older version lacks (``duplicate``), so old databases keep working (idempotent)."""
    for table in (COUNTS, ERRORS):
        store.create(table)
    for measure in _missing_measures(store):
        try:
            store.execute(store.dialect.add_column(COUNTS_TABLE, measure, _MEASURE_TYPE))
        except StoreError:  # another forwarder, starting at the same moment, added it
            if measure in _missing_measures(store):
                raise


def _missing_measures(store: Store) -> list[str]:
    have = {column.name.lower() for column in store.columns(COUNTS_TABLE)}
    return [measure for measure in MEASURES if measure not in have]


# --- the forwarders' writes ------------------------------------------------------------------


class HourCounts(NamedTuple):
    """What one forwarder instance adds to a schema's counts of one hour."""

    period: str  # period_of() the moment counted
    instance: str
    schema: str  # NO_SCHEMA for lines no schema was named for
    added: Measures


class HourErrors(NamedTuple):
    """What one forwarder instance adds to an error group of one hour."""

    period: str
    instance: str
    schema: str
    code: str
    path: str  # "" when the error has none; at most PATH_LENGTH characters
    added: int  # events
    message: str  # kept only by the first write of the hour row (not redacted)
    example: str


def add_counts(store: Store, counts: Iterable[HourCounts], errors: Iterable[HourErrors]) -> None:
    """Add to the hour rows in one transaction: all of it takes effect or none does, so a
    failed write can simply be retried.  The tables must exist (create_counts_tables)."""
    statements = [
        (sql, row) for sql, rows in count_statements(store.dialect, counts, errors) for row in rows
    ]
    if statements:
        store.execute_all(statements)


def count_statements(
    dialect: Dialect, counts: Iterable[HourCounts], errors: Iterable[HourErrors]
) -> list[tuple[str, list[Params]]]:
    """The additive upserts of hour rows, as (statement, parameter rows): for the forwarder
    to run in the transaction of the batch they count (``Store.insert``'s bookkeeping)."""
    add_count = dialect.upsert(COUNTS_TABLE, _WHERE, MEASURES)
    add_error = dialect.upsert(ERRORS_TABLE, _ERROR_GROUP, ("count",), ("message", "example"))
    statements: list[tuple[str, list[Params]]] = []
    count_rows: list[Params] = [(c.period, c.instance, c.schema, *c.added) for c in counts]
    if count_rows:
        statements.append((add_count, count_rows))
    error_rows: list[Params] = [tuple(e) for e in errors]
    if error_rows:
        statements.append((add_error, error_rows))
    return statements


# --- the report's reads ----------------------------------------------------------------------


class DailyCounts(NamedTuple):
    day: str  # 'YYYY-MM-DD' (UTC)
    schema: str
    sums: Measures  # over every instance and hour of the day


class ErrorGroup(NamedTuple):
    """One day's errors of a schema with the same code and JSON path, over all instances."""

    schema: str
    code: str
    path: str
    events: int
    first_period: str  # the earliest hour row: the one whose example is shown


class ErrorKey(NamedTuple):
    schema: str
    code: str
    path: str


class FirstExample(NamedTuple):
    message: str
    example: str | None  # the raw event, NOT redacted


def daily_counts(store: Store, first: datetime.date, last: datetime.date) -> list[DailyCounts]:
    """Sums per UTC day and schema of the hour rows from ``first`` to ``last``, inclusive."""
    q, mark = store.dialect.quote, store.dialect.mark
    day = f"substr({q('period')}, 1, 10)"
    missing = set(_missing_measures(store))  # a table no forwarder of this version wrote yet
    sums = ", ".join("0" if m in missing else f"SUM({q(m)})" for m in MEASURES)
    rows = store.query(
        f"SELECT {day}, {q('schema_name')}, {sums} FROM {q(COUNTS_TABLE)} "
        f"WHERE {q('period')} >= {mark} AND {q('period')} < {mark} "
        f"GROUP BY {day}, {q('schema_name')}",
        (first.isoformat(), (last + datetime.timedelta(days=1)).isoformat()),
    )
    return [
        DailyCounts(as_text(when), as_text(name), Measures._make([int(v or 0) for v in values]))
        for when, name, *values in rows
    ]


def day_error_groups(store: Store, day: datetime.date) -> list[ErrorGroup]:
    """Every error group of one UTC day, summed over instances and hours."""
    q, mark = store.dialect.quote, store.dialect.mark
    rows = store.query(
        f"SELECT {q('schema_name')}, {q('code')}, {q('path')}, SUM({q('count')}), "
        f"MIN({q('period')}) FROM {q(ERRORS_TABLE)} "
        f"WHERE {q('period')} >= {mark} AND {q('period')} < {mark} "
        f"GROUP BY {q('schema_name')}, {q('code')}, {q('path')}",
        (day.isoformat(), (day + datetime.timedelta(days=1)).isoformat()),
    )
    return [
        ErrorGroup(as_text(name), as_text(code), as_text(path), int(count or 0), as_text(first))
        for name, code, path, count, first in rows
    ]


def first_examples(store: Store, groups: Sequence[ErrorGroup]) -> dict[ErrorKey, FirstExample]:
    """Message and raw example of the first row of each group (by hour, then id).

    Fetched only for the groups asked for, in chunks of OR-ed equalities that both engines
    answer from the unique index, because examples are the one large column of the tables.
    """
    q, mark = store.dialect.quote, store.dialect.mark
    term = (
        f"({q('period')} = {mark} AND {q('schema_name')} = {mark} AND {q('code')} = {mark} "
        f"AND {q('path')} = {mark})"
    )
    out: dict[ErrorKey, FirstExample] = {}
    for start in range(0, len(groups), FIRSTS_PER_QUERY):
        part = groups[start : start + FIRSTS_PER_QUERY]
        rows = store.query(
            f"SELECT {q('schema_name')}, {q('code')}, {q('path')}, {q('message')}, "
            f"{q('example')} FROM {q(ERRORS_TABLE)} WHERE "
            + " OR ".join([term] * len(part))
            + f" ORDER BY {q('id')}",
            [value for g in part for value in (g.first_period, g.schema, g.code, g.path)],
        )
        for name, code, path, message, example in rows:
            key = ErrorKey(as_text(name), as_text(code), as_text(path))
            if key not in out:
                full = None if example is None else as_text(example)
                out[key] = FirstExample(as_text(message), full)
    return out


def as_text(value: object) -> str:
    """A text column's value as str: "" for NULL, bytes decoded (binary collations)."""
    return column_text(value) or ""


# --- the opt-out purge -----------------------------------------------------------------------


class StoredExample(NamedTuple):
    key: int  # the row's id
    schema: str
    example: str


def scan_examples(store: Store, after: int, limit: int) -> list[StoredExample]:
    """The next ``limit`` error rows after id ``after`` that keep an example, in id order;
    none when the table does not exist (no forwarder wrote counts here)."""
    if not store.table_exists(ERRORS_TABLE):
        return []
    q, mark = store.dialect.quote, store.dialect.mark
    rows = store.query(
        f"SELECT {q('id')}, {q('schema_name')}, {q('example')} FROM {q(ERRORS_TABLE)} "
        f"WHERE {q('id')} > {mark} AND {q('example')} IS NOT NULL ORDER BY {q('id')} LIMIT {mark}",
        (after, limit),
    )
    return [StoredExample(int(key), as_text(name), as_text(text)) for key, name, text in rows]


def old_example_keys(store: Store, before: datetime.datetime, after: int, limit: int) -> list[int]:
    """Ids, after ``after`` in id order, of the next ``limit`` error rows that keep an example
    and whose hour began before ``before`` (aware); none when the table does not exist."""
    if not store.table_exists(ERRORS_TABLE):
        return []
    q, mark = store.dialect.quote, store.dialect.mark
    rows = store.query(
        f"SELECT {q('id')} FROM {q(ERRORS_TABLE)} WHERE {q('id')} > {mark} "
        f"AND {q('period')} < {mark} AND {q('example')} IS NOT NULL "
        f"ORDER BY {q('id')} LIMIT {mark}",
        (after, _moment_text(before), limit),
    )
    return [int(key) for (key,) in rows]


def _moment_text(when: datetime.datetime) -> str:
    """A moment in the periods' format to the second, so that string order is time order."""
    return when.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def clear_examples(store: Store, keys: Sequence[int], message: str) -> int:
    """Drop the example of these error rows and put ``message`` in place of theirs (it may
    quote the example's values); the counts stay.  One transaction; returns rows changed."""
    q, dialect = store.dialect.quote, store.dialect
    statements: list[tuple[str, Params]] = []
    for start in range(0, len(keys), IN_LIMIT):
        chunk = keys[start : start + IN_LIMIT]
        sql = (
            f"UPDATE {q(ERRORS_TABLE)} SET {q('example')} = NULL, {q('message')} = "
            f"{dialect.mark} WHERE {q('id')} IN ({dialect.marks(len(chunk))})"
        )
        statements.append((sql, (message, *chunk)))
    return sum(store.execute_all(statements)) if statements else 0
