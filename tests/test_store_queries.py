"""What the store answers beyond inserting events, on both engines: the dialects, the counts
tables (writes and the report's reads), the sample-rate history, table stats and columns, and
the keyed scans and deletes of the opt-out purge."""

from __future__ import annotations

import datetime
import re

from el_monitor.store import Store
from el_monitor.store.catalogue import TableStats, has_rows, table_stats
from el_monitor.store.counts import (
    FIRSTS_PER_QUERY,
    DailyCounts,
    ErrorGroup,
    ErrorKey,
    FirstExample,
    HourCounts,
    HourErrors,
    Measures,
    add_counts,
    create_counts_tables,
    daily_counts,
    day_error_groups,
    first_examples,
)
from el_monitor.store.dialect import IN_LIMIT, MYSQL, SQLITE
from el_monitor.store.mapping import TableLayout
from el_monitor.store.rows import (
    KeyedRow,
    count_rows_after,
    delete_rows,
    scan_rows_after,
)
from el_monitor.store.sampling import (
    SAMPLING_TABLE,
    RecordedRate,
    record_sample_rate,
    recorded_sample_rates,
)

DAY = datetime.date(2024, 5, 30)
EVENT_SCHEMA = {
    "properties": {
        "user_id": {"type": "integer"},
        "minor": {"type": "boolean"},
        "action": {"type": "string"},
    }
}


def fill_events(store: Store, count: int, first_second: int = 1795842000) -> TableLayout:
    """``count`` rows of Edit 1 with user ids 0, 1, 2…, one second apart."""
    layout = store.layout("Edit", "1", EVENT_SCHEMA)
    rows = [
        layout.row(
            {
                "uuid": f"{i:032x}",
                "timestamp": first_second + i,
                "wiki": "enwiki" if i % 2 else "dewiki",
                "event": {"user_id": i, "minor": i % 3 == 0, "action": f"a{i}"},
            }
        )
        for i in range(count)
    ]
    result = store.insert({layout: rows})
    assert result.inserted[layout] == count and not result.rejected
    return layout


# --- the dialects ----------------------------------------------------------------------------


def test_each_dialect_quotes_and_marks_its_own_way() -> None:
    assert SQLITE.quote('we"ird') == '"we""ird"' and MYSQL.quote("we`ird") == "`we``ird`"
    assert SQLITE.marks(3) == "?, ?, ?" and MYSQL.marks(2) == "%s, %s"
    assert SQLITE.names(["a", "b"]) == '"a", "b"' and MYSQL.names(["a"]) == "`a`"


def test_the_additive_upsert_is_spelled_per_engine() -> None:
    lite = SQLITE.upsert("t", ("k1", "k2"), ("n",), ("first",))
    assert lite == (
        'INSERT INTO "t" ("k1", "k2", "n", "first") VALUES (?, ?, ?, ?) '
        'ON CONFLICT ("k1", "k2") DO UPDATE SET "n" = "n" + excluded."n"'
    )
    my = MYSQL.upsert("t", ("k1", "k2"), ("n",), ("first",))
    assert my == (
        "INSERT INTO `t` (`k1`, `k2`, `n`, `first`) VALUES (%s, %s, %s, %s) "
        "ON DUPLICATE KEY UPDATE `n` = `n` + VALUES(`n`)"
    )


def test_the_bulk_insert_skips_stored_uuids_on_both_engines() -> None:
    head, tail = SQLITE.insert_new("T_1", ("uuid", "wiki"))
    assert head == 'INSERT INTO "T_1" ("uuid", "wiki") VALUES '
    assert tail == ' ON CONFLICT("uuid") DO NOTHING'
    head, tail = MYSQL.insert_new("T_1", ("uuid", "wiki"))
    assert head == "INSERT INTO `T_1` (`uuid`, `wiki`) VALUES "
    assert tail == " ON DUPLICATE KEY UPDATE `uuid` = `uuid`"


def test_each_store_holds_its_engines_dialect(store: Store) -> None:
    assert store.dialect is (MYSQL if store.url.startswith("mysql") else SQLITE)


# --- the counts tables -----------------------------------------------------------------------


def hour(day: datetime.date, at: int) -> str:
    return f"{day.isoformat()}T{at:02d}:00:00Z"


