"""The two tables where forwarders persist their counters, and their one DDL.

Graphite keeps rates, but its retention and aggregation make it a poor source for "how many
events of schema X were valid yesterday"; the daily report needs exact sums.  So every
forwarder instance adds its counts into one row per UTC hour, instance and schema, and its
validation errors into one row per hour, instance, schema, code and JSON path.  The report sums
them by day in SQL.  Both the forwarder (writer) and the report (reader) take the table and
column names from here, so this module is the single source of the layout.

Text columns use a binary collation on MySQL: schema names are case-sensitive (``Edit`` and
``edit`` are different schemas, as they are to SQLite), and a case-insensitive unique key would
merge their rows.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

from el_monitor.store import Store

__all__ = [
    "COUNTS_TABLE",
    "ERRORS_TABLE",
    "MEASURES",
    "NO_SCHEMA",
    "PATH_LENGTH",
    "counts_tables_sql",
    "create_counts_tables",
    "is_mysql",
    "period_of",
]

COUNTS_TABLE = "el_monitor_counts"
ERRORS_TABLE = "el_monitor_errors"
# The counters' measures, in the column order of COUNTS_TABLE (same names as counters.MEASURES).
MEASURES = ("raw", "valid", "invalid", "sampled_out", "opted_out", "inserted", "spooled")
# schema_name of lines for which no schema could be named (unparseable, no schema field).
NO_SCHEMA = "-"
# Longest JSON path stored; a writer cuts longer ones (they stay distinct enough to group).
PATH_LENGTH = 191
CODE_LENGTH = 20
NAME_LENGTH = 63  # instance and schema names: EventLogging's schema-name limit
PERIOD_LENGTH = 20  # 'YYYY-MM-DDTHH:00:00Z'


def is_mysql(store: Store) -> bool:
    """Whether ``store`` speaks MySQL (``%s`` parameters) rather than SQLite (``?``)."""
    return store.placeholder == "%s"


def period_of(when: datetime.datetime | float) -> str:
    """The hour row a moment is counted in: ``'YYYY-MM-DDTHH:00:00Z'`` (UTC).

    ``when`` is an aware datetime or a POSIX timestamp; a naive datetime is taken as UTC.
    """
    if not isinstance(when, datetime.datetime):
        when = datetime.datetime.fromtimestamp(when, datetime.UTC)
    elif when.tzinfo is not None:
        when = when.astimezone(datetime.UTC)
    return when.strftime("%Y-%m-%dT%H:00:00Z")


def counts_tables_sql(quote: Callable[[str], str], mysql: bool) -> list[str]:
    """``CREATE TABLE IF NOT EXISTS`` statements for both tables, for one engine."""
    key = "BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY" if mysql else "INTEGER PRIMARY KEY"
    suffix = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin" if mysql else ""
    unique = "UNIQUE KEY {name} ({columns})" if mysql else "UNIQUE ({columns})"

    def columns(*names: str) -> str:
        return ", ".join(map(quote, names))

    where = [
        f"{quote('period')} VARCHAR({PERIOD_LENGTH}) NOT NULL",
        f"{quote('instance')} VARCHAR({NAME_LENGTH}) NOT NULL",
        f"{quote('schema_name')} VARCHAR({NAME_LENGTH}) NOT NULL",
    ]
    counts = [
        f"{quote('id')} {key}",
        *where,
        *(f"{quote(measure)} BIGINT NOT NULL DEFAULT 0" for measure in MEASURES),
        unique.format(
            name=quote(f"ux_{COUNTS_TABLE}"),
            columns=columns("period", "instance", "schema_name"),
        ),
    ]
    errors = [
        f"{quote('id')} {key}",
        *where,
        f"{quote('code')} VARCHAR({CODE_LENGTH}) NOT NULL",
        f"{quote('path')} VARCHAR({PATH_LENGTH}) NOT NULL DEFAULT ''",
        f"{quote('count')} BIGINT NOT NULL DEFAULT 0",
        # The first message and raw event of the hour, NOT redacted: redact before showing.
        f"{quote('message')} TEXT NULL",
        f"{quote('example')} TEXT NULL",
        unique.format(
            name=quote(f"ux_{ERRORS_TABLE}"),
            columns=columns("period", "instance", "schema_name", "code", "path"),
        ),
    ]
    return [
        f"CREATE TABLE IF NOT EXISTS {quote(table)} (\n  " + ",\n  ".join(lines) + f"\n){suffix}"
        for table, lines in ((COUNTS_TABLE, counts), (ERRORS_TABLE, errors))
    ]


def create_counts_tables(store: Store) -> None:
    """Create both tables in ``store`` when missing (idempotent)."""
    for statement in counts_tables_sql(store.quote, is_mysql(store)):
        store.execute(statement)
