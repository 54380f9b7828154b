"""Rollups (``aggregate`` rules): counts and percentiles equal to ones worked out here from the
seeded values, grouped by dimensions with NULLs, over two revisions' tables; recomputing a
period replaces it; hourly and daily periods; the shipped example rules on the real schemas."""

from __future__ import annotations

import datetime
import random
from collections import defaultdict
from pathlib import Path

import pytest
from helpers import ROOT, SCHEMAS

from el_monitor.catalog.load import load_catalog
from el_monitor.catalog.model import Aggregate, SchemaPolicy
from el_monitor.retention.aggregate import percentile, period_window, roll_up
from el_monitor.schema.registry import open_registry
from el_monitor.store import Store
from el_monitor.store.mapping import field_column
from el_monitor.store.rollups import RollupTable, read_rollup, rollup_table

UTC = datetime.UTC
DAY0 = datetime.datetime(2026, 1, 10, tzinfo=UTC)
PROPERTIES = {
    "ms": {"type": "integer"},
    "size": {"type": "number"},
    "country": {"type": "string"},
    "anon": {"type": "boolean"},
    "page": {"type": "object", "properties": {"ns": {"type": "integer"}}},
}
# Revision 2 lacks `size` (its rows count with size NULL); the "0" table lacks `country`,
# a dimension of DAILY, so DAILY skips it (COUNTS still reads it).
REVISIONS = {
    "2": PROPERTIES,
    "3": {k: v for k, v in PROPERTIES.items() if k != "size"},
    "0": {k: v for k, v in PROPERTIES.items() if k != "country"},
}
DAILY = Aggregate("daily", ("wiki", "country"), "day", ("ms", "size", "page.ns"))
HOURLY = Aggregate("hourly", ("wiki",), "hour", ("ms",))
COUNTS = Aggregate("counts", ("wiki", "anon"), "day")
POLICY = SchemaPolicy(name="Perf", aggregate=(DAILY, HOURLY, COUNTS))
QUANTILES = (0.5, 0.75, 0.95)


def seed(store: Store, days: int = 3, per_table: int = 400, seed: int = 7) -> list[dict]:
    """Rows over ``days`` days in every revision's table; NULLs in dimensions and values.
    Returns each row as the flat field → value the reference reads."""
    rng = random.Random(seed)
    seeded = []
    for revision, properties in REVISIONS.items():
        layout = store.layout("Perf", revision, {"type": "object", "properties": properties})
        rows = []
        for i in range(per_table):
            when = DAY0 + datetime.timedelta(seconds=rng.randrange(days * 86400))
            event = {
                "ms": rng.choice([None, rng.randrange(5000), rng.randrange(50)]),
                "size": rng.choice([None, round(rng.uniform(0, 9), 3), 0.1 + 0.2]),
                "country": rng.choice([None, "FR", "fr", "DE"]),
                "anon": rng.choice([None, True, False]),
                "page": {"ns": rng.choice([None, 0, 1, 2, 14])},
            }
            event = {k: v for k, v in event.items() if k in properties and v is not None}
            wiki = rng.choice([None, "enwiki", "dewiki"])
            capsule = {
                "uuid": f"{revision}{i:031x}",
                "timestamp": when.timestamp(),
                "wiki": wiki,
                "event": event,
            }
            rows.append(layout.row(capsule))
            flat = {"wiki": wiki, "when": when, "table": layout.name}
            flat |= {k: v for k, v in event.items() if k != "page"}
            flat["page.ns"] = event.get("page", {}).get("ns")
            flat["anon"] = None if "anon" not in event else int(event["anon"])
            if "country" in properties:
                flat.setdefault("country", None)
            seeded.append(flat)
        store.insert({layout: rows})
    return seeded


def reference_percentile(values: list[float], q: float) -> float:
    """PERCENTILE_CONT, written out independently of the code under test."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def expected(seeded: list[dict], rule: Aggregate, days: set[datetime.date] | None = None):
    """(period start, *dimensions) → (events, (count, p50, p75, p95) per measured field)."""
    fmt = "%Y%m%d%H0000" if rule.period == "hour" else "%Y%m%d000000"
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in seeded:
        if any(d not in row for d in rule.dimensions):
            continue  # a table without the dimension's column
        if days is not None and row["when"].date() not in days:
            continue
        key = (row["when"].strftime(fmt), *(row[d] for d in rule.dimensions))
        groups[key].append(row)
    out = {}
    for key, rows in groups.items():
        measures: list[object] = []
        for name in rule.percentiles:
            values = [float(r[name]) for r in rows if r.get(name) is not None]
            measures.append(len(values))
            measures += [reference_percentile(values, q) if values else None for q in QUANTILES]
        out[key] = (len(rows), tuple(measures))
    return out


def stored(store: Store, rule: Aggregate):
    """The rule's rollup table, keyed as ``expected`` keys it."""
    measured = tuple(field_column(f) for f in rule.percentiles)
    dims = tuple((field_column(d), "text") for d in rule.dimensions)
    rows = read_rollup(store, RollupTable(rollup_table("Perf", rule.name), dims, measured))
    width = 1 + len(dims)
    out = {}
    for row in rows:
        key = tuple(row[:width])
        assert key not in out, f"duplicate rollup row {key}"
        measures = tuple(float(v) if isinstance(v, float) else v for v in row[width + 1 :])
        out[key] = (row[width], measures)
    return out


