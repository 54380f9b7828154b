"""``forward --db-file``: a running forwarder re-pointed at another database (what a failover
drill does), pointed nowhere and back, and a bad URL refused; a real process and real signals,
two databases of the shared server of this test's own."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import mysql_connect
from harness.wait import wait_until
from helpers import example_capsules

from el_monitor.atomic import write_atomically
from el_monitor.store.mapping import table_name

from .running import RunningForwarder, assert_books_balance, one_schema_lines

SWITCHED = "database target is now"
TABLE = table_name(example_capsules()[0]["schema"], example_capsules()[0]["revision"])


def stored_uuids(url: str) -> set[str]:
    with mysql_connect(url, database=urlsplit(url).path[1:]) as conn, conn.cursor() as cur:
        cur.execute(f"SHOW TABLES LIKE '{TABLE}'")
        if not cur.fetchall():
            return set()
        cur.execute(f"SELECT uuid FROM `{TABLE}`")
        return {row[0] for row in cur.fetchall()}


def point(db_file: Path, url: str, forwarder: RunningForwarder | None = None) -> None:
    """Rewrite the database file whole; SIGHUP the forwarder when given (else it notices)."""
    write_atomically(db_file, f"# written by the test\n{url}\n".encode())
    if forwarder is not None:
        os.kill(forwarder.proc.pid, signal.SIGHUP)


def spooled_events(spool: Path) -> int:
    lines = [ln for f in spool.glob("*.jsonl") for ln in f.read_text().splitlines()]
    return sum(1 for line in lines if line.strip() and '"el_monitor_counts"' not in line)


def test_switched_mid_stream_every_event_in_exactly_one_database(make_mysql_database, tmp_path):
    db_file, pid_file = tmp_path / "db", tmp_path / "forward.pid"
    with make_mysql_database() as first, make_mysql_database() as second:
        point(db_file, first)
        forwarder = RunningForwarder(None, "--db-file", str(db_file), "--pid-file", str(pid_file))
        try:
            wait_until(lambda: forwarder.alive() and pid_file.exists(), 60, "the pid file")
            assert int(pid_file.read_text()) == forwarder.proc.pid
            forwarder.send(one_schema_lines(1000))
            wait_until(lambda: forwarder.alive() and stored_uuids(first), 60, "rows in the first")
            point(db_file, second, forwarder)
            wait_until(lambda: forwarder.alive() and SWITCHED in forwarder.stderr(), 60, SWITCHED)
            forwarder.send(one_schema_lines(1000, start=1000))
            code, counts, _, err = forwarder.finish()
        finally:
            forwarder.kill()
        assert code == 0, err
        in_first, in_second = stored_uuids(first), stored_uuids(second)
    assert in_first and in_second
    assert not in_first & in_second
    assert in_first | in_second == {f"{i:032x}" for i in range(2000)}
    assert counts["raw"] == counts["inserted"] == 2000
    assert_books_balance(counts)
    assert not pid_file.exists()


def test_pointed_nowhere_spools_then_drains_into_the_new_target(make_mysql_database, tmp_path):
    db_file, spool = tmp_path / "db", tmp_path / "spool"
    db_file.write_text("# nowhere: the database is being failed over\n")
    with make_mysql_database() as url:
        forwarder = RunningForwarder(None, "--db-file", str(db_file), "--spool-dir", str(spool))
        try:
            forwarder.send(one_schema_lines(300))
            wait_until(lambda: forwarder.alive() and spooled_events(spool) == 300, 60, "spooled")
            point(db_file, url)  # no signal: the forwarder notices the new file
            wait_until(lambda: len(stored_uuids(url)) == 300, 60, "the spool drained")
            code, counts, _, err = forwarder.finish()
        finally:
            forwarder.kill()
    assert code == 0, err
    assert "names no database" in err and SWITCHED in err
    assert counts["spooled"] == counts["inserted"] == counts["raw"] == 300
    assert_books_balance(counts)
    assert spooled_events(spool) == 0


@pytest.mark.parametrize("signalled", [True, False], ids=["sighup", "rewritten"])
def test_pointed_nowhere_without_a_spool_holds_the_batch(
    make_mysql_database, tmp_path, signalled: bool
):
    """A flush holding its batch gives way to a re-pointing, whether SIGHUP says so or the
    forwarder sees the file rewritten."""
    db_file = tmp_path / "db"
    db_file.write_text("")
    with make_mysql_database() as url:
        forwarder = RunningForwarder(None, "--db-file", str(db_file))
        try:
            forwarder.send(one_schema_lines(200))
            holding = "pointed nowhere and no spool: holding"
            wait_until(lambda: forwarder.alive() and holding in forwarder.stderr(), 60, holding)
            point(db_file, url, forwarder if signalled else None)
            wait_until(lambda: len(stored_uuids(url)) == 200, 60, "the held events stored")
            code, counts, _, err = forwarder.finish()
        finally:
            forwarder.kill()
    assert code == 0, err
    assert counts["inserted"] == counts["raw"] == 200
    assert_books_balance(counts)


def test_a_bad_url_is_refused_once_and_the_old_target_kept(make_mysql_database, tmp_path):
    db_file = tmp_path / "db"
    with make_mysql_database() as url:
        point(db_file, url)
        forwarder = RunningForwarder(None, "--db-file", str(db_file))
        try:
            forwarder.send(one_schema_lines(100))
            wait_until(lambda: forwarder.alive() and len(stored_uuids(url)) == 100, 60, "rows")
            point(db_file, "postgres://db.example/log", forwarder)
            wait_until(lambda: forwarder.alive() and "refused" in forwarder.stderr(), 60, "refusal")
            forwarder.send(one_schema_lines(100, start=100))
            code, counts, _, err = forwarder.finish()
        finally:
            forwarder.kill()
        assert code == 0, err
        assert len(stored_uuids(url)) == 200
    refusals = [line for line in err.splitlines() if "refused" in line]
    assert len(refusals) == 1, err
    assert "postgres://db.example/log" in refusals[0] and "still writing to" in refusals[0]
    assert SWITCHED not in err
    assert counts["inserted"] == 200
    assert_books_balance(counts)


def test_db_and_db_file_exclude_each_other(tmp_path):
    forwarder = RunningForwarder(f"sqlite:///{tmp_path}/el.db", "--db-file", str(tmp_path / "f"))
    code, _, _, err = forwarder.finish()
    assert code == 2
    assert "not allowed with argument" in err
