"""The MariaDB ceiling: ``LOAD DATA LOCAL INFILE`` of the rows a forwarder would store.

The same valid events, turned into rows by the store's own ``TableLayout`` (the forwarder's
table, with its unique uuid key and timestamp index), written once as a tab-separated file;
only the server's bulk load and its commit are timed, into an emptied table each run.  This is
what MariaDB accepts when nothing but the rows crosses the wire: the ``forward`` figure is
stated as a share of it.  Bare SQL here is a yardstick beside the product (as in
``retention_data.py``), not product code, which keeps all its SQL in ``el_monitor.store``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from bench_stores import connect
from measure import Run, best_of

from el_monitor.event.capsule import CapsuleError
from el_monitor.event.formats import ParseError, make_parser
from el_monitor.schema.registry import SchemaRegistry
from el_monitor.store import open_store
from el_monitor.store.mapping import Row, TableLayout

SQL_MODE = "STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION"  # as the MySQL store sets it
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0"})


class Loaded(NamedTuple):
    """Rows per table, written as LOAD DATA files."""

    files: list[tuple[TableLayout, Path, int]]  # (table, TSV file, rows in it)

    @property
    def rows(self) -> int:
        return sum(count for _, _, count in self.files)


def valid_capsules(lines: Sequence[bytes], registry: SchemaRegistry) -> dict[tuple, list[dict]]:
    """The capsules of the valid JSON lines, by (schema, revision), as the forwarder parses."""
    parse = make_parser("json", "bench")
    out: dict[tuple, list[dict]] = {}
    for line in lines:
        try:
            capsule = parse(line, None)
        except (ParseError, CapsuleError):
            continue
        key = (capsule["schema"], capsule["revision"])
        compiled = registry.get(*key)
        if compiled is not None and compiled.validate(capsule["event"]) is None:
            out.setdefault(key, []).append(capsule)
    return out


def tsv_value(value: Any) -> str:
    """A value as LOAD DATA's default format reads it (tab-separated, backslash escapes)."""
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "1" if value else "0"
    if isinstance(value, str):
        return value.translate(_ESCAPES)
    return repr(value) if isinstance(value, float) else str(value)


def write_rows(url: str, lines: Sequence[bytes], registry: SchemaRegistry, tmp: Path) -> Loaded:
    """Create the forwarder's tables in the database ``url`` and write their rows to files."""
    store = open_store(url)
    files = []
    try:
        for (schema, revision), capsules in sorted(valid_capsules(lines, registry).items()):
            compiled = registry.get(schema, revision)
            assert compiled is not None
            layout = store.layout(schema, revision, compiled.schema)
            rows: list[Row] = [layout.row(capsule) for capsule in capsules]
            path = tmp / f"load-{layout.name}.tsv"
            empty = layout.empty  # NULL, as the store's rows hold it
            text = "".join(
                "\t".join([tsv_value(None if v is empty else v) for v in row]) + "\n"
                for row in rows
            )
            path.write_bytes(text.encode("utf-8"))
            files.append((layout, path, len(rows)))
    finally:
        store.close()
    return Loaded(files)


def load_once(url: str, loaded: Loaded) -> Run:
    """Empty the tables, then time LOAD DATA of every file and the commit: rows/s."""
    database = urlsplit(url).path.lstrip("/")
    conn = connect(url, database=database, charset="utf8mb4", local_infile=True, autocommit=False)
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"SET SESSION sql_mode = '{SQL_MODE}'")
            for layout, _, _ in loaded.files:
                cursor.execute(f"TRUNCATE TABLE `{layout.name}`")
            conn.commit()
            start = time.perf_counter()
            done = warned = 0
            for layout, path, _ in loaded.files:
                columns = ", ".join(f"`{name}`" for name in layout.column_names)
                done += cursor.execute(
                    f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE `{layout.name}` "
                    f"CHARACTER SET utf8mb4 ({columns})"
                )
                cursor.execute("SHOW COUNT(*) WARNINGS")  # a value not taken as written
                warned += cursor.fetchone()[0]
            conn.commit()
            seconds = time.perf_counter() - start
    finally:
        conn.close()
    problem = "" if done == loaded.rows else f"{done:,} rows loaded of {loaded.rows:,}"
    problem = problem or (f"{warned:,} warnings: values not loaded as written" if warned else "")
    return Run(loaded.rows / seconds, problem)


def ceiling(url: str, lines: Sequence[bytes], registry: SchemaRegistry, tmp: Path) -> Run:
    """The best of a few LOAD DATA runs of the valid rows of ``lines`` into ``url``."""
    loaded = write_rows(url, lines, registry, tmp)
    try:
        return best_of(lambda: load_once(url, loaded))
    finally:
        for _, path, _ in loaded.files:
            path.unlink(missing_ok=True)
