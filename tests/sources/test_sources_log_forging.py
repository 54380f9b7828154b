"""Log forging through the beacon (issue 10, item 15), with a real forwarder and HTTP client.

A beacon query holding ``%0A{capsule}`` and a rejected POST body ``garbage\\n{capsule}`` once
wrote a standalone line into the all log, which a backfill would store.  Now every record of
every log is one JSON value on one line, and replaying the all log (``--replay-all-log``)
stores exactly the events the beacon stored, and never the forged ones.
"""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import subprocess
import threading
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

import orjson
import pytest
from helpers import SCHEMAS, overall_counts, valid_lines, wait_listening
from test_cli import EL_MONITOR, free_port, start_forwarder, wait_for_rows

from el_monitor.event.rawlog import line_of_record
from el_monitor.ingest.sources.records import AllLogRecords

from .support import IDLE, Reader

GOOD = 11  # events the beacon accepts: 6 GETs and a POST of 5


def capsules(count: int, start: int) -> list[dict]:
    """Valid capsules carrying all their own fields, so a replay stores the very same rows."""
    return [dict(json.loads(line), userAgent="test-agent") for line in valid_lines(count, start)]


def event_rows(db: Path) -> dict[str, list[tuple]]:
    """Every event table's rows (without the auto-increment id), by table, in uuid order."""
    with sqlite3.connect(db) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
                "AND name NOT LIKE 'el_monitor_%'"
            )
        ]
        out = {}
        for table in tables:
            cursor = conn.execute(f'SELECT * FROM "{table}" ORDER BY uuid')
            columns = [d[0] for d in cursor.description]
            out[table] = [
                tuple(v for c, v in zip(columns, row, strict=True) if c != "id") for row in cursor
            ]
        return out


