"""The event logs follow a day's file that was rewritten under them (``optout purge``)."""

from __future__ import annotations

import orjson

from el_monitor.ingest.event_logs import EventLogs


def _records(path) -> list:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_records_after_a_rewrite_by_rename_land_in_the_new_file(tmp_path) -> None:
    logs = EventLogs(tmp_path)
    logs.roll()
    logs.raw(b'{"kept": 1}')
    logs.sync()
    path = logs.path("all")
    rewritten = tmp_path / "rewritten.tmp"
    rewritten.write_bytes(path.read_bytes())
    rewritten.rename(path)  # as the purge replaces a file: a new inode under the same name

    logs.raw(b'{"after": 2}')
    logs.sync()  # notices the new inode once the old handle's records are durable
    logs.raw(b'{"later": 3}')
    logs.sync()
    logs.close()

    assert _records(path) == ['{"kept": 1}', '{"later": 3}']


def test_a_removed_file_is_created_again(tmp_path) -> None:
    logs = EventLogs(tmp_path)
    logs.roll()
    logs.raw(b"one")
    logs.sync()
    logs.path("all").unlink()
    logs.sync()
    logs.raw(b"two")
    logs.sync()
    logs.close()
    assert _records(logs.path("all")) == ["two"]