def same(got: dict, want: dict) -> None:
    assert set(got) == set(want)
    for key, (events, measures) in want.items():
        assert got[key][0] == events, key
        for a, b in zip(got[key][1], measures, strict=True):
            assert (a is None and b is None) or a == pytest.approx(b, rel=1e-12), key


def test_rollups_equal_the_reference_over_two_revisions(store):
    seeded = seed(store)
    before = DAY0 + datetime.timedelta(days=10)
    results = roll_up(store, POLICY, before)
    by_rule = {r.rule: r for r in results}
    assert by_rule["daily"].sources == ("Perf_2", "Perf_3")
    assert by_rule["daily"].skipped == ("Perf_0",)
    assert by_rule["counts"].sources == ("Perf_0", "Perf_2", "Perf_3")
    assert by_rule["counts"].events == len(seeded)
    assert len(by_rule["daily"].periods) == 3 and len(by_rule["hourly"].periods) == 72
    for rule in (DAILY, HOURLY, COUNTS):
        want = expected(seeded, rule)
        same(stored(store, rule), want)
    # NULL groups are groups of their own; "FR" and "fr" stay apart on both engines.
    keys = set(stored(store, DAILY))
    assert any(k[1] is None for k in keys) and any(k[2] is None for k in keys)
    assert {k[2] for k in keys} == {None, "FR", "fr", "DE"}


def test_recomputing_a_day_replaces_it(store):
    seeded = seed(store)
    before = DAY0 + datetime.timedelta(days=3)
    roll_up(store, POLICY, before)
    first = stored(store, DAILY)
    assert roll_up(store, POLICY, before)[0].groups == len(first)
    assert stored(store, DAILY) == first  # same rows, no duplicates

    # One more row on day 2, then day 2 alone recomputed: only its rows change.
    layout = store.layout("Perf", "2", {"type": "object", "properties": PROPERTIES})
    when = DAY0 + datetime.timedelta(days=1, hours=5)
    extra = {"uuid": "f" * 32, "timestamp": when.timestamp(), "wiki": "enwiki",
             "event": {"ms": 123456, "country": "DE"}}  # fmt: skip
    store.insert({layout: [layout.row(extra)]})
    seeded.append({"wiki": "enwiki", "when": when, "ms": 123456, "country": "DE",
                   "size": None, "page.ns": None, "anon": None})  # fmt: skip
    day2 = DAY0 + datetime.timedelta(days=1)
    [daily] = roll_up(
        store,
        SchemaPolicy("Perf", aggregate=(DAILY,)),
        day2 + datetime.timedelta(hours=1),
        since=day2,
    )
    assert daily.periods == ("20260111000000",)
    after = stored(store, DAILY)
    same(after, expected(seeded, DAILY))
    assert {k: v for k, v in after.items() if k[0] != "20260111000000"} == {
        k: v for k, v in first.items() if k[0] != "20260111000000"
    }


def test_a_period_without_rows_keeps_its_rollup(store):
    seed(store, days=2)
    roll_up(store, POLICY, DAY0 + datetime.timedelta(days=2))
    first = stored(store, COUNTS)
    for table in ("Perf_0", "Perf_2", "Perf_3"):
        store.execute(f"DELETE FROM {store.dialect.quote(table)}")
    results = roll_up(store, POLICY, DAY0 + datetime.timedelta(days=2))
    assert all(r.periods == () and r.events == 0 for r in results)
    assert stored(store, COUNTS) == first


@pytest.mark.parametrize(
    ("period", "since", "before", "window"),
    [
        ("day", None, "2026-01-15T16:30", ("", "20260116000000")),
        ("day", "2026-01-15T16:30", "2026-01-17T00:00", ("20260116000000", "20260117000000")),
        ("hour", "2026-01-15T16:00", "2026-01-15T18:01", ("20260115160000", "20260115190000")),
        ("month", "2025-12-31T23:00", "2026-02-01T00:00", ("20260101000000", "20260201000000")),
        ("month", "2026-01-01T00:00", "2026-12-02T00:00", ("20260101000000", "20270101000000")),
    ],
)
def test_period_window(period, since, before, window):
    def at(text):
        return None if text is None else datetime.datetime.fromisoformat(text).replace(tzinfo=UTC)

    assert period_window(period, at(since), at(before)) == window


