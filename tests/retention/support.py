"""Shared by the retention tests: real schemas seeded with 200 days of rows, the catalog that
governs them, and the reference answer — every row's expected values after a run, worked out
here from the rows as seeded (hashes with hmac/hashlib and the salts the database holds)."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import shutil
import textwrap
from pathlib import Path
from typing import Any

from helpers import SAMPLES, SCHEMAS

from el_monitor.catalog.load import load_catalog
from el_monitor.catalog.model import Catalog
from el_monitor.schema.registry import DirectoryRegistry
from el_monitor.store import Store
from el_monitor.store.mapping import RETENTION_MARKER
from el_monitor.store.retention import add_salt, create_retention_tables

NOW = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.UTC)
DAYS = 200
PER_DAY = 3
# Each schema revision seeded, and whether the registry lists it (old revisions do not).
TABLES = {
    "ServerSideAccountCreation_1_2_0": ("ServerSideAccountCreation", "1.2.0", True),
    "ServerSideAccountCreation_1_1_0": ("ServerSideAccountCreation", "1.1.0", False),
    "EditAttemptStep_2_1_0": ("EditAttemptStep", "2.1.0", True),
    "NavigationTiming_1_7_0": ("NavigationTiming", "1.7.0", True),
    "SearchSatisfaction_1_5_0": ("SearchSatisfaction", "1.5.0", True),
    "SearchSatisfaction_1_4_0": ("SearchSatisfaction", "1.4.0", False),
}
CATALOG = """
[defaults]
retention_days = 90

[schema.ServerSideAccountCreation]
retention_days = 30
keep = ["isSelfMade", "isApi", "displayMobile", "campaign"]
hash = ["token"]

[schema.EditAttemptStep]
keep = ["action", "editor_interface", "platform"]
hash = ["editing_session_id", "session_token"]

