"""Fixtures for the real servers: Graphite (Debian's graphite-carbon + graphite-web), SMTP.

Loaded as a plugin by tests/conftest.py (`pytest_plugins = ["harness.fixtures"]`).

- `graphite_server` (session): a started private GraphiteServer, shared by every test of the
  run (give each test its own metric names); skips when the packages are missing.
- Tests that use it are marked `graphite`, so `pytest -m "not graphite"` runs without them.
- When such a test fails, the tail of carbon-cache's and graphite-web's logs is added to its
  report.
- `mariadb_servers`: a factory of private MariaDB servers (harness/mariadb.py) for one test,
  each stopped when the test ends; the test skips when mariadbd is not installed.
- `jetstream_stream`: a JetStream stream of the test's own on the shared NATS server
  (harness/jetstream.py), deleted with its consumers when the test ends; skips without NATS.
- `private_nats`: a started ``nats-server -js`` of the test's own (harness/nats.py), stopped
  and its directory removed when the test ends; skips when nats-server is not installed.
- `smtp`: a real SMTP server (aiosmtpd) of the test's own; `.port`, and `.handler`, the Inbox
  of what it received.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.graphite import GraphiteServer, missing_packages
from harness.jetstream import TestStream
from harness.mariadb import MariaDBServer
from harness.mariadb import missing_reason as mariadb_missing
from harness.nats import NatsServer, server_path, shared_reason
from harness.smtp import FreePortController, smtp_server

GRAPHITE_FIXTURES = {"graphite_server"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "graphite: needs Debian's graphite-carbon and graphite-web (a real Graphite)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if GRAPHITE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.graphite)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    report = yield
    server = getattr(item, "funcargs", {}).get("graphite_server")
    if report.failed and isinstance(server, GraphiteServer):
        report.sections.append(("graphite logs", server.logs()))
    return report


@pytest.fixture(scope="session")
def graphite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphiteServer]:
    """A private carbon-cache + graphite-web on free ports, for the whole session.

    Schemas are the project's graphite/*.conf with 1 s resolution (see GraphiteServer). Its
    directory is under pytest's basetemp, kept after the run for post-mortems.
    """
    missing = missing_packages()
    if missing:
        pytest.skip(
            f"graphite-carbon/graphite-web not installed ({', '.join(missing)} missing): "
            "run scripts/ensure-monitoring as root"
        )
    with GraphiteServer(tmp_path_factory.mktemp("graphite")) as server:
        yield server


@pytest.fixture
def jetstream_stream() -> Iterator[TestStream]:
    """A new stream with a unique name and subject on the shared NATS server."""
    reason = shared_reason()
    if reason:
        pytest.skip(reason)
    stream = TestStream()
    stream.create()
    try:
        yield stream
    finally:
        stream.delete()


@pytest.fixture
def private_nats(tmp_path: Path) -> Iterator[NatsServer]:
    """A private ``nats-server -js`` (own port and store directory, removed afterwards)."""
    if server_path() is None:
        pytest.skip("nats-server not found (Debian's nats-server package provides it)")
    with NatsServer(tmp_path / "nats") as server:
        yield server


@pytest.fixture
def smtp() -> Iterator[FreePortController]:
    """A real SMTP server on 127.0.0.1 and a free port, for one test.

    ``smtp.port`` is where to send; ``smtp.handler`` (an Inbox) holds every message received.
    It takes mail without a login, and AUTH PLAIN for the users put in
    ``smtp.handler.accounts``.
    """
    with smtp_server() as server:
        yield server


@pytest.fixture
def mariadb_servers(tmp_path: Path) -> Iterator[Callable[..., MariaDBServer]]:
    """``mariadb_servers(server_id, *options)``: a started private MariaDB server of this
    test's own (own datadir, port and socket), stopped when the test ends."""
    reason = mariadb_missing()
    if reason:
        pytest.skip(reason)
    started: list[MariaDBServer] = []

    def start(server_id: int, *options: str) -> MariaDBServer:
        server = MariaDBServer(tmp_path / f"mariadb-{server_id}", server_id, options)
        started.append(server)
        server.start()
        return server

    try:
        yield start
    finally:
        for server in reversed(started):
            server.stop()


@pytest.fixture(scope="session")
def interleaved_mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDBServer]:
    """A private MariaDB whose LOADs take no table lock (``innodb_autoinc_lock_mode=2``), as
    the MySQL store's preload wants: one for the session, each test a database of its own."""
    reason = mariadb_missing()
    if reason:
        pytest.skip(reason)
    server = MariaDBServer(
        tmp_path_factory.mktemp("mariadb-interleaved"), 90, ("--innodb-autoinc-lock-mode=2",)
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
