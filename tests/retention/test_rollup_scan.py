"""How rollups read and count, on both engines: many windows read by parallel connections,
a window the server would cut read in halves, every way a window's numbers are parsed
(integers, doubles, a stored value equal to the NULL marker, the int64 limits), group texts
holding separators and any characters, and folding under a small budget; each compared
with the reference worked out independently in ``test_rollups``."""

from __future__ import annotations

import datetime
import math
import random

import numpy as np
import pytest

from el_monitor.catalog.model import Aggregate, SchemaPolicy
from el_monitor.retention.aggregate import roll_up
from el_monitor.retention.rollup_groups import Groups
from el_monitor.store import Store, open_store, rollup_scan
from el_monitor.store.rollup_scan import (
    RollupSource,
    Window,
    WindowCut,
    concat_limit,
    scan_window,
)

from .test_rollups import (
    COUNTS,
    DAILY,
    DAY0,
    HOURLY,
    POLICY,
    QUANTILES,
    expected,
    reference_percentile,
    same,
    seed,
    stored,
)

BEFORE = DAY0 + datetime.timedelta(days=10)
DAY = ("20260110000000", "20260111000000")
NUMBERS = {"ms": {"type": "integer"}, "size": {"type": "number"}}
# Stored values that a fast parse could misread: the NULL marker's value, the int64 limits
# (numpy gives a longer integer as a limit), integers past 2**53, doubles.
AWKWARD = [-(2**63) + 1, 2**63 - 1, -(2**63), 2**53 + 1, -5, 0]
DOUBLES = [2.5, 1e20, -0.0, 1.5e-300, 0.1 + 0.2]


def test_many_windows_read_by_parallel_connections(store):
    seeded = seed(store)
    results = roll_up(store, POLICY, BEFORE, window=5)  # 240 windows per table
    assert {r.rule: r.events for r in results}["counts"] == len(seeded)
    for rule in (DAILY, HOURLY, COUNTS):
        same(stored(store, rule), expected(seeded, rule))


@pytest.mark.mysql
def test_a_window_the_server_would_cut_is_read_in_halves(mysql_url):
    store = open_store(mysql_url)
    try:
        seeded = seed(store)
        store.execute("SET SESSION group_concat_max_len = 2048")  # this session's only
        assert concat_limit(store) == 2048
        source = RollupSource("Perf_2", ("wiki",), ("varchar",), ("event_ms",))
        with pytest.raises(WindowCut):
            scan_window(store, source, 8, ("", "9", 0, 10**6), 2048)
        roll_up(store, POLICY, BEFORE)
        for rule in (DAILY, HOURLY, COUNTS):
            same(stored(store, rule), expected(seeded, rule))
    finally:
        store.close()


def _numbers_table(store: Store) -> tuple[str, list[tuple[object, object]]]:
    """A table of (ms, size) rows on DAY0 in id order, every awkward value among them."""
    layout = store.layout("Perf", "7", {"type": "object", "properties": NUMBERS})
    pairs: list[tuple[object, object]] = [(None, None), *((v, None) for v in AWKWARD)]
    pairs += [(None, v) for v in DOUBLES] + [(7, 3.25), (None, None), (2**40, 2.0)]
    rows = []
    for i, (ms, size) in enumerate(pairs):
        event = {k: v for k, v in (("ms", ms), ("size", size)) if v is not None}
        capsule = {"uuid": f"7{i:031x}", "timestamp": DAY0.timestamp() + i, "wiki": "enwiki",
                   "event": event}  # fmt: skip
        rows.append(layout.row(capsule))
    store.insert({layout: rows})
    return layout.name, pairs


@pytest.mark.parametrize("width", [1, 2, 3, 100])
def test_every_way_numbers_are_parsed(store, width):
    table, pairs = _numbers_table(store)
    source = RollupSource(table, ("wiki",), ("varchar",), ("event_ms", "event_size", None))
    got = []
    for after in range(0, len(pairs), width):
        window = scan_window(store, source, 8, (*DAY, after, after + width), concat_limit(store))
        assert window.rows == min(width, len(pairs) - after)
        assert window.values is not None
        got += window.values.tolist()
    for (ms, size), (got_ms, got_size, missing) in zip(pairs, got, strict=True):
        assert math.isnan(missing)
        for want, value in ((ms, got_ms), (size, got_size)):
            if want is None:
                assert math.isnan(value)
            else:  # SQLite's printf writes 16 significant digits of a double
                assert value == pytest.approx(float(want), rel=1e-15, abs=0)


