"""Rollup tables: the aggregates of a catalog ``aggregate`` rule, kept after raw rows go.

One table per schema and rule (``rollup_table``), one row per period and group of dimension
values: ``period_start`` (``YYYYMMDDHHMMSS``, the events' own timestamp format), the dimension
columns under their event-table names (``wiki``, ``event_isSelfMade``), ``events`` (rows in the
group) and, per measured column, ``<column>_count`` (non-NULL values) and ``_p50 _p75 _p95``.

Reading the event rows is ``rollup_scan``'s.  Writing replaces whole periods: their rows are
deleted and the new ones inserted in one transaction, so recomputing a period is idempotent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from el_monitor.store.base import Params, Store
from el_monitor.store.dialect import IN_LIMIT, Index, TableSpec
from el_monitor.store.mapping import (
    BIGINT,
    BOOLEAN,
    DOUBLE,
    IDENTIFIER,
    SQL_TYPES,
    TEXT,
    VARCHAR,
    StoreError,
    fitted_identifier,
)

__all__ = [
    "EVENTS_COLUMN",
    "PERIOD_CHARS",
    "PERIOD_COLUMN",
    "STATISTICS",
    "RollupRow",
    "RollupTable",
    "column_kind",
    "measure_columns",
    "prepare",
    "read_rollup",
    "replace_periods",
    "rollup_table",
]

PERIOD_COLUMN = "period_start"
EVENTS_COLUMN = "events"
STATISTICS = ("count", "p50", "p75", "p95")  # per measured column, in this order
# How many leading characters of a YYYYMMDDHHMMSS timestamp name its period.
PERIOD_CHARS = {"hour": 10, "day": 8, "month": 6}
_PREFIX = "rollup_"


def rollup_table(schema: str, rule: str) -> str:
    """The table of a schema's rule: ``rollup_<schema>_<rule>``; a name longer than an
    identifier may be is cut and ends in a hash of both, so it stays unique."""
    return fitted_identifier(f"{_PREFIX}{schema.replace('-', '_')}_{rule}", f"{schema}\0{rule}")


def measure_columns(column: str) -> tuple[str, ...]:
    """The rollup columns of one measured event column, in ``STATISTICS`` order."""
    names = tuple(f"{column}_{statistic}" for statistic in STATISTICS)
    for name in names:
        if not IDENTIFIER.fullmatch(name):
            raise StoreError(f"rollup column {name!r} would be longer than 64 characters")
    return names


def column_kind(sql_type: str) -> str:
    """The logical kind (mapping's BIGINT … TEXT) of a column as either engine reports it."""
    word = sql_type.lower().split("(")[0].strip()
    if word in ("bigint", "int", "integer", "smallint", "mediumint"):
        return BIGINT
    if word in ("double", "float", "real", "decimal"):
        return DOUBLE
    if word in ("boolean", "bool", "tinyint"):
        return BOOLEAN
    return VARCHAR if word in ("varchar", "char") else TEXT


class RollupTable(NamedTuple):
    """What a rule's table holds: dimension columns with their kinds, measured columns."""

    name: str
    dimensions: tuple[tuple[str, str], ...]  # (column, kind)
    measured: tuple[str, ...]

    def spec(self) -> TableSpec:
        numbers = [
            (name, "BIGINT NOT NULL DEFAULT 0" if name.endswith("_count") else "DOUBLE NULL")
            for column in self.measured
            for name in measure_columns(column)
        ]
        return TableSpec(
            self.name,
            (
                (PERIOD_COLUMN, "VARCHAR(14) NOT NULL"),
                *((column, f"{SQL_TYPES[kind]} NULL") for column, kind in self.dimensions),
                (EVENTS_COLUMN, "BIGINT NOT NULL DEFAULT 0"),
                *numbers,
            ),
            indexes=(Index(fitted_identifier(f"ix_{self.name}", self.name), (PERIOD_COLUMN,)),),
            collation="utf8mb4_bin",  # groups differ by case as they do in Python
        )

    def columns(self) -> tuple[str, ...]:
        """Every column a row gives, in ``RollupRow`` order."""
        measured = (name for column in self.measured for name in measure_columns(column))
        return (PERIOD_COLUMN, *(c for c, _ in self.dimensions), EVENTS_COLUMN, *measured)


class RollupRow(NamedTuple):
    period_start: str
    dimensions: tuple[Any, ...]
    events: int
    measures: tuple[Any, ...]  # per measured column: count, p50, p75, p95


def prepare(store: Store, table: RollupTable) -> None:
    """Create the rule's table when missing, and add the columns a changed rule needs."""
    store.create(table.spec())
    have = {column.name.lower() for column in store.columns(table.name)}
    for column, kind in table.spec().columns:
        if column.lower() not in have:
            store.execute(store.dialect.add_column(table.name, column, kind))


def replace_periods(
    store: Store, table: RollupTable, periods: Sequence[str], rows: Sequence[RollupRow]
) -> None:
    """In one transaction: delete the rows of ``periods``, insert ``rows`` (theirs)."""
    dialect = store.dialect
    q = dialect.quote
    statements: list[tuple[str, Params]] = []
    for at in range(0, len(periods), IN_LIMIT):
        chunk = list(periods[at : at + IN_LIMIT])
        statements.append(
            (
                f"DELETE FROM {q(table.name)} WHERE {q(PERIOD_COLUMN)} "
                f"IN ({dialect.marks(len(chunk))})",
                chunk,
            )
        )
    columns = table.columns()
    per_statement = max(1, IN_LIMIT // len(columns))
    row_marks = f"({dialect.marks(len(columns))})"
    for at in range(0, len(rows), per_statement):
        chunk_rows = rows[at : at + per_statement]
        values: list[object] = []
        for row in chunk_rows:
            values += [row.period_start, *row.dimensions, row.events, *row.measures]
        statements.append(
            (
                f"INSERT INTO {q(table.name)} ({dialect.names(columns)}) VALUES "
                + ", ".join([row_marks] * len(chunk_rows)),
                values,
            )
        )
    if statements:
        store.execute_all(statements)


def read_rollup(store: Store, table: RollupTable) -> list[tuple[Any, ...]]:
    """Every row of a rule's table, in ``RollupTable.columns`` order (for reports, tests)."""
    q = store.dialect.quote
    return store.query(f"SELECT {store.dialect.names(table.columns())} FROM {q(table.name)}")
