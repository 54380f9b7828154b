"""``report.invalid_tail``: the invalid log followed from its end, across the daily files,
through truncation, handing out each complete record once."""

from __future__ import annotations

import json
import os
from pathlib import Path

from el_monitor.report.invalid_tail import InvalidLogTail


def record(n: int) -> bytes:
    return json.dumps({"rawEvent": "{}", "message": f"m{n}", "code": "parse"}).encode() + b"\n"


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as handle:
        handle.write(data)


def messages(records: list) -> list[str]:
    return [r["message"] for r in records]


def test_follows_from_the_end_across_days_and_truncation(tmp_path):
    day1, day2 = tmp_path / "invalid-2026-11-28.jsonl", tmp_path / "invalid-2026-11-29.jsonl"
    append(day1, record(0))  # written before the follower started: not shown
    (tmp_path / "valid-2026-11-29.jsonl").write_bytes(record(99))  # another kind: ignored
    tail = InvalidLogTail(tmp_path)
    assert tail.poll() == []
    append(day1, record(1) + record(2)[:10])  # the second one half written
    assert messages(tail.poll()) == ["m1"]
    append(day1, record(2)[10:])
    assert messages(tail.poll()) == ["m2"]
    append(day1, record(3))  # the old day's last record, then the new day's file
    append(day2, record(4))
    assert messages(tail.poll()) == ["m3", "m4"]
    fresh = tmp_path / "rewritten"
    fresh.write_bytes(record(5))
    os.replace(fresh, day2)  # rewritten by retention (atomically: a new file)
    assert messages(tail.poll()) == ["m5"]
    day2.write_bytes(b"")  # truncated: shorter than what was read
    append(day2, record(7)[:20])
    assert tail.poll() == []
    append(day2, record(7)[20:])
    assert messages(tail.poll()) == ["m7"]
    append(day2, b"not json\n" + record(6))
    assert messages(tail.poll()) == ["m6"]
    assert tail.poll() == []


def test_an_empty_directory_is_followed_from_its_first_file(tmp_path):
    tail = InvalidLogTail(tmp_path)
    assert tail.poll() == []
    append(tmp_path / "invalid-2026-11-30.jsonl", record(1))
    assert messages(tail.poll()) == ["m1"]