def test_rollup_of_awkward_numbers(store):
    _, pairs = _numbers_table(store)
    rule = Aggregate("numbers", ("wiki",), "day", ("ms", "size"))
    roll_up(store, SchemaPolicy("Perf", aggregate=(rule,)), BEFORE, window=2)
    [(key, (events, measures))] = stored(store, rule).items()
    assert key == ("20260110000000", "enwiki") and events == len(pairs)
    want: list[object] = []
    for column in (0, 1):
        values = [float(p[column]) for p in pairs if p[column] is not None]  # type: ignore[arg-type]
        want += [len(values), *(reference_percentile(values, q) for q in QUANTILES)]
    assert measures == pytest.approx(want, rel=1e-15)


def test_group_texts_with_separators_and_any_characters(store):
    properties = {"ms": {"type": "integer"}, "country": {"type": "string"},
                  "anon": {"type": "boolean"}, "size": {"type": "number"}}  # fmt: skip
    layout = store.layout("Perf", "8", {"type": "object", "properties": properties})
    countries = [None, "", "N", "a|b", "x;y", "é文", "FR", "fr", "FR ", "4E"]
    rng = random.Random(5)
    rows, seeded = [], []
    for i in range(300):
        when = DAY0 + datetime.timedelta(seconds=rng.randrange(86400))
        event = {
            "ms": rng.randrange(100),
            "country": rng.choice(countries),
            "anon": rng.choice([None, True, False]),
            "size": rng.choice([None, 0.5, 2.0]),
        }
        event = {k: v for k, v in event.items() if v is not None}
        capsule = {"uuid": f"8{i:031x}", "timestamp": when.timestamp(), "wiki": "enwiki",
                   "event": event}  # fmt: skip
        rows.append(layout.row(capsule))
        flat = {"wiki": "enwiki", "when": when, "ms": event["ms"],
                "country": event.get("country"), "size": event.get("size"),
                "anon": None if "anon" not in event else int(event["anon"])}  # fmt: skip
        seeded.append(flat)
    store.insert({layout: rows})
    rule = Aggregate("texts", ("country", "anon", "size"), "day", ("ms",))
    roll_up(store, SchemaPolicy("Perf", aggregate=(rule,)), BEFORE, window=16)
    got = stored(store, rule)
    same(got, expected(seeded, rule))
    assert {key[1] for key in got} == set(countries)


def test_folding_under_a_small_budget_changes_nothing():
    rng = random.Random(11)
    windows = []
    for _ in range(40):
        rows = rng.randrange(1, 60)
        keys = [rng.choice("abcd") for _ in range(rows)]
        values = [[rng.choice([math.nan, -0.0, 0.0, rng.randrange(-5, 30), rng.random()])
                   for _ in range(3)] for _ in range(rows)]  # fmt: skip
        windows.append(Window(rows, keys, np.array(values, dtype=np.float64)))
    results = []
    for budget in (1 << 30, 40, 1):
        groups = Groups(3, budget)
        for window in windows:
            ids = np.array([groups.group((key,)) for key in window.keys], dtype=np.intp)
            groups.add(ids, window)
        results.append({key: groups.statistics(i) for i, key in enumerate(groups.keys)})
    assert results[0] == results[1] == results[2]
    every = [(k, row) for w in windows for k, row in zip(w.keys, w.values, strict=True)]
    for (key,), (events, measures) in results[0].items():
        rows = [row.tolist() for k, row in every if k == key]
        assert events == len(rows)
        for column in range(3):
            values = [row[column] for row in rows if not math.isnan(row[column])]
            want = [len(values), *(reference_percentile(values, q) for q in QUANTILES)]
            assert measures[4 * column : 4 * column + 4] == pytest.approx(want, rel=1e-12)


def test_an_integer_longer_than_int64_is_read_as_a_double():
    # Neither engine writes one for a BIGINT or a DOUBLE; a DECIMAL column could.
    text = "99999999999999999999,1,-09223372036854775807,-99999999999999999999"
    values = rollup_scan._values(text, 2, 2)
    assert values[0].tolist() == [1e20, 1.0]
    assert math.isnan(values[1][0]) and values[1][1] == -1e20