[schema.NavigationTiming]
keep = ["isAnon", "mobileMode", "originCountry"]
[[schema.NavigationTiming.extensions]]
until = 2026-06-30
reason = "T1: year-over-year page load comparison"
retention_days = 150
fields = ["responseStart", "loadEventEnd"]
"""
# The reference: per schema, (days, columns kept besides the capsule's, hashed columns,
# (extension days, columns kept until then) or None); None days: deleted.
RULES: dict[str, tuple[int, tuple[str, ...], tuple[str, ...], Any]] = {
    "ServerSideAccountCreation": (
        30,
        ("event_isSelfMade", "event_isApi", "event_displayMobile", "event_campaign"),
        ("event_token",),
        None,
    ),
    "EditAttemptStep": (
        90,
        ("event_action", "event_editor_interface", "event_platform"),
        ("event_editing_session_id", "event_session_token"),
        None,
    ),
    "NavigationTiming": (
        90,
        ("event_isAnon", "event_mobileMode", "event_originCountry"),
        (),
        (150, ("event_responseStart", "event_loadEventEnd")),
    ),
}
EXTENSION_UNTIL = datetime.date(2026, 6, 30)  # NavigationTiming's, in CATALOG
ALWAYS = ("id", "uuid", "timestamp", "wiki", RETENTION_MARKER)


def registry_dir(tmp_path: Path) -> Path:
    """The registry: the real schemas of the seeded revisions it lists (old ones left out)."""
    root = tmp_path / "schemas"
    for schema, revision, listed in TABLES.values():
        if listed:
            (root / schema).mkdir(parents=True, exist_ok=True)
            shutil.copy(SCHEMAS / schema / f"{revision}.json", root / schema)
    return root


def catalog_file(tmp_path: Path, text: str = CATALOG) -> Path:
    path = tmp_path / "el-monitor.toml"
    path.write_text(textwrap.dedent(text))
    return path


def catalog(tmp_path: Path, text: str = CATALOG) -> Catalog:
    registry = DirectoryRegistry(registry_dir(tmp_path))
    return load_catalog(catalog_file(tmp_path, text), registry)


def _event(schema: str, i: int) -> dict:
    sample = json.loads((SAMPLES / f"{schema}.jsonl").read_text().splitlines()[0])
    event = dict(sample["event"])
    for key, value in event.items():  # tokens and names that differ by row, and repeat
        if isinstance(value, str) and ("token" in key.lower() or "session" in key.lower()):
            event[key] = f"{key}-{i % 7}"
    return event


def seed(store: Store, now: datetime.datetime = NOW) -> dict[str, dict[str, list]]:
    """``PER_DAY`` rows a day for ``DAYS`` days in every table, half a day off any cutoff;
    returns table → uuid → the row as seeded (in the table's column order, id first)."""
    seeded: dict[str, dict[str, list]] = {}
    for table, (schema, revision, _) in TABLES.items():
        event_schema = json.loads((SCHEMAS / schema / f"{TABLES_SOURCE[schema]}.json").read_text())
        if revision == "1.1.0":  # an older revision without one field
            event_schema["properties"].pop("userBuckets")
        layout = store.layout(schema, revision, event_schema)
        rows = []
        for day in range(DAYS):
            for k in range(PER_DAY):
                i = day * PER_DAY + k
                moment = now - datetime.timedelta(days=day + 0.5, minutes=k)
                event = _event(schema, i)
                if revision == "1.1.0":
                    event.pop("userBuckets")
                capsule = {
                    "uuid": f"{table[:4]}{len(table):02d}{i:026x}".lower()[:32].ljust(32, "0"),
                    "timestamp": int(moment.timestamp()),
                    "wiki": "enwiki" if i % 2 else "dewiki",
                    "event": event,
                }
                rows.append(layout.row(capsule))
        store.insert({layout: rows})
        seeded[table] = {}
        for row in rows_of(store, table):
            seeded[table][row["uuid"]] = row
    return seeded


TABLES_SOURCE = {schema: revision for schema, revision, listed in TABLES.values() if listed}


def rows_of(store: Store, table: str) -> list[dict[str, Any]]:
    """Every row of ``table`` as column → value (booleans as 0/1, bytes as text)."""
    names = [c.name for c in store.columns(table)]
    q = store.dialect.quote
    out = []
    for values in store.query(f"SELECT {store.dialect.names(names)} FROM {q(table)}"):
        out.append({n: _plain(v) for n, v in zip(names, values, strict=True)})
    return out


def _plain(value: object) -> object:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode()
    if isinstance(value, bool):
        return int(value)
    return value


def plant_salts(store: Store, now: datetime.datetime = NOW) -> dict[int, bytes]:
    """Salts of every period the seeded rows fall in, chosen here so the test knows them
    (a run forgets old ones after using them); period → salt."""
    create_retention_tables(store)
    first = (now - datetime.timedelta(days=DAYS + 1)).date()
    periods = range(_period(first), _period(now.date()) + 1)
    planted = {p: hashlib.sha256(f"salt {p}".encode()).digest() for p in periods}
    for period, salt in planted.items():
        add_salt(store, period, salt.hex(), now)
    return planted


def _period(day: datetime.date) -> int:
    return (day - datetime.date(1970, 1, 1)).days // 90


def salts(store: Store) -> dict[int, bytes]:
    q = store.dialect.quote
    rows = store.query(f"SELECT {q('period')}, {q('salt')} FROM {q('el_monitor_retention_salts')}")
    return {int(period): bytes.fromhex(salt) for period, salt in rows}


def reference_hash(salt_by_period: dict[int, bytes], value: str, timestamp: str) -> str:
    period = _period(datetime.datetime.strptime(timestamp[:8], "%Y%m%d").date())
    return hmac.new(salt_by_period[period], value.encode(), hashlib.sha256).hexdigest()


def age_days(timestamp: str, now: datetime.datetime) -> float:
    moment = datetime.datetime.strptime(timestamp, "%Y%m%d%H%M%S").replace(tzinfo=datetime.UTC)
    return (now - moment).total_seconds() / 86400


def expected(
    seeded: dict[str, dict[str, list]],
    table: str,
    now: datetime.datetime,
    salt_by_period: dict[int, bytes],
) -> dict[str, dict[str, Any]]:
    """uuid → the row as a run at ``now`` must leave it (rows deleted are absent)."""
    schema = TABLES[table][0]
    out = {}
    for uuid, row in seeded[table].items():
        age = age_days(row["timestamp"], now)
        if schema not in RULES:
            if age <= 90:
                out[uuid] = {**row, RETENTION_MARKER: None} if RETENTION_MARKER in row else row
            continue
        days, keep, hashed, extension = RULES[schema]
        if now.date() > EXTENSION_UNTIL:
            extension = None
        final = extension[0] if extension else days
        if age <= days:
            out[uuid] = {**row, RETENTION_MARKER: None}
            continue
        kept = set(ALWAYS) | set(keep) | set(hashed)
        marker = 2
        if age <= final:
            kept |= set(extension[1])
            marker = 1
        new = {c: (v if c in kept else None) for c, v in row.items()}
        for column in hashed:
            if row[column] is not None:
                new[column] = reference_hash(salt_by_period, row[column], row["timestamp"])
        new[RETENTION_MARKER] = marker
        out[uuid] = new
    return out


def backfill(store: Store, table: str, revision: str, age_days: float, now=NOW) -> None:
    """One row ``age_days`` old in ``table`` (of ``revision``), as a backfill from old logs
    writes it after a run."""
    schema = TABLES.get(table, (table.rsplit("_", 3)[0],))[0]
    event_schema = json.loads((SCHEMAS / schema / f"{TABLES_SOURCE[schema]}.json").read_text())
    layout = store.layout(schema, revision, event_schema)
    assert layout.name == table
    moment = now - datetime.timedelta(days=age_days)
    capsule = {"uuid": "b" * 32, "timestamp": int(moment.timestamp()), "wiki": "enwiki",
               "event": _event(schema, 1)}  # fmt: skip
    store.insert({layout: [layout.row(capsule)]})
