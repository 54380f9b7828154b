"""A spooled batch whose schema left the registry between two runs: its events are set aside in
a file of their own with one clear log line, counted as store errors, and the rest drains."""

from __future__ import annotations

import json
import shutil
import signal

from harness.wait import wait_until
from helpers import SCHEMAS, overall_counts

from el_monitor.store import open_store
from el_monitor.store.counts import COUNTS_TABLE, ERRORS_TABLE

from .support import count_rows, events, forward_process


def test_events_of_a_schema_gone_from_the_registry_are_set_aside(tmp_path, sqlite_url):
    schemas, spool = tmp_path / "schemas", tmp_path / "spool"
    shutil.copytree(SCHEMAS, schemas)
    lines, valid = events(400, 0, 1795842000)
    gone = [json.loads(line) for line in lines if line.startswith(b"{")]
    gone = [c for c in gone if c["schema"] == "EditAttemptStep"]
    assert gone
    source = tmp_path / "events.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    down = forward_process(
        "mysql://root@127.0.0.1:1/x", f"file://{source}", "--spool-dir", str(spool), schemas=schemas
    )
    wait_until(lambda: list(spool.glob("*.jsonl")), 60, "a spooled batch")
    down.send_signal(signal.SIGTERM)  # it would wait for the database to drain the spool
    out, err = down.communicate(timeout=60)
    assert overall_counts(out)["spooled"] == valid, err.decode()
    spooled = sorted(spool.glob("*.jsonl"))

    shutil.rmtree(schemas / "EditAttemptStep")  # the registry loses a schema between runs
    empty = tmp_path / "nothing.jsonl"
    empty.write_bytes(b"")
    drain = forward_process(
        sqlite_url, f"file://{empty}", "--spool-dir", str(spool), schemas=schemas
    )
    out, err = drain.communicate(timeout=120)
    assert drain.returncode == 0, err.decode()

    assert not list(spool.glob("*.jsonl"))  # the rest drained
    aside = sorted(spool.glob("*.orphaned"))
    kept = [json.loads(text) for path in aside for text in path.read_text().splitlines()]
    assert sorted(c["uuid"] for c in kept) == sorted(c["uuid"] for c in gone)
    said = [text for text in err.decode().splitlines() if "no longer in the registry" in text]
    assert (
        len(said) == len(aside) == len([p for p in spooled if p.with_suffix(".orphaned") in aside])
    )
    for text in said:
        assert "EditAttemptStep" in text and ".orphaned" in text and ".jsonl" in text

    store = open_store(sqlite_url)
    try:
        raw, valid_n, invalid, inserted, duplicate = store.query(
            f"SELECT SUM(raw), SUM(valid), SUM(invalid), SUM(inserted), SUM(duplicate) "
            f"FROM {COUNTS_TABLE}"
        )[0]
        ((store_errors, message),) = store.query(
            f"SELECT SUM(count), MIN(message) FROM {ERRORS_TABLE} WHERE code = 'store'"
        )
    finally:
        store.close()
    assert raw == len(lines) == valid_n + invalid
    assert valid_n == valid == inserted + duplicate + store_errors
    assert store_errors == len(gone) and "EditAttemptStep" in message
    assert count_rows(sqlite_url) == valid - len(gone)
