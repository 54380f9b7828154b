"""The forwarder end to end, in process: counts, idempotence, bad input, database outages."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from pathlib import Path

import pymysql
import pytest
from harness.wait import wait_until
from helpers import SCHEMAS, ListSource, example_capsules, idle_until, valid_lines

from el_monitor.counts.counters import OVERALL
from el_monitor.ingest.forwarder import Forwarder, ForwarderSettings
from el_monitor.ingest.sources import open_source
from el_monitor.schema.registry import DirectoryRegistry
from el_monitor.store import open_store


def forward(source, db_url: str, **settings) -> tuple:
    store = open_store(db_url)
    try:
        result = Forwarder(
            ForwarderSettings(host="test", **settings), source, DirectoryRegistry(SCHEMAS), store
        ).run(threading.Event())
    finally:
        store.close()
    return result


def count_rows(db_url: str) -> int:
    """Rows in every event table (the el_monitor_* bookkeeping tables excluded)."""
    store = open_store(db_url)
    try:
        tables = [t for t in store.tables() if not t.startswith("el_monitor_")]
        quote = store.dialect.quote
        return sum(store.query(f"SELECT COUNT(*) FROM {quote(t)}")[0][0] for t in tables)
    finally:
        store.close()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path}/el.db"


def test_every_example_is_stored_and_counted(sqlite_url):
    lines = valid_lines(len(example_capsules()))
    result = forward(ListSource(lines), sqlite_url)
    overall = result.counts.scopes[OVERALL]
    assert overall["raw"] == overall["valid"] == overall["inserted"] == len(lines)
    assert overall["invalid"] == 0
    assert result.counts.get("NavigationTiming", "inserted") == 1
    assert count_rows(sqlite_url) == len(lines)


def test_replay_adds_no_rows(sqlite_url):
    lines = valid_lines(500)
    first = forward(ListSource(lines), sqlite_url)
    again = forward(ListSource(lines), sqlite_url)
    assert first.counts.get(OVERALL, "inserted") == 500
    assert again.counts.get(OVERALL, "valid") == 500
    assert again.counts.get(OVERALL, "inserted") == 0
    assert count_rows(sqlite_url) == 500


def test_json_lines_without_uuid_replay_idempotently(sqlite_url):
    lines = [json.dumps(c).encode() for c in example_capsules()]
    forward(ListSource(lines), sqlite_url)
    forward(ListSource(lines), sqlite_url)
    assert count_rows(sqlite_url) == len(lines)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def bad_corpus() -> tuple[list[bytes], dict]:
    """Hostile lines between good ones, and the exact counts they must produce."""
    good = valid_lines(20)
    nav = {"schema": "NavigationTiming", "revision": "1.7.0", "wiki": "enwiki"}
    evil_value = "'); DROP TABLE NavigationTiming_1_7_0; -- <script>alert(1)</script>"
    lines = [
        good[0][:-7],  # truncated JSON
        b'{"schema":"NavigationTiming","revision":"1.7.0","wiki":"\xff\xfe","event":{}}',
        b'{"schema":"' + b"A" * (10 * 1024 * 1024) + b'"}',  # a 10 MB line
        json.dumps(dict(nav, event={"isAnon": True})).encode()[:-1]
        + b', "deep": '
        + nested(10_000).encode()
        + b"}",  # 10,000-deep nesting
        json.dumps(dict(nav, event={"isAnon": True, "skin": json.loads(nested(900))})).encode(),
        json.dumps(dict(nav, schema="X'; DROP TABLE users; --", event={})).encode(),
        json.dumps(dict(nav, schema="<script>alert(1)</script>", event={})).encode(),
        json.dumps(dict(nav, schema="NoSuchSchema", event={})).encode(),
        json.dumps(dict(nav, revision="9.9.9", event={"isAnon": True})).encode(),
        json.dumps(dict(nav, event={"isAnon": "yes"})).encode(),
        json.dumps(dict(nav, event={"isAnon": True, "extra": 1})).encode(),
        b"{}",
        b"null",
        b"\x00\x01\x02",
        json.dumps(dict(nav, uuid="f" * 32, event={"isAnon": False, "skin": evil_value})).encode(),
    ]
    expected = {
        "raw": len(good) + len(lines),
        "valid": len(good) + 1,
        "invalid": len(lines) - 1,
        "errors": {
            ("parse", None): 5,  # truncated, bad UTF-8, 10 MB, 10,000 deep, NUL bytes
            ("validation", "capsule.schema"): 2,
            ("unknown-schema", None): 2,
            ("validation", "$.skin"): 1,
            ("validation", "$.isAnon"): 1,
            ("validation", "$"): 1,  # unexpected property
            ("validation", "capsule.event"): 1,  # {}
            ("validation", "capsule"): 1,  # null
        },
    }
    mixed = []
    for i, line in enumerate(lines):
        mixed += [good[i], line] if i < len(good) else [line]
    mixed += good[len(lines) :]
    return mixed, expected


def test_bad_lines_are_counted_exactly_and_good_ones_all_stored(tmp_path, sqlite_url):
    lines, expected = bad_corpus()
    path = tmp_path / "bad.log"
    path.write_bytes(b"\n".join(lines) + b"\n")
    logs = tmp_path / "logs"
    result = forward(open_source(f"file://{path}"), sqlite_url, log_dir=str(logs))
    overall = result.counts.scopes[OVERALL]
    assert (overall["raw"], overall["valid"], overall["invalid"]) == (
        expected["raw"],
        expected["valid"],
        expected["invalid"],
    )
    assert dict(result.counts.errors[OVERALL]) == expected["errors"]
    assert overall["inserted"] == expected["valid"]
    assert count_rows(sqlite_url) == expected["valid"]
    # The SQL text is stored verbatim as a value, and nothing was dropped.
    store = open_store(sqlite_url)
    assert store.query("SELECT event_skin FROM NavigationTiming_1_7_0 WHERE uuid = ?", ("f" * 32,))[
        0
    ][0].startswith("'); DROP TABLE")
    store.close()
    # Every invalid event is in the invalid log, with its code; valid ones in the valid log.
    (invalid_log,) = logs.glob("invalid-*.jsonl")
    records = [json.loads(line) for line in invalid_log.read_text().splitlines()]
    assert len(records) == expected["invalid"]
    assert {r["code"] for r in records} == {"parse", "validation", "unknown-schema"}
    assert all(len(r["rawEvent"]) <= 70_000 for r in records)
    (valid_log,) = logs.glob("valid-*.jsonl")
    assert len(valid_log.read_text().splitlines()) == expected["valid"]
    (all_log,) = logs.glob("all-*.jsonl")
    assert len(all_log.read_bytes().splitlines()) == expected["raw"]


def test_format_string_input(sqlite_url, tmp_path):
    from urllib.parse import quote_plus

    capsules = example_capsules()
    lines = [
        f"?{quote_plus(json.dumps(c))}; cp1052 {i} 2026-11-28T05:00:00 10.0.0.{i % 250} "
        f"Mozilla/5.0 (X11; Linux)".encode()
        for i, c in enumerate(capsules)
    ]
    broken = [
        b"?%7B%22schema%22%3A%22Nope%22%7D; cp1052 1 2026-11-28T05:00:00 10.0.0.251 UA",
        b"?%7Bnot-json; cp1052 2 2026-11-28T05:00:00 2001:db8::7 UA",  # parses, event does not
        b"garbage from 10.0.0.252 that matches no format",
    ]
    fmt = "%q %{recvFrom}s %{seqId}d %t %h %{userAgent}i"
    logs = tmp_path / "logs"
    result = forward(ListSource(lines + lines + broken), sqlite_url, format=fmt, log_dir=str(logs))
    for log_file in logs.iterdir():  # the client IP is kept by no log, valid or not
        assert b"10.0.0." not in log_file.read_bytes() and b"2001:db8" not in log_file.read_bytes()
    assert len((next(logs.glob("all-*"))).read_bytes().splitlines()) == 2 * len(lines) + 3
    assert result.counts.get(OVERALL, "valid") == 2 * len(lines)
    assert result.counts.get(OVERALL, "inserted") == len(lines)  # the replay half is idempotent
    store = open_store(sqlite_url)
    ua, ts = store.query("SELECT userAgent, timestamp FROM NavigationTiming_1_7_0")[0]
    assert ua == "Mozilla/5.0 (X11; Linux)" and ts == "20261128050000"
    dump = json.dumps(store.query("SELECT * FROM NavigationTiming_1_7_0"))
    assert "10.0.0." not in dump  # no client IP anywhere
    store.close()


def test_batches_are_bounded_by_rows(sqlite_url):
    source = ListSource(valid_lines(1000), chunk=50)
    result = forward(source, sqlite_url, batch_size=200)
    assert result.counts.get(OVERALL, "inserted") == 1000
    # checkpoints move once per flush, and only over durable rows
    assert source.committed == [200, 400, 600, 800, 1000]


# --- the database going away -------------------------------------------------------------


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


@pytest.mark.parametrize("depth", [300, 1000])
def test_a_valid_event_nested_too_deep_to_write_is_refused_not_a_crash(depth, tmp_path, sqlite_url):
    # InukaPageView's test entries allow extra properties: anything validates there.
    inuka = json.loads((SCHEMAS.parent / "samples" / "InukaPageView.jsonl").read_text())
    inuka.update(wiki="enwiki", uuid="d" * 32, timestamp=1795842000)
    inuka["event"]["tests"] = [{"name": "n", "group": "g", "extra": "DEEP"}]
    deep = json.dumps(inuka).encode().replace(b'"DEEP"', b"[" * depth + b"]" * depth)
    lines = [*valid_lines(20), deep]
    logs = tmp_path / "logs"
    result = forward(ListSource(lines), sqlite_url, log_dir=str(logs))
    assert result.counts.get(OVERALL, "valid") == 21
    assert result.counts.get(OVERALL, "inserted") == 20 == count_rows(sqlite_url)
    assert result.counts.errors["InukaPageView"] == {("store", None): 1}
    (valid_log,) = logs.glob("valid-*.jsonl")
    kept = json.loads(valid_log.read_text().splitlines()[-1])
    assert kept["uuid"] == "d" * 32  # written out whole where the standard library can


def test_value_too_long_for_its_column_is_a_store_error(mysql_url, tmp_path):
    nav = {"schema": "NavigationTiming", "revision": "1.7.0", "wiki": "enwiki"}
    too_long = json.dumps(dict(nav, uuid="e" * 32, event={"isAnon": True, "skin": "x" * 300}))
    lines = valid_lines(50) + [too_long.encode()] + valid_lines(50, start=50)
    logs = tmp_path / "logs"
    result = forward(ListSource(lines), mysql_url, log_dir=str(logs))
    assert result.counts.get(OVERALL, "valid") == 101
    assert result.counts.get(OVERALL, "inserted") == 100
    assert result.counts.errors["NavigationTiming"] == {("store", None): 1}
    assert count_rows(mysql_url) == 100
    (invalid_log,) = logs.glob("invalid-*.jsonl")
    (record,) = [json.loads(line) for line in invalid_log.read_text().splitlines()]
    assert record["code"] == "store" and "too long" in record["message"].lower()
    assert json.loads(record["rawEvent"])["uuid"] == "e" * 32


def test_a_batch_whose_only_event_of_a_table_is_refused_still_commits(sqlite_url):
    # TemplateWizard's performer object allows more properties than its table has columns:
    # the event is valid, the mapping refuses it, and the rest of the batch is committed.
    wizard = json.loads((SCHEMAS.parent / "samples" / "TemplateWizard.jsonl").read_text())
    wizard.update(wiki="enwiki", uuid="f" * 32, timestamp=1795842000)
    wizard["event"]["performer"]["surprise"] = 1
    lines = valid_lines(20) + [json.dumps(wizard).encode()]
    lines = [line for line in lines if b'"TemplateWizard"' not in line or b"surprise" in line]
    result = forward(ListSource(lines), sqlite_url)
    assert result.counts.get(OVERALL, "valid") == len(lines)
    assert result.counts.get(OVERALL, "inserted") == len(lines) - 1 == count_rows(sqlite_url)
    assert result.counts.errors["TemplateWizard"] == {("store", None): 1}
    assert result.pending == 0


class _Slow:
    """Wraps a source to spread its chunks over time, so a run spans several metric slots.

    The pause is part of what is tested, not a wait for something: it only sets a floor under
    the run's length (a loaded machine makes the run longer, never shorter).
    """

    name = "slow://"

    def __init__(self, source, delay: float):
        self.source, self.delay = source, delay

    def chunks(self, stop):
        for chunk in self.source.chunks(stop):
            yield chunk
            stop.wait(self.delay)

    def commit(self, position):
        self.source.commit(position)

    def close(self):
        self.source.close()


class RecordingSink:
    """A metrics sink that keeps what it is given."""

    interval = 0.5

    def __init__(self):
        self.intervals = []
        self.closed = False

    def submit(self, interval, errors=None):
        self.intervals.append((interval, errors))

    def close(self):
        self.closed = True


def test_metrics_flush_once_per_slot_and_lose_no_count(sqlite_url):
    sink = RecordingSink()
    lines = valid_lines(300) + [b"garbage"]
    source = _Slow(ListSource(lines, chunk=10), delay=0.05)  # about 1.5 s of input
    store = open_store(sqlite_url)
    try:
        result = Forwarder(
            ForwarderSettings(host="t"), source, DirectoryRegistry(SCHEMAS), store, metrics=sink
        ).run(threading.Event())
    finally:
        store.close()
    assert sink.closed and len(sink.intervals) >= 3
    stamps = [interval.end for interval, _ in sink.intervals]
    assert len(set(stamps)) == len(stamps)  # one flush per Graphite slot
    assert all((stamp / sink.interval).is_integer() for stamp in stamps)  # on slot boundaries
    assert sum(i.counts[OVERALL]["raw"] for i, _ in sink.intervals) == 301
    assert result.counts.get(OVERALL, "raw") == 301
    errors = sum((e or {}).get(OVERALL, {}).get(("parse", None), 0) for _, e in sink.intervals)
    assert errors == 1


def test_counts_are_kept_in_the_store_for_the_daily_report(db_url):
    lines, expected = bad_corpus()
    lines = [line for line in lines if len(line) < 65536]  # keep it quick
    first = forward(ListSource(lines), db_url, instance="fwd1")
    forward(ListSource(lines), db_url, instance="fwd1")  # a second run adds to the same hour rows
    store = open_store(db_url)
    try:
        totals = store.query(
            "SELECT SUM(raw), SUM(valid), SUM(invalid), SUM(inserted) FROM el_monitor_counts"
        )[0]
        overall = first.counts.scopes[OVERALL]
        assert tuple(map(int, totals)) == (
            2 * overall["raw"], 2 * overall["valid"], 2 * overall["invalid"], overall["inserted"],
        )  # fmt: skip
        by_schema = dict(store.query(
            "SELECT schema_name, SUM(raw) FROM el_monitor_counts GROUP BY schema_name"
        ))  # fmt: skip
        assert int(by_schema["-"]) == 2 * (overall["raw"] - sum(
            v["raw"] for s, v in first.counts.scopes.items() if s != OVERALL
        ))  # fmt: skip
        errors = store.query(
            "SELECT schema_name, code, path, count, message, example FROM el_monitor_errors "
            "WHERE code = 'validation' AND path = '$.isAnon'"
        )
        ((schema, code, path, count, message, example),) = errors
        assert (schema, int(count)) == ("NavigationTiming", 2)
        assert message == "expected boolean, got string" and '"yes"' in example
    finally:
        store.close()
