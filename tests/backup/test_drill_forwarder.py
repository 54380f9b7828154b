"""``el-monitor drill forwarder`` against the real NATS and MariaDB: two forwarders in a
group, one SIGKILLed under load; it passes with every event stored once, and fails (exit 1)
when events are never stored; either way it is kept in the drill log ``check_el_drill
--kind forwarder`` reads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from harness.jetstream import TestStream
from helpers import SCHEMAS, example_capsules

from el_monitor.backup.drill_log import DrillRecord
from el_monitor.store import open_store
from el_monitor.store.mapping import table_name

pytestmark = pytest.mark.mysql


def drill(stream: TestStream, db_url: str, canary: Path, *extra: str):
    """The drill, its log in ``drills`` beside the canary file."""
    return subprocess.run(
        [sys.executable, "-m", "el_monitor.cli", "drill", "forwarder",
         "--stream", stream.uri("drill", ack_wait=2), "--forwarders", "2", "--db", db_url,
         "--schemas", str(SCHEMAS), "--canary-event", str(canary),
         "--report-dir", str(canary.parent / "drills"), *extra],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def kept(canary: Path) -> DrillRecord:
    """The one drill in the drill log."""
    [path] = (canary.parent / "drills").glob("forwarder-*.json")
    assert path.with_suffix(".txt").read_text().startswith("forwarder drill: ")
    return DrillRecord.from_json(path.read_bytes())


def check_drill(canary: Path) -> tuple[int, str]:
    """check_el_drill on that log, for forwarder drills."""
    done = subprocess.run(
        [sys.executable, "-m", "el_monitor.checks.drill", "--kind", "forwarder",
         "--log-dir", str(canary.parent / "drills")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return done.returncode, done.stdout


def canary_file(tmp_path: Path, **changes: object) -> tuple[Path, str]:
    capsule = dict(example_capsules()[0], **changes)
    for key in ("uuid", "timestamp"):
        capsule.pop(key, None)
    path = tmp_path / "canary.json"
    path.write_text(json.dumps(capsule))
    return path, table_name(capsule["schema"], str(capsule["revision"]))


def rows(db_url: str, table: str) -> int:
    store = open_store(db_url)
    try:
        return store.query(f"SELECT COUNT(*) FROM {store.dialect.quote(table)}")[0][0]
    finally:
        store.close()


def test_one_killed_none_lost(jetstream_stream: TestStream, mysql_url: str, tmp_path) -> None:
    canary, table = canary_file(tmp_path)
    done = drill(jetstream_stream, mysql_url, canary, "--events", "3000", "--rate", "1500")
    assert done.returncode == 0, done.stdout + done.stderr
    report = done.stdout
    assert "forwarder drill: PASSED" in report
    for line in ("published   3000 events", "stored      3000", "lost        0",
                 "duplicated  0"):  # fmt: skip
        assert line in report, report
    assert "killed      forwarder 1" in report and "recovery    " in report
    assert rows(mysql_url, table) == 3000  # the drill's count, checked apart
    record = kept(canary)
    assert (record.kind, record.outcome, record.error) == ("forwarder", "passed", None)
    assert (record.canaries_sent, record.canaries_found) == (3000, 3000)
    assert record.phases[0].name == "recovery" and record.phases[0].ok
    code, out = check_drill(canary)
    assert code == 0 and "EL_DRILL OK - last successful forwarder drill 0" in out, out


def test_events_never_stored_fail_it(
    jetstream_stream: TestStream, mysql_url: str, tmp_path
) -> None:
    canary, _ = canary_file(tmp_path, event={"no such field": 1})  # invalid: never stored
    done = drill(jetstream_stream, mysql_url, canary, "--events", "200", "--timeout", "2")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "forwarder drill: FAILED" in done.stdout
    assert "lost        200" in done.stdout and "timed out" in done.stdout
    record = kept(canary)
    assert record.outcome == "failed" and record.canaries_found == 0
    assert record.error is not None and record.error.startswith("200 lost, 0 duplicated")
    code, out = check_drill(canary)
    assert code == 2 and "no successful forwarder drill in the log" in out, out
    assert "the last drill failed" in out and "200 lost" in out, out


def test_a_missing_stream_is_one_line(mysql_url: str, tmp_path) -> None:
    canary, _ = canary_file(tmp_path)
    missing = TestStream()  # never created
    done = drill(missing, mysql_url, canary)
    assert done.returncode == 2 and "does not exist" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
