"""``el-monitor backup compare --no-replication`` between two databases of the shared server
(no replication involved): same, a difference, a skipped table, and the one-line errors."""

from __future__ import annotations

import pytest

from el_monitor.backup.compare import WHOLE_TABLE
from el_monitor.store import open_store

from .compare_support import TABLE, compare, now, seed

pytestmark = pytest.mark.mysql


@pytest.fixture
def pair(make_mysql_database):
    with make_mysql_database() as first, make_mysql_database() as second:
        for url in (first, second):
            seed(url, 250)
        yield first, second


def test_two_equal_copies_are_the_same(pair, capsys):
    status, out, _ = compare(capsys, "--primary", pair[0], "--replica", pair[1], "--no-replication",
                          "--chunk-size", "100")  # fmt: skip
    assert status == 0, out
    assert "replication: not checked" in out
    line = _table_line(out)
    assert line[:3] == [TABLE, "same", "250"]
    assert " ".join(line).endswith(WHOLE_TABLE)  # nothing written for years: compared at once


def _table_line(out: str) -> list[str]:
    [line] = [line for line in out.splitlines() if line.startswith(TABLE)]
    return line.split()


def _written_lately(pair: tuple[str, str]) -> None:
    for url in pair:
        seed(url, 3, start=250, second=now())


def _columns_reordered(pair: tuple[str, str]) -> None:
    store = open_store(pair[1])
    store.execute(f"ALTER TABLE {TABLE} MODIFY event_ratio DOUBLE NULL AFTER id")
    store.close()


@pytest.mark.parametrize(
    ("prepare", "options", "rows"),
    [
        (None, ("--whole-table-max", "0"), 250),
        (_written_lately, (), 253),
        (_columns_reordered, (), 250),
    ],
    ids=["whole-table-max 0", "written within the allowance", "columns in another order"],
)
def test_copies_are_compared_by_chunks_when_not_whole(pair, capsys, prepare, options, rows):
    if prepare is not None:
        prepare(pair)
    status, out, _ = compare(capsys, "--primary", pair[0], "--replica", pair[1], "--no-replication",
                          *options)  # fmt: skip
    assert status == 0, out
    assert _table_line(out) == [TABLE, "same", str(rows), "0", "0"]  # no whole-table note


def test_a_changed_value_is_listed_with_its_chunk(pair, capsys):
    store = open_store(pair[1])
    store.execute(f"UPDATE {TABLE} SET event_ratio = event_ratio * 2 WHERE id = 150")
    store.close()
    status, out, _ = compare(capsys, "--primary", pair[0], "--replica", pair[1], "--no-replication",
                          "--chunk-size", "100")  # fmt: skip
    assert status == 1, out
    chunks = [line for line in out.splitlines() if " ids " in line]
    assert chunks == [f"{TABLE} ids 101-200: primary 100 rows, replica 100 rows, checksums differ"]


def test_a_column_only_one_copy_has_is_a_difference(pair, capsys):
    store = open_store(pair[1])
    store.execute(f"ALTER TABLE {TABLE} ADD COLUMN event_extra BIGINT NULL")
    store.close()
    status, out, _ = compare(capsys, "--primary", pair[0], "--replica", pair[1], "--no-replication")
    assert status == 1, out
    [line] = [line for line in out.splitlines() if line.startswith(TABLE)]
    assert line.split()[:3] == [TABLE, "columns", "differ"]
    assert line.endswith("not alike on both: event_extra")


def test_tables_on_one_side_only_are_differences_and_empty_ones_the_same(pair, capsys):
    seed(pair[1], 5, schema="OnlyThere")
    for url in pair:
        store = open_store(url)
        store.layout("EmptyTest", "1", {"type": "object", "properties": {}})
        store.close()
    status, out, _ = compare(capsys, "--primary", pair[0], "--replica", pair[1], "--no-replication")
    assert status == 1, out
    lines = {line.split()[0]: line.split()[1:4] for line in out.splitlines()[3:]}
    assert lines["OnlyThere_1"] == ["missing", "on", "primary"]
    assert lines["EmptyTest_1"] == ["same", "0", "0"]
    assert lines[TABLE] == ["same", "250", "0"]


def test_a_named_table_on_neither_side_is_skipped(pair, capsys):
    status, out, _ = compare(capsys, "--primary", pair[0], "--replica", pair[1], "--no-replication",
                          "--table", TABLE, "--table", "Nothing_1")  # fmt: skip
    assert status == 4, out
    [line] = [line for line in out.splitlines() if line.startswith("Nothing_1")]
    assert line.split()[:2] == ["Nothing_1", "skipped"]


def test_sqlite_is_one_clear_error(tmp_path, capsys):
    url = f"sqlite:///{tmp_path}/el.db"
    seed(url, 3)
    status, out, err = compare(capsys, "--primary", url, "--replica", url, "--no-replication")
    assert status == 2
    assert out == ""
    [line] = err.strip().splitlines()
    assert line.startswith("el-monitor: checksums need MySQL or MariaDB")


def test_an_unreachable_server_is_one_clear_error(pair, capsys):
    status, out, err = compare(
        capsys, "--primary", pair[0], "--replica", "mysql://root@127.0.0.1:1/x"
    )
    assert status == 2
    [line] = err.strip().splitlines()
    assert "cannot connect to mysql://root@127.0.0.1:1/x" in line
