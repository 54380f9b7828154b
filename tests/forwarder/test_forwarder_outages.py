"""The database going away: killed connections and a server outage mid-run are spooled then
drained, without a spool the forwarder waits for the database, and a spool left by an earlier
run (even a damaged one) is drained at start."""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path

import pymysql
from harness.wait import wait_until
from helpers import SCHEMAS, ListSource, idle_until, valid_lines

from el_monitor.ingest.forwarder import Forwarder, ForwarderSettings
from el_monitor.measures import OVERALL
from el_monitor.schema.registry import DirectoryRegistry
from el_monitor.store import open_store

from .support import count_rows, forward


@contextlib.contextmanager
def admin_cursor(mysql_url: str):
    """A cursor on the server behind ``mysql_url``, outside the forwarder's connection."""
    from urllib.parse import urlsplit

    parts = urlsplit(mysql_url)
    admin = pymysql.connect(
        host=parts.hostname,
        port=parts.port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
        autocommit=True,
    )
    try:
        with admin.cursor() as cursor:
            yield cursor
    finally:
        admin.close()


def mysql_connection_ids(mysql_url: str) -> list[int]:
    from urllib.parse import urlsplit

    with admin_cursor(mysql_url) as cursor:
        database = urlsplit(mysql_url).path.lstrip("/")
        cursor.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s", (database,))
        return [row[0] for row in cursor.fetchall()]


def kill_connections(mysql_url: str) -> int:
    ids = mysql_connection_ids(mysql_url)
    with admin_cursor(mysql_url) as cursor:
        for ident in ids:
            cursor.execute(f"KILL CONNECTION {int(ident)}")
    return len(ids)


class KillingSource(ListSource):
    """Kills the forwarder's database connections after some chunks, mid-run."""

    def __init__(self, lines, mysql_url: str, kill_after: list[int]):
        super().__init__(lines, chunk=100)
        self.mysql_url = mysql_url
        self.kill_after = kill_after
        self.killed = 0

    def chunks(self, stop):
        for index, chunk in enumerate(super().chunks(stop)):
            if index in self.kill_after:
                # Wait (idling, so the forwarder can reconnect and drain) for a live connection.
                yield from idle_until(
                    lambda: mysql_connection_ids(self.mysql_url),
                    stop,
                    120,
                    "the forwarder to reconnect to the database",
                )
                self.killed += kill_connections(self.mysql_url)
            yield chunk


def test_killed_connection_spools_and_recovers_exactly(mysql_url, tmp_path):
    lines = valid_lines(3000)
    source = KillingSource(lines, mysql_url, kill_after=[5, 12, 20])
    spool = tmp_path / "spool"
    result = forward(source, mysql_url, spool_dir=str(spool), batch_size=300)
    assert source.killed >= 3
    assert result.pending == 0
    assert result.counts.get(OVERALL, "valid") == 3000
    assert count_rows(mysql_url) == 3000
    assert not list(spool.glob("*.jsonl"))  # drained


class Outage:
    """A TCP proxy in front of MariaDB that can drop every connection and refuse new ones."""

    def __init__(self, mysql_url: str):
        from urllib.parse import urlsplit

        parts = urlsplit(mysql_url)
        self.target = (parts.hostname, parts.port or 3306)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        # The same database, reached through this proxy.
        self.url = parts._replace(
            netloc=f"{parts.username or 'root'}@127.0.0.1:{self.port}"
        ).geturl()
        self.down = threading.Event()
        self.refused = 0  # connections turned away while down
        self.sockets: list[socket.socket] = []  # the live ones, cut by cut()
        self.opened: list[socket.socket] = []  # all of them, closed by close()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.down.is_set():
                client.close()
                self.refused += 1
                continue
            upstream = socket.create_connection(self.target)
            for end in (client, upstream):  # as the driver's own socket: no Nagle delays
                end.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                self.sockets += [client, upstream]
                self.opened += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self):
        self.down.set()
        with self.lock:
            for s in self.sockets:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
            self.sockets = []

    def restore(self):
        self.down.clear()

    def close(self):
        self.cut()
        self.listener.close()
        with self.lock:
            for s in self.opened:
                s.close()


