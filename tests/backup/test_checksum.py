"""range_checksum and the chunk bounds on the shared server, in a database of the test's own:
equal content gives equal checksums whatever the column order, and every kind of drift (a
changed value, NULL for '', a missing row, values moved between columns) changes them."""

from __future__ import annotations

import pytest

from el_monitor.errors import UserError
from el_monitor.store import open_store
from el_monitor.store.checksum import (
    IdSpan,
    RangeChecksum,
    chunks,
    id_span,
    newest_timestamp,
    next_id,
    range_checksum,
    table_checksum,
)

TABLE_A = (
    "CREATE TABLE t_a (id BIGINT PRIMARY KEY, a VARCHAR(20) NULL, b VARCHAR(20) NULL, "
    "n DOUBLE NULL, `timestamp` VARCHAR(14) NULL)"
)
TABLE_B = (
    "CREATE TABLE t_b (id BIGINT PRIMARY KEY, `timestamp` VARCHAR(14) NULL, "
    "n DOUBLE NULL, b VARCHAR(20) NULL, a VARCHAR(20) NULL)"
)  # same columns, other order
ROWS = [(i, f"a{i}", f"b{i}", i / 3, f"2026010100{i % 60:02d}00") for i in range(1, 101)]


@pytest.fixture
def store(mysql_url):
    opened = open_store(mysql_url)
    opened.execute(TABLE_A)
    opened.execute(TABLE_B)
    for table in ("t_a", "t_b"):
        opened.execute_all(
            [(f"INSERT INTO {table} (id, a, b, n, `timestamp`) VALUES (%s, %s, %s, %s, %s)",
              row) for row in ROWS]
        )  # fmt: skip
    yield opened
    opened.close()


def test_equal_rows_give_equal_checksums_whatever_the_column_order(store):
    a = range_checksum(store, "t_a", 1, 100)
    assert a == range_checksum(store, "t_b", 1, 100)
    assert a.rows == 100 and a.checksum != 0
    assert range_checksum(store, "t_a", 11, 20).rows == 10
    assert range_checksum(store, "t_a", 500, 600) == RangeChecksum(0, 0)


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE t_b SET a = 'changed' WHERE id = 42",
        "UPDATE t_b SET a = '' WHERE id = 42",
        "UPDATE t_b SET n = n + 0.000001 WHERE id = 42",
        "UPDATE t_b SET n = NULL WHERE id = 42",
        "UPDATE t_b SET a = 'a4', b = '2b42' WHERE id = 42",  # 'a42','b42' → 'a4','2b42'
    ],
)
def test_a_changed_row_changes_the_checksum_of_its_range_only(store, change):
    store.execute(change)
    assert range_checksum(store, "t_a", 41, 50) != range_checksum(store, "t_b", 41, 50)
    assert range_checksum(store, "t_a", 1, 40) == range_checksum(store, "t_b", 1, 40)
    assert range_checksum(store, "t_a", 43, 100) == range_checksum(store, "t_b", 43, 100)


def test_null_and_empty_text_differ(store):
    store.execute("UPDATE t_a SET a = NULL WHERE id = 7")
    store.execute("UPDATE t_b SET a = '' WHERE id = 7")
    assert range_checksum(store, "t_a", 1, 10) != range_checksum(store, "t_b", 1, 10)
    store.execute("UPDATE t_b SET a = NULL WHERE id = 7")
    assert range_checksum(store, "t_a", 1, 10) == range_checksum(store, "t_b", 1, 10)


def test_a_null_moved_to_a_neighbour_column_is_found(store):
    store.execute("UPDATE t_a SET a = 'x', b = NULL WHERE id = 5")
    store.execute("UPDATE t_b SET a = NULL, b = 'x' WHERE id = 5")
    assert range_checksum(store, "t_a", 1, 10) != range_checksum(store, "t_b", 1, 10)


def test_the_whole_table_checksum_agrees_on_copies_and_follows_the_column_order(store):
    store.execute("CREATE TABLE t_c LIKE t_a")
    store.execute("INSERT INTO t_c SELECT * FROM t_a")
    whole = table_checksum(store, "t_a")
    assert whole.rows == 100 and whole.checksum != 0
    assert table_checksum(store, "t_c") == whole
    assert table_checksum(store, "t_b").checksum != whole.checksum  # same rows, other order
    store.execute("UPDATE t_c SET a = NULL WHERE id = 64")
    assert table_checksum(store, "t_c") != whole
    store.execute("UPDATE t_c SET a = 'a64' WHERE id = 64")
    store.execute("DELETE FROM t_c WHERE id = 3")
    assert table_checksum(store, "t_c").rows == 99


def test_newest_timestamp_is_the_largest_set(store):
    assert newest_timestamp(store, "t_a") == "20260101005900"
    store.execute("UPDATE t_a SET `timestamp` = NULL")
    assert newest_timestamp(store, "t_a") is None


def test_a_missing_row_changes_the_count(store):
    store.execute("DELETE FROM t_b WHERE id = 99")
    assert range_checksum(store, "t_a", 91, 100).rows == 10
    assert range_checksum(store, "t_b", 91, 100).rows == 9


def test_before_leaves_out_newer_timestamps_and_keeps_nulls(store):
    store.execute("UPDATE t_a SET `timestamp` = NULL WHERE id = 1")
    kept = range_checksum(store, "t_a", 1, 100, before="20260101000500")
    # rows 1 (NULL), and ids whose minute is 0..4: 60, 61..64 and 1..4 → 1, 2, 3, 4, 60..64
    assert kept.rows == 1 + 3 + 5
    assert id_span(store, "t_a", before="20260101000100") == IdSpan(1, 60)


def test_chunks_cover_the_span_and_stretch_over_gaps(store):
    store.execute("DELETE FROM t_a WHERE id BETWEEN 20 AND 69")
    span = id_span(store, "t_a")
    assert span == IdSpan(1, 100)
    assert next_id(store, "t_a", 19, 100) == 70
    assert next_id(store, "t_a", 100, 100) is None
    found = list(chunks(store, "t_a", span, 25))
    assert found == [IdSpan(1, 69), IdSpan(70, 94), IdSpan(95, 100)]
    assert [range_checksum(store, "t_a", c.first, c.last).rows for c in found] == [19, 25, 6]
    assert list(chunks(store, "t_a", IdSpan(0, 500), 1000)) == [IdSpan(0, 500)]
    assert id_span(store, "t_b") == IdSpan(1, 100)
    store.execute("DELETE FROM t_b")
    assert id_span(store, "t_b") is None


def test_sqlite_is_refused_with_one_clear_error(tmp_path):
    sqlite = open_store(f"sqlite:///{tmp_path}/el.db")
    with pytest.raises(UserError, match="need MySQL or MariaDB"):
        range_checksum(sqlite, "t", 1, 10)
    sqlite.close()
