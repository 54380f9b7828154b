"""The rows retention's figures work on: realistic events of two schemas, a catalog that
purges one and sanitizes the other, rows seeded over 200 days, and the bare-SQL ceilings.

SearchSatisfaction (no ``keep``: purged) is varied from its published example by the corpus's
generator; NavigationTiming's published example holds only ``isAnon``, so its bodies are
built here as real page loads report them (log-normal timings, a fresh pageviewToken).  Rows
are built by the store's own ``TableLayout.row`` from capsules, exactly as the forwarder would
store them, and written by its multi-row INSERTs, oldest first (ids follow time, as live
traffic's do).
"""

from __future__ import annotations

import datetime
import random
import time
from collections.abc import Iterator
from pathlib import Path

import corpus_events
import orjson

from el_monitor.schema.registry import SchemaRegistry
from el_monitor.store import Store

PURGED = ("SearchSatisfaction", "1.5.0")
SANITIZED = ("NavigationTiming", "1.7.0")
PURGED_TABLE, SANITIZED_TABLE = "SearchSatisfaction_1_5_0", "NavigationTiming_1_7_0"
DAYS, RETENTION_DAYS = 200, 90
KEEP = ("isAnon", "mobileMode", "originCountry", "skin", "responseStart", "loadEventEnd")
HASH = ("pageviewToken",)
CATALOG = f"""
[defaults]
retention_days = {RETENTION_DAYS}

[schema.NavigationTiming]
keep = {list(KEEP)!r}
hash = {list(HASH)!r}
"""
# Always kept by a sanitizing run (policy.ALWAYS_KEPT and the marker), as the ceiling's too.
ALWAYS_KEPT = ("id", "uuid", "timestamp", "wiki", "el_retention")
TIMINGS = (
    "connectEnd", "connectStart", "dnsLookup", "domComplete", "domInteractive", "fetchStart",
    "firstContentfulPaint", "firstPaint", "gaps", "largestContentfulPaint", "loadEventEnd",
    "loadEventStart", "mediaWikiLoadEnd", "redirecting", "requestStart", "responseEnd",
    "responseStart", "secureConnectionStart", "unload",
)  # fmt: skip
WIKIS = ("enwiki", "dewiki", "frwiki", "jawiki", "eswiki", "ruwiki", "commonswiki", "itwiki")
COUNTRIES = ("US", "DE", "GB", "FR", "JP", "IN", "BR", "RU", "ES", "IT", "NL", "PL")
INSERT_ROWS = 10_000  # rows per store.insert while seeding


def catalog_file(directory: Path) -> Path:
    path = directory / "retention-bench.toml"
    path.write_text(CATALOG)
    return path


