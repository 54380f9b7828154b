"""store/replication.py on private servers: status, GTID wait, the read_only fence, promotion
and re-pointing, the heartbeat table; refused on SQLite."""

from __future__ import annotations

import pytest
from harness.wait import wait_until

from el_monitor.errors import UserError
from el_monitor.store import StoreUnavailable, open_store
from el_monitor.store import replication as repl


def test_status_of_a_replica_and_of_a_primary(pair):
    primary, replica, primary_store, replica_store = pair
    assert repl.replica_status(primary_store) is None
    status = wait_until(
        lambda: (s := repl.replica_status(replica_store)) and s.master_server_id and s,
        30,
        "the replica to know its primary's server id",
    )
    assert status.running and (status.io_state, status.sql_state) == ("Yes", "Yes")
    assert (status.master_host, status.master_port) == ("127.0.0.1", primary.port)
    assert status.master_server_id == 1
    assert status.last_io_error == status.last_sql_error == ""
    assert status.seconds_behind == 0
    assert repl.server_id(replica_store) == 2

    repl.stop_replica(replica_store, sql_thread_only=True)
    status = repl.replica_status(replica_store)
    assert status is not None and status.io_running and not status.sql_running
    assert status.seconds_behind is None


def test_gtid_positions_and_wait(pair):
    primary, replica, primary_store, replica_store = pair
    primary.execute("CREATE TABLE test.t (id INT PRIMARY KEY)")
    primary.execute("INSERT INTO test.t VALUES (1)")
    position = repl.gtid_binlog_pos(primary_store)
    assert position.startswith("0-1-") and repl.gtid_current_pos(primary_store) == position
    assert repl.wait_for_gtid(replica_store, position, 30)
    assert repl.gtid_slave_pos(replica_store) == position
    assert repl.replica_status(replica_store).gtid_slave_pos == position
    assert replica.value("SELECT COUNT(*) FROM test.t") == 1

    repl.stop_replica(replica_store, sql_thread_only=True)
    primary.execute("INSERT INTO test.t VALUES (2)")
    ahead = repl.gtid_binlog_pos(primary_store)
    assert not repl.wait_for_gtid(replica_store, ahead, 0.2)  # applied nowhere: times out
    repl.start_replica(replica_store)
    assert repl.wait_for_gtid(replica_store, ahead, 30)
    assert repl.wait_for_gtid(replica_store, "", 0)


def test_read_only_fences_an_ordinary_writer(pair):
    primary, _replica, primary_store, _ = pair
    primary.execute("CREATE TABLE test.t (id INT PRIMARY KEY)")
    primary.execute("CREATE USER writer@'127.0.0.1' IDENTIFIED BY 'pw'")
    primary.execute("GRANT INSERT, SELECT ON test.* TO writer@'127.0.0.1'")
    writer = open_store(f"mysql://writer:pw@127.0.0.1:{primary.port}/test")
    try:
        assert not repl.is_read_only(primary_store)
        writer.execute("INSERT INTO t VALUES (1)")
        repl.set_read_only(primary_store, True)
        assert repl.is_read_only(primary_store)
        with pytest.raises(StoreUnavailable, match="read-only|read_only"):
            writer.execute("INSERT INTO t VALUES (2)")
        repl.set_read_only(primary_store, False)
        assert not repl.is_read_only(primary_store)
        writer.execute("INSERT INTO t VALUES (3)")
    finally:
        writer.close()
    assert [id_ for (id_,) in primary.execute("SELECT id FROM test.t ORDER BY id")] == [1, 3]


def test_promote_then_replicate_the_old_primary_from_the_new_one(pair):
    primary, replica, primary_store, replica_store = pair
    primary.execute("CREATE TABLE test.t (id INT PRIMARY KEY)")
    primary.execute("INSERT INTO test.t VALUES (1)")
    repl.set_read_only(primary_store, True)
    assert repl.wait_for_gtid(replica_store, repl.gtid_binlog_pos(primary_store), 30)
    repl.set_read_only(replica_store, True)  # as a replica is usually kept

    repl.promote(replica_store)
    assert repl.replica_status(replica_store) is None
    assert not repl.is_read_only(replica_store)
    replica.execute("INSERT INTO test.t VALUES (2)")

    repl.replicate_from(
        primary_store, "127.0.0.1", replica.port, "root", "",
        start_at=repl.gtid_binlog_pos(primary_store), connect_retry=1,
    )  # fmt: skip
    assert repl.wait_for_gtid(primary_store, repl.gtid_binlog_pos(replica_store), 30)
    assert [id_ for (id_,) in primary.execute("SELECT id FROM test.t ORDER BY id")] == [1, 2]
    status = repl.replica_status(primary_store)
    assert status is not None and status.running and status.master_port == replica.port


def test_heartbeat_rows_replicate_and_age_by_the_readers_clock(pair):
    primary, replica, primary_store, replica_store = pair
    assert repl.read_heartbeat(replica_store, 1) is None  # no table yet
    repl.create_heartbeat(primary_store)
    repl.create_heartbeat(primary_store)  # idempotent
    assert repl.read_heartbeat(primary_store, 1) is None  # no row yet
    repl.write_heartbeat(primary_store)
    first = repl.read_heartbeat(primary_store, 1)
    repl.write_heartbeat(primary_store)
    replica.wait_caught_up(primary)
    beat = repl.read_heartbeat(replica_store, 1)
    assert beat is not None and beat.server_id == 1 and beat.written >= first.written
    precision = primary.value(
        "SELECT DATETIME_PRECISION FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = 'test' AND TABLE_NAME = 'el_monitor_heartbeat' AND COLUMN_NAME = 'ts'"
    )
    assert precision == 6  # microseconds
    assert primary.value("SELECT COUNT(*) FROM test.el_monitor_heartbeat") == 1  # one per server
    assert beat.age >= 0
    newest = repl.read_heartbeat(replica_store, None)
    assert newest is not None and (newest.server_id, newest.written) == (1, beat.written)
    assert repl.read_heartbeat(replica_store, 99) is None


def test_another_database_for_the_heartbeat(pair):
    primary, replica, primary_store, replica_store = pair
    primary.execute("CREATE DATABASE ops")
    repl.create_heartbeat(primary_store, "ops")
    repl.write_heartbeat(primary_store, "ops")
    replica.wait_caught_up(primary)
    assert repl.read_heartbeat(replica_store, 1, "ops").server_id == 1
    assert repl.read_heartbeat(replica_store, 1) is None
    with pytest.raises(UserError, match="bad database name"):
        repl.read_heartbeat(replica_store, 1, "ops`; DROP")


def test_sqlite_is_refused_in_one_clear_line(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'events.db'}")
    try:
        with pytest.raises(UserError, match="needs a MySQL/MariaDB database"):
            repl.replica_status(store)
        with pytest.raises(UserError, match="needs a MySQL/MariaDB database"):
            repl.write_heartbeat(store)
    finally:
        store.close()
