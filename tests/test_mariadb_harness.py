"""The private-server harness itself: a server of its own, GTID replication between two,
a restart that keeps the data, and a kill."""

from __future__ import annotations

import pymysql
import pytest


def test_two_private_servers_replicate_rows_and_keep_them_across_a_restart(mariadb_servers):
    primary = mariadb_servers(1)
    replica = mariadb_servers(2)
    assert primary.port != replica.port
    replica.replicate_from(primary)
    primary.execute("CREATE TABLE test.t (id INT PRIMARY KEY, v VARCHAR(10))")
    primary.execute("INSERT INTO test.t VALUES (1, 'a'), (2, 'b')")
    replica.wait_caught_up(primary)
    assert replica.execute("SELECT id, v FROM test.t ORDER BY id") == [(1, "a"), (2, "b")]
    assert replica.value("SELECT @@server_id") == 2

    replica.stop()
    replica.start()
    assert replica.value("SELECT COUNT(*) FROM test.t") == 2


def test_a_killed_server_refuses_connections(mariadb_servers):
    server = mariadb_servers(7)
    server.kill()
    with pytest.raises(pymysql.err.OperationalError):
        server.connect()
