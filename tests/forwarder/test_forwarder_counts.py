"""The report's counts: filed by the events' own hour (a backfill of yesterday is yesterday's),
and as durable as the rows (a SIGKILL between two flushes loses no count and adds none), on
SQLite and MariaDB, through ``el-monitor forward`` processes."""

from __future__ import annotations

import datetime
import re
import signal
import subprocess
import sys

from harness.wait import wait_until

from el_monitor.store import open_store
from el_monitor.store.counts import COUNTS_TABLE, ERRORS_TABLE

from .support import append, count_rows, events, forward_process

EL_MONITOR = [sys.executable, "-m", "el_monitor.cli"]
MEASURES_SQL = "raw, valid, invalid, sampled_out, opted_out, inserted, duplicate, spooled"


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
    args = ("--batch-size", "200", "--flush-interval", "0.3")
    proc = forward_process(db_url, f"file://{log}?follow=1", *args)
    half = len(lines) // 2
    try:
        append(log, lines[: half // 2])
        wait_until(lambda: count_rows(db_url) >= 500, 120, "rows of the first lines stored")
        stored = count_rows(db_url)
        # More lines arrive; once a batch of them is stored the forwarder is killed, with more
        # read than flushed (their counts must be neither lost nor, on the replay, doubled).
        append(log, lines[half // 2 : half])
        wait_until(lambda: count_rows(db_url) > stored, 120, "a batch of the later lines stored")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    killed_at = sums(db_url)
    assert 0 < killed_at["raw"] < len(lines)
    append(log, lines[half:])

    again = forward_process(db_url, f"file://{log}?follow=1", *args)
    try:
        wait_until(lambda: sums(db_url)["raw"] >= len(lines), 120, "every line counted")
    finally:
        again.send_signal(signal.SIGTERM)
        out, err = again.communicate(timeout=60)
    assert again.returncode == 0, err.decode()
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