def test_counts_add_up_and_sum_per_day_and_schema(store: Store) -> None:
    create_counts_tables(store)
    before = DAY - datetime.timedelta(days=1)
    after = DAY + datetime.timedelta(days=1)
    add_counts(
        store,
        [
            HourCounts(hour(DAY, 0), "fw1", "Edit", Measures(raw=5, valid=4, invalid=1)),
            HourCounts(hour(DAY, 23), "fw2", "Edit", Measures(raw=2, valid=2, inserted=2)),
            HourCounts(hour(DAY, 5), "fw1", "edit", Measures(raw=7, sampled_out=7)),
            HourCounts(hour(before, 12), "fw1", "Edit", Measures(raw=1, opted_out=1)),
            HourCounts(hour(after, 0), "fw1", "Edit", Measures(raw=100, valid=100)),
        ],
        [],
    )
    # A second write to the same hour row adds to it.
    add_counts(store, [HourCounts(hour(DAY, 0), "fw1", "Edit", Measures(3, 3, 0, 0, 0, 3, 1))], [])
    got = sorted(daily_counts(store, before, DAY))
    assert got == [
        DailyCounts(before.isoformat(), "Edit", Measures(raw=1, opted_out=1)),
        DailyCounts(DAY.isoformat(), "Edit", Measures(10, 9, 1, 0, 0, 5, 1)),
        # Schema names are case-sensitive on both engines: "edit" is another schema.
        DailyCounts(DAY.isoformat(), "edit", Measures(raw=7, sampled_out=7)),
    ]
    assert daily_counts(store, after, after) == [
        DailyCounts(after.isoformat(), "Edit", Measures(raw=100, valid=100))
    ]
    assert daily_counts(store, DAY + datetime.timedelta(days=2), after.replace(year=2025)) == []


def error(at: str, instance: str, code: str, path: str, n: int, message: str) -> HourErrors:
    return HourErrors(at, instance, "Edit", code, path, n, message, f'{{"n": "{message}"}}')


def test_error_groups_sum_over_instances_and_hours_and_keep_the_first_example(
    store: Store,
) -> None:
    create_counts_tables(store)
    add_counts(
        store,
        [],
        [
            error(hour(DAY, 9), "fw1", "validation", "$.a", 2, "later hour"),
            error(hour(DAY, 3), "fw2", "validation", "$.a", 5, "first hour"),
            error(hour(DAY, 3), "fw1", "validation", "$.a", 1, "same hour, next id"),
            error(hour(DAY, 4), "fw1", "parse", "", 4, "not JSON"),
            error(hour(DAY - datetime.timedelta(days=1), 23), "fw1", "parse", "", 50, "before"),
        ],
    )
    # The hour row keeps its first message and example; only the count grows.
    add_counts(store, [], [error(hour(DAY, 4), "fw1", "parse", "", 6, "second write")])
    groups = sorted(day_error_groups(store, DAY))
    assert groups == [
        ErrorGroup("Edit", "parse", "", 10, hour(DAY, 4)),
        ErrorGroup("Edit", "validation", "$.a", 8, hour(DAY, 3)),
    ]
    assert first_examples(store, groups) == {
        ErrorKey("Edit", "parse", ""): FirstExample("not JSON", '{"n": "not JSON"}'),
        ErrorKey("Edit", "validation", "$.a"): FirstExample("first hour", '{"n": "first hour"}'),
    }
    assert first_examples(store, []) == {}


def test_first_examples_of_many_groups_come_in_chunks(store: Store) -> None:
    create_counts_tables(store)
    many = FIRSTS_PER_QUERY * 2 + 7
    add_counts(
        store,
        [],
        [error(hour(DAY, 1), "fw1", "validation", f"$.f{i}", 1, f"m{i}") for i in range(many)],
    )
    groups = day_error_groups(store, DAY)
    assert len(groups) == many
    examples = first_examples(store, groups)
    assert len(examples) == many
    assert examples[ErrorKey("Edit", "validation", "$.f150")] == FirstExample(
        "m150", '{"n": "m150"}'
    )
    # A NULL example stays None; a NULL message reads as "".
    store.execute("UPDATE el_monitor_errors SET example = NULL, message = NULL WHERE path = '$.f3'")
    again = first_examples(store, groups)
    assert again[ErrorKey("Edit", "validation", "$.f3")] == FirstExample("", None)
    assert again[ErrorKey("Edit", "validation", "$.f4")] == FirstExample("m4", '{"n": "m4"}')


# --- the sample-rate history -----------------------------------------------------------------