def test_percentiles_by_hand():
    # 1..10: h = p * 9; PERCENTILE_CONT gives 5.5, 7.75, 9.55
    values, cumulative = list(range(1, 11)), list(range(1, 11))
    assert [percentile(values, cumulative, q) for q in QUANTILES] == [
        5.5, 7.75, pytest.approx(9.55)
    ]  # fmt: skip
    # the same as counts: 1 once, 2 three times, 10 once → sorted 1 2 2 2 10
    assert [percentile([1, 2, 10], [1, 4, 5], q) for q in (0, 0.5, 0.95, 1)] == [
        1, 2, pytest.approx(8.4), 10
    ]  # fmt: skip
    assert percentile([7.0], [1], 0.95) == 7.0


SHARED_SCHEMAS = Path("/work/shared/schemas")
EXAMPLE = ROOT / "examples" / "el-monitor.toml"


def test_the_shipped_rules_work_on_the_real_schemas(store, tmp_path):
    """examples/el-monitor.toml's NavigationTiming and ServerSideAccountCreation rules,
    checked against the real schemas, on their real tables."""
    schemas = SHARED_SCHEMAS if SHARED_SCHEMAS.is_dir() else SCHEMAS
    registry = open_registry(str(schemas), tmp_path / "cache")
    catalog = load_catalog(EXAMPLE, registry)
    rng = random.Random(3)
    nav = catalog.policy("NavigationTiming")
    [timing] = [rule for rule in nav.aggregate if rule.name == "daily_timing"]
    signups = catalog.policy("ServerSideAccountCreation")
    layouts = {
        name: store.layout(name, revision, registry.get(name, revision).schema)
        for name, revision in (
            ("NavigationTiming", "1.7.0"),
            ("ServerSideAccountCreation", "1.2.0"),
        )
    }
    values: dict[str, list[float]] = defaultdict(list)  # the first day's
    nav_rows, signup_rows = [], []
    for i in range(300):
        when = (DAY0 + datetime.timedelta(minutes=7 * i)).timestamp()
        event = {field: rng.randrange(4000) for field in timing.percentiles if rng.random() < 0.9}
        for field, value in event.items():
            if 7 * i < 24 * 60:
                values[field].append(value)
        capsule = {"uuid": f"a{i:031x}", "timestamp": when, "wiki": "enwiki", "event": event}
        nav_rows.append(layouts["NavigationTiming"].row(capsule))
        signup = {"isSelfMade": i % 2 == 0, "campaign": ["a", "b", None][i % 3], "isApi": False}
        signup = {k: v for k, v in signup.items() if v is not None}
        capsule = {"uuid": f"b{i:031x}", "timestamp": when, "wiki": "dewiki", "event": signup}
        signup_rows.append(layouts["ServerSideAccountCreation"].row(capsule))
    store.insert({layouts["NavigationTiming"]: nav_rows,
                  layouts["ServerSideAccountCreation"]: signup_rows})  # fmt: skip

    before = DAY0 + datetime.timedelta(days=1)  # the first day, 206 of the 300 rows
    results = {r.rule: r for r in roll_up(store, nav, before) + roll_up(store, signups, before)}
    assert results["daily_timing"].events == results["daily_signups"].events == 206
    measured = tuple(field_column(f) for f in timing.percentiles)
    rollup = RollupTable(
        rollup_table("NavigationTiming", "daily_timing"), (("wiki", ""),), measured
    )
    [row] = read_rollup(store, rollup)
    assert row[:3] == ("20260110000000", "enwiki", 206)
    want: list[object] = []
    for field in timing.percentiles:
        want += [len(values[field]), *(reference_percentile(values[field], q) for q in QUANTILES)]
    assert row[3:] == pytest.approx(want, rel=1e-12)
    [signup_rule] = signups.aggregate
    dims = tuple((field_column(d), "") for d in signup_rule.dimensions)
    table = RollupTable(rollup_table("ServerSideAccountCreation", "daily_signups"), dims, ())
    counts = {tuple(r[1:5]): r[5] for r in read_rollup(store, table)}
    assert sum(counts.values()) == 206 and len(counts) == 6
    assert counts[("dewiki", 1, "a", None)] == 35  # i even, i % 3 == 0, i < 206
