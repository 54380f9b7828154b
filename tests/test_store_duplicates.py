"""What a replayed uuid is compared with: the stored row as each engine gives it back (booleans
as integers, doubles as floats, JSON text as the document, NULL), on SQLite and MariaDB."""

from __future__ import annotations

import pytest

from el_monitor.store.counts import COUNTS_TABLE, Measures, count_statements, create_counts_tables
from el_monitor.store.duplicates import same_value

EVENT_SCHEMA = {
    "type": "object",
    "properties": {
        "flag": {"type": "boolean"},
        "ratio": {"type": "number"},
        "n": {"type": "integer"},
        "tags": {"type": "array"},
        "extra": {"type": "object"},
        "name": {"type": "string"},
        "nested": {"type": "object", "properties": {"x": {"type": "integer"}}},
        "missing": {"type": "string"},
    },
}


def capsule(uuid: str, **event) -> dict:
    base = {"flag": True, "ratio": 3, "n": 2**60 + 1, "tags": ["a", 1], "name": "Zoë",
            "extra": {"b": 1, "a": [True, None]}, "nested": {"x": 7}}  # fmt: skip
    return {"uuid": uuid, "timestamp": 1795842000, "wiki": "enwiki", "schema": "Dup",
            "revision": "1", "event": {**base, **event}}  # fmt: skip


def test_an_identical_replay_is_a_duplicate_that_differs_in_nothing(store):
    layout = store.layout("Dup", "1", EVENT_SCHEMA)
    first = capsule("0" * 32)
    assert store.insert({layout: [layout.row(first)]}).inserted[layout] == 1
    # The same event as it comes back in a replay: numbers, booleans and JSON spelt otherwise.
    again = capsule("0" * 32, ratio=3.0, extra={"a": [True, None], "b": 1})
    result = store.insert({layout: [layout.row(again)]})
    assert result.inserted[layout] == 0
    assert [(d.index, d.differs) for d in result.duplicates] == [(0, ())]


def test_another_event_with_a_stored_uuid_names_the_columns_that_differ(store):
    layout = store.layout("Dup", "1", EVENT_SCHEMA)
    store.insert({layout: [layout.row(capsule("1" * 32))]})
    other = capsule("1" * 32, flag=False, name=None, nested={"x": 8})
    new = capsule("2" * 32)
    twice = capsule("2" * 32, ratio=0.5)  # the same uuid twice in one batch: the first is kept
    result = store.insert({layout: [layout.row(c) for c in (other, new, twice)]})
    assert result.inserted[layout] == 1
    assert sorted((d.index, d.differs) for d in result.duplicates) == [
        (0, ("event_flag", "event_name", "event_nested_x")),
        (2, ("event_ratio",)),
    ]
    ((ratio,),) = store.query(f"SELECT event_ratio FROM Dup_1 WHERE uuid = '{'2' * 32}'")
    assert ratio == 3


def test_a_refused_batch_still_tells_duplicates_row_by_row(store):
    layout = store.layout("Dup", "1", EVENT_SCHEMA)
    store.insert({layout: [layout.row(capsule("3" * 32))]})
    too_big = capsule("4" * 32, n=2**64)  # refused by both engines (a store error)
    rows = [layout.row(c) for c in (capsule("3" * 32, n=5), too_big, capsule("5" * 32))]
    result = store.insert({layout: rows})
    assert [r.index for r in result.rejected] == [1]
    assert [(d.index, d.differs) for d in result.duplicates] == [(0, ("event_n",))]
    assert result.inserted[layout] == 1


def test_the_counts_of_a_batch_are_in_its_transaction(store):
    """A bookkeeping statement that fails takes the batch's rows with it, and none is left."""
    layout = store.layout("Dup", "1", EVENT_SCHEMA)
    create_counts_tables(store)

    def bookkeeping(result):
        from el_monitor.store.counts import HourCounts

        added = Measures(raw=1, valid=1, inserted=result.inserted[layout])
        good = count_statements(store.dialect, [HourCounts("p", "fw", "Dup", added)], [])
        return [*good, ("INSERT INTO no_such_table (x) VALUES (?)", [(1,)])]

    with pytest.raises(Exception):  # noqa: B017,PT011 - the engine's refusal, whichever it is
        store.insert({layout: [layout.row(capsule("6" * 32))]}, bookkeeping)
    assert store.query("SELECT COUNT(*) FROM Dup_1")[0][0] == 0
    assert store.query(f"SELECT COUNT(*) FROM {COUNTS_TABLE}")[0][0] == 0


@pytest.mark.parametrize(
    ("kind", "sent", "stored", "same"),
    [
        ("boolean", True, 1, True),
        ("boolean", False, 1, False),
        ("double", 3, 3.0, True),
        ("double", 2**60 + 1, float(2**60 + 1), True),
        ("bigint", 2**60 + 1, 2**60, False),
        ("json", '{"a":1,"b":[1,2]}', '{"b": [1, 2], "a": 1}', True),
        ("json", '{"a":1}', '{"a":2}', False),
        ("varchar", "Zoë", b"Zo\xc3\xab", True),
        ("varchar", "5", 5, True),
        ("varchar", None, None, True),
        ("varchar", None, "", False),
        ("varchar", "a", "A", False),
    ],
)
def test_values_compare_as_the_engines_give_them_back(kind, sent, stored, same):
    assert same_value(kind, sent, stored) is same
