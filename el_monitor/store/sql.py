"""DDL shared by both engines: the same logical layout, quoted per dialect."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from el_monitor.store.mapping import SQL_TYPES, Column


def create_table_sql(
    name: str, columns: Sequence[Column], quote: Callable[[str], str], mysql: bool
) -> list[str]:
    """CREATE TABLE (and, for SQLite, CREATE INDEX) statements for one schema revision."""
    q = quote(name)
    lines = [
        f"{quote('id')} BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY"
        if mysql
        else f"{quote('id')} INTEGER PRIMARY KEY"  # the rowid: increments without a sequence table
    ]
    for column in columns:
        if column.kind == "uuid":
            sql_type = "CHAR(32)"
        elif column.kind == "timestamp":
            sql_type = "VARCHAR(14)"
        else:
            sql_type = SQL_TYPES[column.kind]
        lines.append(f"{quote(column.name)} {sql_type} NULL")
    lines.append(
        f"UNIQUE {'KEY ' + quote('ix_' + name + '_uuid') if mysql else ''} ({quote('uuid')})"
    )
    if mysql:
        lines.append(f"KEY {quote('ix_' + name + '_timestamp')} ({quote('timestamp')})")
    body = ",\n  ".join(lines)
    suffix = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci" if mysql else ""
    statements = [f"CREATE TABLE IF NOT EXISTS {q} (\n  {body}\n){suffix}"]
    if not mysql:
        index = quote("ix_" + name + "_timestamp")
        statements.append(f"CREATE INDEX IF NOT EXISTS {index} ON {q} ({quote('timestamp')})")
    return statements


def quote_mysql(identifier: str) -> str:
    return "`" + identifier.replace("`", "``") + "`"


def quote_sqlite(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


SAMPLING_TABLE = "el_monitor_sampling"


def sampling_table_sql(quote: Callable[[str], str], mysql: bool) -> str:
    """History of the sample rate in force per schema revision, so counts can be scaled."""
    key = "BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY" if mysql else "INTEGER PRIMARY KEY"
    suffix = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4" if mysql else ""
    return (
        f"CREATE TABLE IF NOT EXISTS {quote(SAMPLING_TABLE)} ("
        f"{quote('id')} {key}, {quote('schema_name')} VARCHAR(63) NOT NULL, "
        f"{quote('revision')} VARCHAR(63) NOT NULL, {quote('sample_rate')} INTEGER NOT NULL, "
        f"{quote('since')} VARCHAR(20) NOT NULL){suffix}"
    )
