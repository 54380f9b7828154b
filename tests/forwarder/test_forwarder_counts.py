"""The report's counts: filed by the events' own hour (a backfill of yesterday is yesterday's),
and as durable as the rows (a SIGKILL between two flushes loses no count and adds none), on
SQLite and MariaDB, through ``el-monitor forward`` processes."""

from __future__ import annotations

import datetime
import json
import re
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.wait import wait_until
from helpers import example_capsules

from el_monitor.store import open_store
from el_monitor.store.counts import COUNTS_TABLE, ERRORS_TABLE

from .support import append, count_rows, events, forward_process

EL_MONITOR = [sys.executable, "-m", "el_monitor.cli"]
MEASURES_SQL = "raw, valid, invalid, sampled_out, opted_out, inserted, duplicate, spooled"


def _restart_until_counted(db_url: str, log: Path, args: Sequence[str], lines: int) -> None:
    """Follow ``log`` again until ``lines`` raw events are counted, then stop cleanly."""
    again = forward_process(db_url, f"file://{log}?follow=1", *args)
    try:
        wait_until(lambda: sums(db_url)["raw"] >= lines, 120, "every line counted")
    finally:
        again.send_signal(signal.SIGTERM)
        _, err = again.communicate(timeout=60)
    assert again.returncode == 0, err.decode()


def sums(db_url: str, where: str = "") -> dict[str, int]:
    store = open_store(db_url)
    try:
        if not store.table_exists(COUNTS_TABLE):  # nothing recorded yet
            return dict.fromkeys(MEASURES_SQL.split(", "), 0)
        row = store.query(
            f"SELECT {', '.join(f'SUM({m})' for m in MEASURES_SQL.split(', '))} "
            f"FROM {COUNTS_TABLE} {where}"
        )[0]
    finally:
        store.close()
    return dict(zip(MEASURES_SQL.split(", "), (int(v or 0) for v in row), strict=True))


def error_sum(db_url: str) -> int:
    store = open_store(db_url)
    try:
        return int(store.query(f"SELECT SUM(count) FROM {ERRORS_TABLE}")[0][0] or 0)
    finally:
        store.close()


def test_a_backfill_of_yesterday_is_in_yesterdays_report(db_url, tmp_path):
    today = datetime.datetime.now(datetime.UTC).date()
    yesterday = today - datetime.timedelta(days=1)
    ten = int(datetime.datetime(*yesterday.timetuple()[:3], 10, tzinfo=datetime.UTC).timestamp())
    lines, valid = events(2000, 0, ten)  # 10:00 to 10:33 yesterday
    path = tmp_path / "backfill.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    proc = forward_process(db_url, f"file://{path}")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    garbage = sum(1 for line in lines if line.startswith(b"garbage"))

    report = subprocess.run(
        [*EL_MONITOR, "report", "daily", "--date", str(yesterday), "--db", db_url],
        capture_output=True, timeout=120,
    )  # fmt: skip
    assert report.returncode == 0, report.stderr.decode()
    text = report.stdout.decode()
    assert re.search(rf"^Valid:\s+{valid:,} ", text, re.M), text
    invalid = len(lines) - valid - garbage  # the garbage has no time: it is today's
    assert re.search(rf"^Invalid:\s+{invalid:,} ", text, re.M), text
    assert sums(db_url, f"WHERE period LIKE '{yesterday}T10%'")["valid"] == valid
    assert sums(db_url, f"WHERE period LIKE '{today}%'") == {
        **dict.fromkeys(MEASURES_SQL.split(", "), 0), "raw": garbage, "invalid": garbage,
    }  # fmt: skip
    total = sums(db_url)
    assert total["raw"] == len(lines) == total["valid"] + total["invalid"]
    assert total["valid"] == total["inserted"] == count_rows(db_url) == valid
    assert error_sum(db_url) == total["invalid"]