def test_server_going_away_mid_run_spools_then_drains(mysql_url, tmp_path):
    proxy = Outage(mysql_url)
    spool = tmp_path / "spool"
    source = _OutageMidRun(ListSource(valid_lines(4000), chunk=100), proxy, spool)
    try:
        result = forward(
            source, proxy.url, spool_dir=str(spool), batch_size=200, flush_interval=0.2
        )
    finally:
        proxy.close()
    assert source.spooled_during_outage
    assert result.counts.get(OVERALL, "spooled") > 0
    assert result.pending == 0
    assert count_rows(mysql_url) == 4000
    assert not list(spool.glob("*.jsonl"))


class _OutageMidRun:
    """Wraps a source so the outage lands mid-run, by the run's progress rather than a clock:
    the server goes away after the 5th chunk; at the 25th the source idles (the forwarder
    keeps flushing) until a batch was spooled, then the server comes back."""

    name = "outage://"

    def __init__(self, source, proxy: Outage, spool: Path):
        self.source, self.proxy, self.spool = source, proxy, spool
        self.spooled_during_outage = False

    def chunks(self, stop):
        for index, chunk in enumerate(self.source.chunks(stop)):
            if index == 5:
                self.proxy.cut()  # the server "goes away" mid-run
            if index == 25:
                yield from idle_until(
                    lambda: list(self.spool.glob("*.jsonl")),
                    stop,
                    120,
                    "a batch spooled while the database is away",
                )
                self.spooled_during_outage = True
                self.proxy.restore()
            yield chunk

    def commit(self, position):
        self.source.commit(position)

    def close(self):
        self.source.close()


def test_without_spool_the_forwarder_waits_for_the_database(mysql_url):
    proxy = Outage(mysql_url)
    proxied = proxy.url
    store = open_store(proxied)  # connect while the server is there
    proxy.cut()
    retried: list[str] = []

    def restore_once_retried() -> None:
        try:
            wait_until(lambda: proxy.refused, 120, "the forwarder to try the database again")
            retried.append("yes")
        finally:
            proxy.restore()  # whatever happened: the forwarder must not wait forever

    restorer = threading.Thread(target=restore_once_retried)
    restorer.start()
    try:
        forwarder = Forwarder(
            ForwarderSettings(host="t", batch_size=100),
            ListSource(valid_lines(500)),
            DirectoryRegistry(SCHEMAS),
            store,
        )
        result = forwarder.run(threading.Event())
    finally:
        restorer.join()
        store.close()
        proxy.close()
    assert retried, "the forwarder never tried the database while it was away"
    assert result.pending == 0
    assert count_rows(mysql_url) == 500


def test_spool_left_by_an_earlier_run_is_drained_at_start(tmp_path, sqlite_url):
    from el_monitor.event.formats import make_parser
    from el_monitor.ingest.spool import Spool

    parse = make_parser("json", "t")
    Spool(tmp_path / "spool").put([parse(line, None) for line in valid_lines(50)])
    result = forward(
        ListSource(valid_lines(10, start=1000)), sqlite_url, spool_dir=str(tmp_path / "spool")
    )
    assert result.counts.get(OVERALL, "inserted") == 60
    assert count_rows(sqlite_url) == 60
    assert Path(tmp_path / "spool").is_dir() and not list((tmp_path / "spool").glob("*.jsonl"))


def test_an_unreadable_spool_file_is_set_aside_and_the_rest_drained(tmp_path, sqlite_url, caplog):
    from el_monitor.event.formats import make_parser
    from el_monitor.ingest.spool import Spool

    parse = make_parser("json", "t")
    spool = Spool(tmp_path / "spool")
    spool.put([parse(line, None) for line in valid_lines(30)])
    truncated = spool.put([parse(line, None) for line in valid_lines(5, start=100)])
    truncated.write_bytes(truncated.read_bytes()[:-40])  # a torn or edited file
    foreign = spool.put([{"schema": "NavigationTiming"}])  # JSON, but no capsule
    spool.put([parse(line, None) for line in valid_lines(20, start=200)])
    more = ListSource(valid_lines(10, start=1000))
    result = forward(more, sqlite_url, spool_dir=str(spool.directory))
    assert result.counts.get(OVERALL, "inserted") == 60 == count_rows(sqlite_url)
    assert result.pending == 0
    assert not spool.files()
    assert {p.name for p in spool.directory.glob("*.corrupt")} == {
        truncated.with_suffix(".corrupt").name, foreign.with_suffix(".corrupt").name,
    }  # fmt: skip
    assert "unreadable" in caplog.text
