"""Shared fixtures: a real MariaDB (EL_TEST_MYSQL_URL), one fresh database per test, and a
store on each engine (`db_url`, `store`: every test using them runs on SQLite and on MariaDB).

`make test` runs scripts/ensure-mariadb first, which starts a private server when none answers,
so the MySQL tests skip only when pytest is run by hand without any server.

The real servers' fixtures (Graphite, SMTP) are in harness/fixtures.py, loaded below; the
fixtures at the end serve a family of test files split by concept (catalog, forwarder).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import pymysql
import pytest
from helpers import SCHEMAS

from el_monitor.schema.registry import SchemaRegistry, open_registry
from el_monitor.store import Store, open_store

pytest_plugins = ["harness.fixtures"]  # the real Graphite and SMTP fixtures

DEFAULT_MYSQL_URL = "mysql://root@127.0.0.1:3306/test"
TEST_DB_PREFIX = "elm_test_"
MYSQL_FIXTURES = {"mysql_server_url", "mysql_url", "make_mysql_database"}

MakeDatabase = Callable[[], contextlib.AbstractContextManager[str]]


def mysql_connect(url: str, **kwargs: Any) -> pymysql.connections.Connection:
    """Connect to the server of a mysql:// URL (without selecting its database unless asked)."""
    parts = urlsplit(url)
    return pymysql.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=unquote(parts.username or "root"),
        password=unquote(parts.password or ""),
        charset="utf8mb4",
        autocommit=True,
        connect_timeout=5,
        ssl_disabled=True,  # (else PyMySQL loads the CA store, 20 ms a connection: mysql_session)
        **kwargs,
    )


def with_database(url: str, name: str) -> str:
    """The same server URL (user, password, host, port kept) pointing at database `name`."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))


@contextlib.contextmanager
def temporary_database(server_url: str) -> Iterator[str]:
    """Create a uniquely named utf8mb4 database, yield its URL, drop it whatever happens."""
    # The pid says which run left a database behind if a run is killed before teardown.
    name = f"{TEST_DB_PREFIX}{os.getpid()}_{secrets.token_hex(4)}"
    with mysql_connect(server_url) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    try:
        yield with_database(server_url, name)
    finally:
        with mysql_connect(server_url) as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture(autouse=True)
def state_directory(tmp_path_factory: pytest.TempPathFactory, monkeypatch) -> Iterator[Any]:
    """Each test its own state directory (the default opt-out list lives there), never the
    user's: commands and the processes tests start read ``$STATE_DIRECTORY``."""
    path = tmp_path_factory.getbasetemp() / "state" / secrets.token_hex(6)
    monkeypatch.setenv("STATE_DIRECTORY", str(path))
    yield path


@pytest.fixture(autouse=True)
def no_stray_el_monitor() -> Iterator[None]:
    """An el-monitor process a test started and left running (it failed before stopping it)
    is killed when the test ends, so it holds no port, file or consumer into the next one."""
    before = set(_el_monitor_children())
    yield
    for pid in _el_monitor_children():
        if pid not in before:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _el_monitor_children() -> Iterator[int]:
    """This process's children that run el-monitor (``python -m el_monitor.cli``, the
    ``el-monitor`` script, a ``check_el_*`` plugin)."""
    for task in os.scandir("/proc/self/task"):
        with contextlib.suppress(OSError):
            for pid in Path(task.path, "children").read_text().split():
                with contextlib.suppress(OSError):
                    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:3]
                    if _runs_el_monitor(argv):
                        yield int(pid)


def _runs_el_monitor(argv: list[bytes]) -> bool:
    for i, arg in enumerate(argv):
        if arg == b"-m" and argv[i + 1 : i + 2] and argv[i + 1].startswith(b"el_monitor"):
            return True
        name = os.path.basename(arg)
        if name == b"el-monitor" or name.startswith(b"check_el_"):
            return True
    return False


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Tag every test that needs the server, so `pytest -m "not mysql"` runs without one.
    for item in items:
        if MYSQL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.mysql)


@pytest.fixture(scope="session")
def mysql_server_url() -> str:
    """URL of the test server; skips the test when nothing usable answers there."""
    url = os.environ.get("EL_TEST_MYSQL_URL") or DEFAULT_MYSQL_URL
    if urlsplit(url).scheme != "mysql":
        pytest.fail(f"EL_TEST_MYSQL_URL={url!r} is not a mysql:// URL")
    try:
        with mysql_connect(url) as conn:
            conn.ping(reconnect=False)
    except pymysql.MySQLError as exc:
        pytest.skip(
            f"no usable MariaDB at {url} ({exc}); run `make test`, which starts one via "
            "scripts/ensure-mariadb, or set EL_TEST_MYSQL_URL"
        )
    return url


@pytest.fixture(scope="session")
def make_mysql_database(mysql_server_url: str) -> MakeDatabase:
    """Factory for extra scratch databases: `with make_mysql_database() as url: ...`.

    For tests needing several databases at once (backup restore, replication checks).
    """
    return lambda: temporary_database(mysql_server_url)


@pytest.fixture
def mysql_url(make_mysql_database: MakeDatabase) -> Iterator[str]:
    """A fresh, empty utf8mb4 database for one test, dropped afterwards even on failure."""
    with make_mysql_database() as url:
        yield url


@pytest.fixture
def interleaved_mysql_url(interleaved_mariadb) -> Iterator[str]:
    """A fresh database on the private server whose LOADs take no table lock, where the
    MySQL store preloads (``interleaved_mariadb``)."""
    with temporary_database(interleaved_mariadb.url) as url:
        yield url


@pytest.fixture(params=["open-load", "load-statements"])
def preloading_mysql_url(request: pytest.FixtureRequest) -> str:
    """A fresh database where the MySQL store preloads: into one LOAD left open for the
    batch (``interleaved_mysql_url``), or (on the shared server, whose LOADs lock their table
    in MariaDB's default ``innodb_autoinc_lock_mode`` 1) a few hundred rows a statement."""
    name = "interleaved_mysql_url" if request.param == "open-load" else "mysql_url"
    return request.getfixturevalue(name)


@pytest.fixture(params=["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """A fresh, empty database for one test: the test runs once on SQLite (a file in
    tmp_path) and once on MariaDB (`mysql_url`)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/el.db"
    return request.getfixturevalue("mysql_url")


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """`db_url`, opened (on each engine); closed after the test."""
    opened = open_store(db_url)
    yield opened
    opened.close()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """A fresh, empty SQLite database for one test (a file in tmp_path), for the tests that
    run on SQLite only."""
    return f"sqlite:///{tmp_path}/el.db"


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> SchemaRegistry:
    """The bundled example schemas as a registry, opened once per test module."""
    return open_registry(str(SCHEMAS), tmp_path_factory.mktemp("cache"))
