"""The MariaDB fixtures themselves: fresh database per test, dropped afterwards."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from conftest import TEST_DB_PREFIX, MakeDatabase, mysql_connect


def database_exists(server_url: str, name: str) -> bool:
    with mysql_connect(server_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (name,)
        )
        return cur.fetchone()[0] == 1


def db_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def test_mysql_url_round_trip(mysql_url: str) -> None:
    with mysql_connect(mysql_url, database=db_name(mysql_url)) as conn, conn.cursor() as cur:
        cur.execute(
            "CREATE TABLE probe (id INT AUTO_INCREMENT PRIMARY KEY, body VARCHAR(191))"
            " ENGINE=InnoDB"
        )
        # A 4-byte character: only survives if the database really is utf8mb4.
        cur.executemany("INSERT INTO probe (body) VALUES (%s)", [("plain",), ("snow ☃ 🦄",)])
        cur.execute("SELECT body FROM probe ORDER BY id")
        assert [row[0] for row in cur.fetchall()] == ["plain", "snow ☃ 🦄"]


def test_mysql_url_is_a_fresh_utf8mb4_database(mysql_url: str, mysql_server_url: str) -> None:
    url, server = urlsplit(mysql_url), urlsplit(mysql_server_url)
    assert db_name(mysql_url).startswith(TEST_DB_PREFIX)
    assert (url.scheme, url.netloc) == (server.scheme, server.netloc)  # credentials kept
    with mysql_connect(mysql_url, database=db_name(mysql_url)) as conn, conn.cursor() as cur:
        cur.execute("SHOW TABLES")
        assert cur.fetchall() == ()
        cur.execute("SELECT @@character_set_database")
        assert cur.fetchone()[0] == "utf8mb4"


def test_database_is_dropped_after_use(
    make_mysql_database: MakeDatabase, mysql_server_url: str
) -> None:
    with make_mysql_database() as url:
        name = db_name(url)
        with mysql_connect(url, database=name) as conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE t (x INT)")
        assert database_exists(mysql_server_url, name)
    assert not database_exists(mysql_server_url, name)


def test_database_is_dropped_when_the_test_fails(
    make_mysql_database: MakeDatabase, mysql_server_url: str
) -> None:
    with pytest.raises(RuntimeError), make_mysql_database() as url:
        name = db_name(url)
        raise RuntimeError("test body failed")
    assert not database_exists(mysql_server_url, name)


def test_databases_are_distinct(make_mysql_database: MakeDatabase) -> None:
    with make_mysql_database() as first, make_mysql_database() as second:
        assert db_name(first) != db_name(second)