def test_sample_rates_are_recorded_only_when_they_change(store: Store) -> None:
    assert recorded_sample_rates(store) == []  # no table yet
    assert record_sample_rate(store, "Edit", "1", 10) is None  # the first one
    assert record_sample_rate(store, "Edit", "1", 10) is None  # unchanged: no new row
    assert record_sample_rate(store, "Other", "2", 1) is None
    assert record_sample_rate(store, "Edit", "1", 5) == 10  # changed: the one it replaces
    recorded = recorded_sample_rates(store)
    assert [r[:3] for r in recorded] == [("Edit", "1", 10), ("Other", "2", 1), ("Edit", "1", 5)]
    assert all(isinstance(r, RecordedRate) for r in recorded)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", r.since) for r in recorded)
    assert store.table_exists(SAMPLING_TABLE)


# --- what the tables hold --------------------------------------------------------------------


def test_table_stats_and_has_rows(store: Store) -> None:
    layout = store.layout("Edit", "1", EVENT_SCHEMA)
    assert table_stats(store, layout.name) == TableStats(0, None)
    assert not has_rows(store, layout.name)
    fill_events(store, 3)
    assert table_stats(store, layout.name) == TableStats(3, "20261128050002")
    assert has_rows(store, layout.name)


def test_tables_and_columns_as_the_engine_reports_them(store: Store) -> None:
    layout = fill_events(store, 1)
    if store.dialect is SQLITE:
        store.execute("ANALYZE")  # creates sqlite_stat1: internal, never listed
    assert sorted(store.tables()) == ["Edit_1"]
    assert store.table_exists("edit_1") and not store.table_exists("Edit_2")
    columns = store.columns(layout.name)
    assert [c.name for c in columns] == [
        "id", "uuid", "timestamp", "wiki", "webHost", "userAgent", "topic",
        "event_action", "event_minor", "event_user_id",
    ]  # fmt: skip
    types = {c.name: c.sql_type for c in columns}
    if store.dialect is SQLITE:  # the declared types
        assert (types["uuid"], types["event_minor"]) == ("CHAR(32)", "BOOLEAN")
        assert (types["event_action"], types["event_user_id"]) == ("VARCHAR(191)", "BIGINT")
    else:  # information_schema's DATA_TYPE
        assert (types["uuid"], types["event_minor"]) == ("char", "tinyint")
        assert (types["event_action"], types["event_user_id"]) == ("varchar", "bigint")
    assert store.columns("Missing_1") == []


# --- keyed scans and deletes -----------------------------------------------------------------


def test_rows_are_counted_scanned_and_deleted_by_key(store: Store) -> None:
    layout = fill_events(store, 25)
    assert count_rows_after(store, layout.name, "id", 0) == 25
    assert count_rows_after(store, layout.name, "id", 20) == 5
    first = scan_rows_after(store, layout.name, "id", ("wiki", "event_user_id"), 0, 10)
    assert first[0] == KeyedRow(1, ("dewiki", 0)) and first[1] == KeyedRow(2, ("enwiki", 1))
    assert [row.key for row in first] == list(range(1, 11))
    rest = scan_rows_after(store, layout.name, "id", ("event_action",), first[-1].key, 100)
    assert [row.values for row in rest] == [(f"a{i}",) for i in range(10, 25)]
    assert scan_rows_after(store, layout.name, "id", ("wiki",), 25, 10) == []

    assert delete_rows(store, layout.name, "id", [2, 4, 99]) == 2
    assert delete_rows(store, layout.name, "id", []) == 0
    assert count_rows_after(store, layout.name, "id", 0) == 23
    assert [row.key for row in scan_rows_after(store, layout.name, "id", (), 0, 4)] == [1, 3, 5, 6]


def test_deletes_of_more_keys_than_one_statement_takes(store: Store) -> None:
    many = IN_LIMIT * 2 + 10
    layout = fill_events(store, many + 5)
    assert delete_rows(store, layout.name, "id", list(range(1, many + 1))) == many
    assert [row.key for row in scan_rows_after(store, layout.name, "id", (), 0, 100)] == [
        many + 1, many + 2, many + 3, many + 4, many + 5,
    ]  # fmt: skip


def test_the_counts_table_has_a_column_per_measure_in_order() -> None:
    from el_monitor.measures import MEASURES
    from el_monitor.store.counts import Measures

    assert Measures._fields == MEASURES