def stored_uuids(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {
            r[0]
            for t in tables
            if not t.startswith(("sqlite_", "el_monitor_"))
            for r in conn.execute(f'SELECT uuid FROM "{t}"')
        }


def post(url: str, body: bytes) -> int:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        return urllib.request.urlopen(request, timeout=5).status
    except urllib.error.HTTPError as refused:
        return refused.code


def test_forged_lines_stay_inside_one_record_and_a_replay_never_stores_them(tmp_path) -> None:
    good = capsules(GOOD, 0)
    forged_get, forged_post = capsules(2, 1000)  # valid capsules: a replay would store them
    forged_uuids = {forged_get["uuid"], forged_post["uuid"]}
    port = free_port(socket.SOCK_STREAM)
    base = f"http://127.0.0.1:{port}"
    logs = tmp_path / "logs"
    proc, db = start_forwarder(tmp_path, base, "--log-dir", str(logs))
    wait_listening(base)

    for capsule in good[:6]:
        query = quote(json.dumps(capsule))
        assert urllib.request.urlopen(f"{base}/beacon/event?{query};", timeout=5).status == 204
    assert post(f"{base}/v1/events", json.dumps(good[6:]).encode()) == 202
    query = quote(json.dumps(good[0])) + "%0A" + quote(json.dumps(forged_get))
    assert urllib.request.urlopen(f"{base}/beacon/event?{query};", timeout=5).status == 204
    body = b"garbage\n" + json.dumps(forged_post).encode()
    assert post(f"{base}/v1/events", body) == 400

    assert wait_for_rows(db, GOOD) == GOOD
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    counts = overall_counts(out)
    assert counts["raw"] == GOOD + 2 and counts["invalid"] == 2  # the forged two: parse errors
    assert counts["valid"] == counts["inserted"] == GOOD
    assert counts["raw"] == sum(counts[m] for m in ("valid", "invalid", "sampled_out", "opted_out"))
    assert stored_uuids(db) & forged_uuids == set()

    kinds = {kind: sorted(logs.glob(f"{kind}-*.jsonl")) for kind in ("all", "valid", "invalid")}
    lines = {kind: b"".join(p.read_bytes() for p in paths) for kind, paths in kinds.items()}
    for kind, data in lines.items():
        assert data.endswith(b"\n"), kind
        for line in data.splitlines():
            orjson.loads(line)  # every line one JSON value
    records = lines["all"].splitlines()
    assert len(records) == counts["raw"]  # 13 events, 13 lines
    assert len(lines["valid"].splitlines()) == GOOD
    assert len(lines["invalid"].splitlines()) == 2
    for record in records:
        assert type(orjson.loads(record)) is str  # never a capsule of its own
        assert line_of_record(record) not in (
            json.dumps(forged_get).encode(),
            json.dumps(forged_post).encode(),
        )
    held = [line_of_record(r) for r in records]
    assert body in held  # each forgery whole, inside one record
    assert json.dumps(good[0]).encode() + b"\n" + json.dumps(forged_get).encode() in held

    # Backfill from the all log: the same rows, never the forged ones.
    replay_log = tmp_path / "all.jsonl"
    replay_log.write_bytes(lines["all"])
    replay_db = tmp_path / "replay.db"
    done = subprocess.run(
        [
            *EL_MONITOR,
            "forward",
            "--schemas",
            str(SCHEMAS),
            "--db",
            f"sqlite:///{replay_db}",
            "--input",
            f"file://{replay_log}",
            "--replay-all-log",
        ],
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()
    replayed = overall_counts(done.stdout)
    assert replayed["raw"] == GOOD + 2 and replayed["invalid"] == 2
    assert replayed["inserted"] == GOOD
    assert event_rows(replay_db) == event_rows(db)
    assert stored_uuids(replay_db) & forged_uuids == set()


def test_replay_skips_lines_that_are_no_records_with_a_warning(tmp_path, caplog) -> None:
    from el_monitor.event.rawlog import raw_record
    from el_monitor.ingest.sources import open_source

    log = tmp_path / "all.jsonl"
    good = [json.dumps(c).encode() for c in capsules(2, 0)]
    log.write_bytes(raw_record(good[0]) + b"\n" + good[1] + b"\n" + raw_record(good[1])[:9])
    source = AllLogRecords(open_source(f"file://{log}", idle_interval=IDLE))
    with caplog.at_level("WARNING"):
        assert Reader(source).rest() == [good[0]]
        source.close()
    assert caplog.text.count("skipped a line that is not an all-log record") == 2


def test_replayed_records_keep_the_uuid_of_each_line_they_keep() -> None:
    """Records from a source that gives a uuid per line (a beacon request, a JetStream
    record): a skipped record takes its uuid with it, the others keep theirs."""
    from el_monitor.event.rawlog import raw_record
    from el_monitor.ingest.sources.base import Chunk

    class OneChunk:
        name = "one"

        def chunks(self, stop):
            yield Chunk(
                [raw_record(b"a"), b"not a record", raw_record(b"c")], {}, 7, ["x", "y", "z"]
            )

    [chunk] = AllLogRecords(OneChunk()).chunks(threading.Event())  # type: ignore[arg-type]
    assert (chunk.lines, list(chunk.uuids or ()), chunk.position) == ([b"a", b"c"], ["x", "z"], 7)


@pytest.mark.parametrize("size", [10, 200])
def test_a_long_line_of_control_characters_replays_whole(tmp_path, size) -> None:
    from el_monitor.event.rawlog import raw_record
    from el_monitor.ingest.sources import open_source
    from el_monitor.ingest.sources.records import RECORD_BYTES_PER_LINE_BYTE

    line = b"\x01" * size
    log = tmp_path / "all.jsonl"
    log.write_bytes(raw_record(line) + b"\n")
    limit = RECORD_BYTES_PER_LINE_BYTE * (size + 1) + 2
    source = AllLogRecords(open_source(f"file://{log}", idle_interval=IDLE, max_line_bytes=limit))
    assert Reader(source).rest() == [line]
    source.close()
