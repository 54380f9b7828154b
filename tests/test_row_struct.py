"""``TableLayout.row`` gives the same row whether msgspec's Struct places the event's fields or
the loop does, and leaves to the loop every event the Struct would place differently."""

from __future__ import annotations

import math

import pytest

from el_monitor.store.mapping import (
    CAPSULE_COLUMNS,
    VARCHAR_LIMIT,
    Column,
    StoreError,
    TableLayout,
    event_columns,
)

SCHEMA = {
    "properties": {
        "count": {"type": "integer"},
        "ratio": {"type": "number"},
        "flag": {"type": "boolean"},
        "name": {"type": "string"},
        "note": {"type": "string", "maxLength": 5000},
        "web_pageview_id": {"type": "string"},
        "page": {"type": "object", "properties": {"id": {"type": "integer"}}},
        "tags": {"type": "array"},
    }
}
FLAT = {k: v for k, v in SCHEMA["properties"].items() if k not in ("page", "tags")}


def capsule(**event: object) -> dict:
    return {
        "uuid": "0" * 32,
        "timestamp": 1_800_000_000,
        "wiki": "enwiki",
        "webHost": "en.wikipedia.org",
        "userAgent": "Mozilla/5.0",
        "schema": "Test",
        "revision": "1",
        "event": event,
    }


def layouts(properties: dict, empty: object) -> tuple[TableLayout, TableLayout]:
    """The layout of ``properties`` twice: as the forwarder makes it, and placing by loop."""
    columns = [*CAPSULE_COLUMNS, *event_columns({"properties": properties})]
    struct, loop = TableLayout("t", columns, empty), TableLayout("t", columns, empty)
    loop._struct = None
    return struct, loop


def same(a: list, b: list) -> bool:
    return len(a) == len(b) and all(
        x is y or x == y or (isinstance(x, float) and math.isnan(x) and math.isnan(y))
        for x, y in zip(a, b, strict=True)
    )


EVENTS = [
    {},
    {"count": 3, "ratio": 0.5, "flag": True, "name": "a", "note": "n" * 4000},
    {"count": 2**70, "ratio": 3, "flag": False, "web_pageview_id": "x" * VARCHAR_LIMIT},
    {"count": None, "name": None},
    {"name": "\t\n\\N 'quoted' <b>"},
]


@pytest.mark.parametrize("empty", [None, math.nan], ids=["mysql", "sqlite"])
@pytest.mark.parametrize("event", EVENTS)
def test_the_struct_places_a_flat_event_as_the_loop_does(event, empty):
    struct, loop = layouts(FLAT, empty)
    assert struct._struct is not None
    assert same(struct.row(capsule(**event)), loop.row(capsule(**event)))


@pytest.mark.parametrize(
    "event",
    [
        {"page": {"id": 4}, "count": 1},  # a nested object: flattened by the loop
        {"tags": ["a", 1]},  # JSON text
        {"name": 7},  # not a string where a VARCHAR is: stored as it is
        {"flag": 1, "count": True},  # a kind the column does not take
    ],
)
def test_what_the_struct_does_not_place_the_loop_does(event):
    struct, loop = layouts(SCHEMA["properties"], None)
    assert same(struct.row(capsule(**event)), loop.row(capsule(**event)))


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"name": "x" * (VARCHAR_LIMIT + 1)}, "is too long"),
        ({"unknown": 1}, "has no column event_unknown"),
    ],
)
def test_a_row_the_table_cannot_hold_is_refused_either_way(event, message):
    for layout in layouts(FLAT, None):
        with pytest.raises(StoreError, match=message):
            layout.row(capsule(**event))


def test_a_table_with_capsule_columns_among_the_event_columns_places_by_loop():
    columns = [*CAPSULE_COLUMNS[:2], Column("event_count", "bigint"), *CAPSULE_COLUMNS[2:]]
    layout = TableLayout("t", columns, None)
    assert layout._struct is None
    row = layout.row(capsule(count=5))
    assert row[2] == 5 and row[3] == "enwiki"
