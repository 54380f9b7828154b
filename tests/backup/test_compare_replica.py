"""``el-monitor backup compare`` between a private primary and its GTID replica (ROW
binlogs): a replica equal to its primary, one changed, deleted or NULL-for-'' row found in its
chunk and only there, a table missing on the replica, a server that is no replica, stopped
replication, and rows newer than the lag allowance that the replica has not applied."""

from __future__ import annotations

import pytest

from .compare_support import TABLE, compare, now, seed

CHUNK = ("--chunk-size", "100")


@pytest.fixture
def pair(mariadb_servers):
    """A primary with 1000 rows of TABLE and a second table, and its caught-up replica."""
    primary = mariadb_servers(1)
    replica = mariadb_servers(2)
    replica.replicate_from(primary)
    seed(primary.url, 1000)
    seed(primary.url, 30, schema="OtherTest")
    replica.wait_caught_up(primary)
    return primary, replica


def chunk_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if " ids " in line]


def state(out: str, table: str) -> list[str]:
    """table, state, rows, left out, chunks differing: the table's line of the summary."""
    [line] = [
        line for line in out.splitlines() if line.startswith(table + " ") and " ids " not in line
    ]
    return line.split()


def run(capsys, primary, replica, *args: str) -> tuple[int, str]:
    status, out, _ = compare(capsys, "--primary", primary.url, "--replica", replica.url, *args)
    return status, out


def test_a_caught_up_replica_is_the_same(pair, capsys):
    status, out = run(capsys, *pair, *CHUNK)
    assert status == 0, out
    assert out.startswith("replication: running: 0 s behind")
    assert state(out, TABLE)[:5] == [TABLE, "same", "1000", "0", "0"]
    assert state(out, "OtherTest_1")[:3] == ["OtherTest_1", "same", "30"]
    assert chunk_lines(out) == []


def test_a_row_changed_on_the_replica_is_found_in_its_chunk_only(pair, capsys):
    primary, replica = pair
    replica.execute(f"UPDATE test.{TABLE} SET event_count = event_count + 1 WHERE id = 537")
    status, out = run(capsys, *pair, *CHUNK)
    assert status == 1, out
    assert chunk_lines(out) == [
        f"{TABLE} ids 501-600: primary 100 rows, replica 100 rows, checksums differ"
    ]
    assert state(out, TABLE)[:5] == [TABLE, "differs", "1000", "0", "1"]
    assert state(out, "OtherTest_1")[1] == "same"


def test_a_row_deleted_on_the_replica_is_found(pair, capsys):
    primary, replica = pair
    replica.execute(f"DELETE FROM test.{TABLE} WHERE id = 250")
    status, out = run(capsys, *pair, *CHUNK)
    assert status == 1, out
    assert chunk_lines(out) == [f"{TABLE} ids 201-300: primary 100 rows, replica 99 rows"]


def test_null_turned_into_empty_text_on_the_replica_is_found(pair, capsys):
    primary, replica = pair
    assert replica.value(f"SELECT event_action FROM test.{TABLE} WHERE id = 701") is None
    replica.execute(f"UPDATE test.{TABLE} SET event_action = '' WHERE id = 701")
    status, out = run(capsys, *pair, *CHUNK)
    assert status == 1, out
    assert chunk_lines(out) == [
        f"{TABLE} ids 701-800: primary 100 rows, replica 100 rows, checksums differ"
    ]


def test_a_table_missing_on_the_replica_is_reported(pair, capsys):
    primary, replica = pair
    replica.execute("DROP TABLE test.OtherTest_1")
    status, out = run(capsys, *pair)
    assert status == 1, out
    assert state(out, "OtherTest_1")[:4] == ["OtherTest_1", "missing", "on", "replica"]
    assert state(out, TABLE)[1] == "same"


def test_a_server_that_replicates_from_nothing_is_not_a_replica(mariadb_servers, capsys):
    primary = mariadb_servers(1)
    other = mariadb_servers(3)
    status, out = run(capsys, primary, other)
    assert status == 3, out
    assert out.strip() == "replication: not a replica: server_id 3 replicates from nothing"


def test_stopped_replication_has_its_own_status(pair, capsys):
    primary, replica = pair
    replica.execute("STOP SLAVE")
    status, out = run(capsys, *pair)
    assert status == 5, out
    assert "replication: stopped: IO thread No, SQL thread No" in out
    assert chunk_lines(out) == []  # what it had applied is still the primary's


def test_rows_newer_than_the_allowance_are_left_out_while_the_sql_thread_is_stopped(pair, capsys):
    primary, replica = pair
    replica.execute("STOP SLAVE SQL_THREAD")
    seed(primary.url, 20, start=1000, second=now())
    status, out = run(capsys, *pair, *CHUNK, "--lag-allowance", "3600")
    assert status == 5, out  # the SQL thread is stopped
    assert chunk_lines(out) == []  # but the unapplied rows are no difference
    assert state(out, TABLE)[:5] == [TABLE, "same", "1000", "20", "0"]


def test_a_delayed_replica_differs_only_by_rows_older_than_the_allowance(pair, capsys):
    primary, replica = pair
    replica.execute("STOP SLAVE")
    replica.execute("CHANGE MASTER TO MASTER_DELAY = 3600")
    replica.execute("START SLAVE")
    seed(primary.url, 20, start=1000, second=now())
    status, out = run(capsys, *pair, *CHUNK, "--lag-allowance", "600", "--wait", "1")
    assert status == 0, out
    assert state(out, TABLE)[:5] == [TABLE, "same", "1000", "20", "0"]

    seed(primary.url, 3, start=1020)  # old timestamps: they should be there by now
    status, out = run(capsys, *pair, *CHUNK, "--lag-allowance", "600", "--wait", "1")
    assert status == 1, out
    assert chunk_lines(out) == [f"{TABLE} ids 1001-1023: primary 3 rows, replica 0 rows"]
    assert state(out, TABLE)[:5] == [TABLE, "differs", "1003", "20", "1"]
