"""Retention's rollups: the issue's NavigationTiming rule (per day and wiki, count and
p50/p75/p95 of 19 timing fields) over one day of seeded rows in MariaDB, in seconds per
million rows, against a plain ``COUNT(*)`` of the same table measured in the same run.

Alone (``make bench`` runs it among the others):

    EL_TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/test .venv/bin/python \
        benchmarks/bench_rollups.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import tempfile
import time

import corpus_events
from bench_stores import DEFAULT_MYSQL_URL, scratch_database
from measure import log
from private_mariadb import production_server
from results import Figure, Planned, Reference, at_most, table

from el_monitor.catalog.load import load_catalog
from el_monitor.catalog.model import Aggregate, SchemaPolicy
from el_monitor.retention.aggregate import QUANTILES, percentile, roll_up
from el_monitor.schema.registry import SchemaRegistry, open_registry
from el_monitor.store import Store, open_store
from el_monitor.store.catalogue import table_stats
from el_monitor.store.mapping import field_column
from el_monitor.store.rollups import RollupTable, read_rollup, rollup_table

ROLLUP = Planned("rollup: 1 day of NavigationTiming, 19 fields", "s/1M rows", at_most(5, "s"))
EXAMPLE_CATALOG = corpus_events.ROOT / "examples" / "el-monitor.toml"
DAY = datetime.datetime(2026, 1, 15, tzinfo=datetime.UTC)
WIKIS = 300
POOL = 1 << 16  # distinct timing tuples drawn from (log-normal, as page loads are)
BATCH = 20_000  # rows per insert


def rollup(registry: SchemaRegistry, url: str | None, rows: int, seed: int = 1) -> Figure:
    if url is None:
        return ROLLUP.not_measured("skipped (--no-mysql)")
    try:
        open_store(url).close()
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server: not measured
        return ROLLUP.not_measured(f"not measured: {exc}")
    [rule] = [
        rule
        for rule in load_catalog(EXAMPLE_CATALOG, registry).policy("NavigationTiming").aggregate
        if rule.name == "daily_timing"
    ]
    policy = SchemaPolicy("NavigationTiming", aggregate=(rule,))
    with scratch_database(url) as scratch:
        store = open_store(scratch)
        try:
            log(f"rollup: seeding {rows:,} NavigationTiming rows in one day ...")
            check = _seed(store, registry, rule.percentiles, rows, seed)
            start = time.perf_counter()
            table_stats(store, "NavigationTiming_1_7_0")
            floor = time.perf_counter() - start
            best, problem = float("inf"), ""
            for _ in range(2):
                log("rollup: daily_timing ...")
                start = time.perf_counter()
                [result] = roll_up(store, policy, DAY + datetime.timedelta(days=1), since=DAY)
                best = min(best, time.perf_counter() - start)
                problem = problem or _wrong(store, result.events, rows, check, rule)
        finally:
            store.close()
    scale = 1_000_000 / rows
    reference = Reference("COUNT(*) of the table", floor * scale)
    return ROLLUP.measured(best * scale, f"best of 2, {rows:,} rows", reference, problem)


def _seed(
    store: Store, registry: SchemaRegistry, fields: tuple[str, ...], rows: int, seed: int
) -> tuple[str, list[float]]:
    """``rows`` events spread over DAY, built straight in the table's column order from a
    pool of value rows (the forwarder's per-event work is not what is measured here), stored
    by the store's multi-row INSERTs; returns the busiest wiki's first field's values."""
    rng = random.Random(seed)
    schema = registry.get("NavigationTiming", "1.7.0")
    assert schema is not None
    layout = store.layout("NavigationTiming", "1.7.0", schema.schema)
    at = {name: i for i, name in enumerate(layout.column_names)}
    template: list[object] = [None] * len(layout.column_names)
    template[at["event_isAnon"]], template[at["event_skin"]] = True, "vector-2022"
    template[at["userAgent"]] = "Mozilla/5.0 (X11; Linux x86_64) Firefox/121.0"
    pool = []
    for _ in range(POOL):
        row = list(template)
        for field in fields:
            if rng.random() < 0.97:
                row[at[f"event_{field}"]] = int(rng.lognormvariate(6.5, 0.8))
        pool.append(row)
    wikis = [f"wiki{int(WIKIS * rng.random() ** 3)}" for _ in range(4096)]
    uuid, stamp, wiki_at, token = at["uuid"], at["timestamp"], at["wiki"], at["event_pageviewToken"]
    first = at[f"event_{fields[0]}"]
    checked: list[float] = []
    batch = []
    for i in range(rows):
        row = pool[rng.getrandbits(16)].copy()
        second = DAY + datetime.timedelta(seconds=i * 86400 // rows)
        row[uuid], row[stamp] = f"{i:032x}", second.strftime("%Y%m%d%H%M%S")
        row[wiki_at], row[token] = wikis[i & 4095], f"{rng.getrandbits(80):020x}"
        if row[wiki_at] == "wiki0" and row[first] is not None:
            checked.append(float(row[first]))  # type: ignore[arg-type]
        batch.append(row)
        if len(batch) == BATCH:
            store.insert({layout: batch})  # type: ignore[dict-item]
            batch = []
    if batch:
        store.insert({layout: batch})  # type: ignore[dict-item]
    return fields[0], checked


def _wrong(
    store: Store, events: int, rows: int, check: tuple[str, list[float]], rule: Aggregate
) -> str:
    """What is wrong with the rollup: the events it read, wiki0's first field's p50."""
    if events != rows:
        return f"read {events:,} rows of {rows:,}"
    field, values = check
    values.sort()
    want = percentile(values, list(range(1, len(values) + 1)), QUANTILES[0])
    table = RollupTable(
        rollup_table("NavigationTiming", rule.name),
        (("wiki", "varchar"),),
        tuple(field_column(f) for f in rule.percentiles),
    )
    at = table.columns().index(f"{field_column(field)}_p50")
    found = [row[at] for row in read_rollup(store, table) if row[1] == "wiki0"]
    return "" if found == [want] else f"wiki0 {field} p50 {found} != {want}"


def main() -> None:
    parser = argparse.ArgumentParser(description="the rollup figure alone")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    shared = os.environ.get("EL_TEST_MYSQL_URL", DEFAULT_MYSQL_URL)
    with (
        tempfile.TemporaryDirectory(prefix="el-bench-") as tmp,
        production_server(shared) as (
            url,
            _,
        ),
    ):
        registry = open_registry(str(corpus_events.SCHEMAS), f"{tmp}/schema-cache")
        print(table([rollup(registry, url, args.rows, args.seed)]))


if __name__ == "__main__":
    main()
