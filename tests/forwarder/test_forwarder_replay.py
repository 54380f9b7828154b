"""Backfilling from the all log (issue 10, item 15): varnish lines forwarded with ``--log-dir``,
then the all log replayed into another database (SQLite and MariaDB) with the same format: the
same counts and rows, a line holding a line break one parse error both times, and a line that
is not UTF-8 carried through its base64 record to the same parse error."""

from __future__ import annotations

import json
from urllib.parse import quote_plus

import orjson
from helpers import ListSource, example_capsules

from el_monitor.counts.counters import OVERALL
from el_monitor.event.rawlog import line_of_record
from el_monitor.ingest.sources import open_source
from el_monitor.ingest.sources.records import AllLogRecords

from .support import count_rows, forward

FMT = "%q %{recvFrom}s %{seqId}d %t %h %{userAgent}i"


def test_replaying_the_all_log_stores_the_same_events(db_url, tmp_path) -> None:
    first_url = f"sqlite:///{tmp_path}/first.db"
    capsules = example_capsules()
    lines = [
        f"?{quote_plus(json.dumps(c))}; cp1052 {i} 2026-11-28T05:00:00 192.0.2.{i % 250} "
        f"Mozilla/5.0 (X11; Linux)".encode()
        for i, c in enumerate(capsules)
    ]
    forged = lines[0] + b"\n" + lines[1].replace(b"cp1052 1 ", b"cp1052 999 ")
    not_utf8 = lines[2].replace(b"Mozilla", b"Mozilla\xff")
    logs = tmp_path / "logs"

    first = forward(
        ListSource([*lines, forged, not_utf8]), first_url, format=FMT, log_dir=str(logs)
    )
    (all_log,) = logs.glob("all-*.jsonl")
    records = all_log.read_bytes().splitlines()
    assert len(records) == len(lines) + 2
    kinds = [type(orjson.loads(r)) for r in records]
    assert kinds.count(str) == len(lines) + 1 and kinds.count(dict) == 1  # one base64 record
    # Client IPs taken out before the line became a record, the forged second line's too.
    assert not any(b"192.0.2." in (line_of_record(r) or b"") for r in records)

    replay = AllLogRecords(open_source(f"file://{all_log}", max_line_bytes=1 << 20))
    again = forward(replay, db_url, format=FMT)
    for measure in ("raw", "valid", "invalid", "inserted"):
        assert again.counts.get(OVERALL, measure) == first.counts.get(OVERALL, measure), measure
    # The line holding a line break, and the user agent that is not UTF-8: parse errors.
    assert first.counts.get(OVERALL, "invalid") == 2
    assert again.counts.get(OVERALL, "valid") == len(lines)
    assert count_rows(db_url) == count_rows(first_url) == len(lines)