class Events:
    """Event bodies of both schemas, drawn from pools so a million cost little to make."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        [model] = [m for m in corpus_events.load_models() if m.name == PURGED[0]]
        self.search = [corpus_events.event_body(model, self.rng) for _ in range(256)]
        self.timing = [self._page_load() for _ in range(4096)]

    def _page_load(self) -> dict:
        rng = self.rng
        event: dict = {
            "action": "view",
            "isAnon": rng.random() < 0.8,
            "skin": rng.choice(("vector-2022", "vector", "minerva", "timeless")),
            "originCountry": rng.choice(COUNTRIES),
            "mediaWikiVersion": "1.42.0-wmf.5",
            "namespaceId": rng.choice((0, 0, 0, 1, 2, 4)),
            "revId": rng.randrange(1, 1_200_000_000),
            "transferSize": rng.randrange(300, 90_000),
            "netinfoEffectiveConnectionType": rng.choice(("4g", "3g")),
            "netinfoRtt": rng.choice((50, 100, 150, 300)),
            "deviceMemory": rng.choice((2, 4, 8)),
            "hardwareConcurrency": rng.choice((2, 4, 8, 12)),
            "cacheHost": f"cp{rng.randrange(3050, 3070)}.esams.wmnet",
            "cacheResponseType": rng.choice(("hit-front", "hit-local", "miss")),
        }
        if rng.random() < 0.3:
            event["mobileMode"] = "stable"
        for field in TIMINGS:
            if rng.random() < 0.97:
                event[field] = int(rng.lognormvariate(6.5, 0.8))
        return event

    def body(self, schema: str) -> dict:
        """A new body: a pooled one with this event's own tokens (tokens never repeat)."""
        rng = self.rng
        if schema == SANITIZED[0]:
            event = dict(self.timing[rng.getrandbits(12)])
            event["pageviewToken"] = f"{rng.getrandbits(80):020x}"
            return event
        event = dict(self.search[rng.getrandbits(8)])
        event["searchToken"] = f"{rng.getrandbits(100):025x}"
        event["pageViewId"] = f"{rng.getrandbits(112):028x}"
        return event

    def capsule(self, schema: str, revision: str, second: int) -> dict:
        rng = self.rng
        wiki = WIKIS[int(len(WIKIS) * rng.random() ** 2)]
        return {
            "schema": schema,
            "revision": revision,
            "uuid": f"{rng.getrandbits(128):032x}",
            "timestamp": second,
            "wiki": wiki,
            "webHost": f"{wiki[:2]}.wikipedia.org",
            "userAgent": '{"browser_family":"Firefox","os_family":"Linux"}',
            "event": self.body(schema),
        }

    def lines(self, count: int, now: datetime.datetime) -> list[bytes]:
        """Forwarder input: capsules of both schemas, half each, stamped around ``now``."""
        second = int(now.timestamp())
        out = []
        for i in range(count):
            schema, revision = SANITIZED if i % 2 else PURGED
            out.append(orjson.dumps(self.capsule(schema, revision, second + i // 1000)))
        return out


def seed_table(
    store: Store,
    registry: SchemaRegistry,
    events: Events,
    schema: tuple[str, str],
    rows: int,
    now: datetime.datetime,
) -> str:
    """``rows`` rows of ``schema`` evenly over the ``DAYS`` days before ``now``; its table."""
    found = registry.get(*schema)
    assert found is not None, schema
    layout = store.layout(*schema, found.schema)
    start = int(now.timestamp()) - DAYS * 86400
    step = DAYS * 86400 / rows
    batch = []
    for i in range(rows):
        batch.append(layout.row(events.capsule(*schema, start + int(i * step))))
        if len(batch) == INSERT_ROWS:
            store.insert({layout: batch})
            batch = []
    if batch:
        store.insert({layout: batch})
    return layout.name


def mediawiki_cutoff(now: datetime.datetime, days: int = RETENTION_DAYS) -> str:
    return (now - datetime.timedelta(days=days)).strftime("%Y%m%d%H%M%S")


# --- the ceilings: what the database does with no engine around it ------------------------
# Bare SQL on a copy of the table, as bench_stores creates its scratch database: a yardstick
# measured beside the engine, not product code (which keeps all its SQL in el_monitor.store).


def copy_table(store: Store, table: str, copy: str) -> None:
    q = store.dialect.quote
    store.execute(f"CREATE TABLE {q(copy)} LIKE {q(table)}")
    store.execute(f"INSERT INTO {q(copy)} SELECT * FROM {q(table)}")


def _id_windows(store: Store, table: str, cutoff: str, size: int) -> Iterator[tuple[int, int]]:
    q, mark = store.dialect.quote, store.dialect.mark
    ((low, high),) = store.query(
        f"SELECT MIN({q('id')}), MAX({q('id')}) FROM {q(table)} WHERE {q('timestamp')} < {mark}",
        (cutoff,),
    )
    for start in range(int(low), int(high) + 1, size):
        yield start, min(start + size - 1, int(high))


def ceiling_delete(store: Store, table: str, cutoff: str, size: int) -> tuple[int, float]:
    """Rows removed and seconds taken by ``DELETE ... WHERE id BETWEEN`` windows of ``size``
    over the rows older than ``cutoff``, a transaction each."""
    q, mark = store.dialect.quote, store.dialect.mark
    windows = list(_id_windows(store, table, cutoff, size))
    sql = f"DELETE FROM {q(table)} WHERE {q('id')} BETWEEN {mark} AND {mark}"
    start = time.perf_counter()
    done = sum(store.execute(sql, window) for window in windows)
    return done, time.perf_counter() - start


def ceiling_update(
    store: Store, table: str, cutoff: str, size: int, hashed: str
) -> tuple[int, float]:
    """The same for an ``UPDATE`` that nulls every column the catalog does not keep and
    replaces ``hashed`` by its SHA-256, computed by the server."""
    q, mark = store.dialect.quote, store.dialect.mark
    kept = {*ALWAYS_KEPT, *(f"event_{f}".lower() for f in KEEP), hashed.lower()}
    nulls = [c.name for c in store.columns(table) if c.name.lower() not in kept]
    sets = ", ".join([f"{q(c)} = NULL" for c in nulls] + [f"{q(hashed)} = SHA2({q(hashed)}, 256)"])
    windows = list(_id_windows(store, table, cutoff, size))
    sql = f"UPDATE {q(table)} SET {sets} WHERE {q('id')} BETWEEN {mark} AND {mark}"
    start = time.perf_counter()
    done = sum(store.execute(sql, window) for window in windows)
    return done, time.perf_counter() - start