def test_sigkill_between_flushes_loses_and_repeats_no_count(db_url, tmp_path):
    log = tmp_path / "events.log"
    log.write_bytes(b"")
    at = 1795842000
    lines, valid = events(6000, 0, at)
    args = ("--batch-size", "1000", "--flush-interval", "0.5")
    proc = forward_process(db_url, f"file://{log}?follow=1", *args)
    checkpoint = tmp_path / f".{log.name}.el-monitor.checkpoint"
    half = len(lines) // 2
    try:
        append(log, lines[: half // 2])
        wait_until(checkpoint.exists, 120, "the first lines stored and checkpointed")
        moved = checkpoint.read_bytes()
        # More lines arrive; the forwarder is killed just after its checkpoint moves again,
        # with lines read that it has not flushed: their counts must be neither lost nor, on
        # the replay, doubled.  (A kill between a commit and its checkpoint would replay the
        # lines since the checkpoint: the forwarder keeps that moment short.)
        append(log, lines[half // 2 : half])
        wait_until(lambda: checkpoint.read_bytes() != moved, 120, "the checkpoint moving on")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    killed_at = sums(db_url)
    assert 0 < killed_at["raw"] < len(lines)
    append(log, lines[half:])

    _restart_until_counted(db_url, log, args, len(lines))
    total = sums(db_url)
    invalid = len(lines) - valid
    assert total == {
        "raw": len(lines), "valid": valid, "invalid": invalid, "sampled_out": 0,
        "opted_out": 0, "inserted": valid, "duplicate": 0, "spooled": 0,
    }  # fmt: skip
    assert count_rows(db_url) == valid
    assert error_sum(db_url) == invalid


def test_an_old_counts_table_gets_the_duplicate_column(db_url, tmp_path):
    store = open_store(db_url)
    key = "VARCHAR(63) NOT NULL"
    old = ", ".join(
        f"{m} BIGINT NOT NULL DEFAULT 0"
        for m in ("raw", "valid", "invalid", "sampled_out", "opted_out", "inserted", "spooled")
    )
    try:
        store.execute(
            f"CREATE TABLE {COUNTS_TABLE} (id {store.dialect.auto_key}, period {key}, "
            f"instance {key}, schema_name {key}, {old}, UNIQUE (period, instance, schema_name))"
        )
        store.execute(
            f"INSERT INTO {COUNTS_TABLE} (period, instance, schema_name, raw, valid, inserted) "
            "VALUES ('2026-11-30T10:00:00Z', 'old', 'Edit', 5, 5, 5)"
        )
    finally:
        store.close()
    lines, valid = events(100, 0, 1795842000)
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines + lines[:10]) + b"\n")  # ten replayed
    proc = forward_process(db_url, f"file://{path}")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    total = sums(db_url, "WHERE instance = 'fw1'")
    replayed_valid = sum(
        1 for line in lines[:10] if b'"yes"' not in line and b"garbage" not in line
    )
    assert total["raw"] == 110 and total["inserted"] == valid
    assert total["duplicate"] == replayed_valid
    assert total["valid"] == total["inserted"] + total["duplicate"]
    assert sums(db_url, "WHERE instance = 'old'")["raw"] == 5


def test_counts_of_a_spooled_batch_are_written_when_it_drains(tmp_path, sqlite_url):
    spool = tmp_path / "spool"
    lines, valid = events(300, 0, 1795842000)
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    down = forward_process(
        "mysql://root@127.0.0.1:1/x", f"file://{path}", "--spool-dir", str(spool)
    )
    wait_until(lambda: list(spool.glob("*.jsonl")), 60, "a spooled batch")
    down.send_signal(signal.SIGTERM)  # it would wait for the database to drain the spool
    down.communicate(timeout=60)

    nothing = tmp_path / "nothing.jsonl"
    nothing.write_bytes(b"")
    drain = forward_process(sqlite_url, f"file://{nothing}", "--spool-dir", str(spool))
    out, err = drain.communicate(timeout=120)
    assert drain.returncode == 0, err.decode()
    total = sums(sqlite_url)
    assert total["raw"] == len(lines) and total["invalid"] == len(lines) - valid
    assert (
        total["valid"] == total["inserted"] == total["spooled"] == valid == count_rows(sqlite_url)
    )
    assert error_sum(sqlite_url) == total["invalid"]
    assert not list(spool.glob("*.jsonl"))


def test_lines_with_nothing_to_store_are_counted_flush_by_flush(sqlite_url, tmp_path):
    """No row to go with them: the counts go in a transaction of their own at each flush (not
    once a minute), and the checkpoint moves only after, so a SIGKILL and a restart count every
    line once."""
    log = tmp_path / "events.log"
    nav = next(c for c in example_capsules() if c["schema"] == "NavigationTiming")
    bad = [
        json.dumps(dict(nav, uuid=f"{i:032x}", timestamp=1795842000 + i, event={"isAnon": 1}))
        for i in range(400)
    ]
    lines = [text.encode() for text in bad] + [b"garbage"] * 100
    log.write_bytes(b"")
    args = ("--flush-interval", "0.2")
    proc = forward_process(sqlite_url, f"file://{log}?follow=1", *args)
    checkpoint = tmp_path / f".{log.name}.el-monitor.checkpoint"

    def checkpointed() -> int:
        return json.loads(checkpoint.read_text())["offset"] if checkpoint.exists() else 0

    try:
        append(log, lines[:250])
        wait_until(lambda: sums(sqlite_url)["raw"] == 250, 60, "the first lines counted")
        # The checkpoint moves after the transaction that counted the lines (a kill between
        # the two replays them: see the forwarder's notes), then the kill.
        wait_until(lambda: checkpointed() == log.stat().st_size, 60, "the checkpoint moved")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    append(log, lines[250:])
    _restart_until_counted(sqlite_url, log, args, len(lines))
    assert sums(sqlite_url) == {
        **dict.fromkeys(MEASURES_SQL.split(", "), 0), "raw": 500, "invalid": 500,
    }  # fmt: skip
    assert error_sum(sqlite_url) == 500 and count_rows(sqlite_url) == 0
