"""Issue 12's acceptance test: after a database outage under load without a spool, backfill
restores every event: 0 lost, 0 duplicated.

A real ``el-monitor forward`` with an HTTP input, its event logs on and no spool, writes to a
private MariaDB server while real clients send.  The server is killed (SIGKILL, a crash) and
the clients go on.  Without a spool the forwarder holds its batch and retries; its queue fills
and the beacon answers 503 (back-pressure: those events are not accepted).  The operator then
stops the stuck forwarder: it hands its queue to the pipeline (into the valid log), cannot
store, and rescues the batch to a file.  The server is started again, and backfill over the
window stores exactly what the table lacks: every event answered 2xx is then in the table
once, and a second backfill adds nothing.

And a backfill whose own server dies mid-run resumes from its checkpoint once it is back.
"""

from __future__ import annotations

import json
import math
import signal
import time
from collections import Counter

import pytest
from beacon.support import Burst, Forwarder, stored_uuids, summary_counts
from harness.wait import wait_until
from helpers import valid_lines

from el_monitor.store import StoreUnavailable

from .backfill_support import (
    AtReport,
    at,
    backfill,
    capsules,
    counts_of,
    records,
    run_backfill,
    uuids,
    write_log,
)

KEY = "one run"  # the checkpoint's fingerprint, whatever port the restarted server has
# Events the clients send after the kill (answered 2xx while the queue has room, then 503).
KEEP_SENDING = 5000


def rows(db_url: str) -> int:
    """Rows stored so far; 0 while the forwarder is still creating its tables."""
    try:
        return len(stored_uuids(db_url))
    except StoreUnavailable:
        return 0


def test_backfill_after_a_server_crash_without_a_spool_loses_and_duplicates_nothing(
    mariadb_servers, tmp_path, capsys
):
    server = mariadb_servers(1)
    logs = tmp_path / "logs"
    since = math.floor(time.time()) - 1  # the events' time is when the forwarder took them
    forwarder = Forwarder(
        server.url, "--flush-interval", "0.2", "--log-dir", str(logs), "--queue-mb", "2"
    )
    burst = Burst(forwarder.port)
    try:
        wait_until(lambda: burst.count() >= 2000, 120, "2,000 events answered 2xx")
        wait_until(lambda: rows(server.url) >= 1000, 120, "1,000 rows stored")
        server.kill()
        sent, refused = len(burst.sent), burst.statuses.get(503, 0)
        wait_until(  # the queue fills: back-pressure
            lambda: len(burst.sent) >= sent + KEEP_SENDING and burst.statuses.get(503, 0) > refused,
            120,
            lambda: f"{KEEP_SENDING} more events sent and a 503 since the kill: {burst.statuses}",
        )
        forwarder.output.wait_for("database unavailable")  # it holds the batch and retries
        forwarder.proc.send_signal(signal.SIGTERM)
        out, err = forwarder.finish()
    finally:
        burst.stop()
        forwarder.kill()
    until = math.ceil(time.time()) + 1
    seen = f"answers {burst.statuses}; stderr:\n{err[-3000:]}"
    assert forwarder.proc.returncode == 1, seen  # events pending at exit: rescued
    (rescue,) = logs.glob("el-monitor-rescue-*.jsonl")
    rescued = {json.loads(line)["uuid"] for line in rescue.read_bytes().splitlines()}
    answered = set(burst.answered)
    assert rescued and rescued <= answered, seen

    server.start()  # InnoDB recovers what was committed before the crash
    before = stored_uuids(server.url)
    missing = answered - set(before)
    assert missing, "the outage left nothing to backfill"
    assert missing <= rescued  # what the table lacks is what the forwarder could not store

    assert backfill(server.url, logs, at(since), at(until)) == 0
    counts = counts_of(capsys.readouterr().out)
    forwarded = summary_counts(out)
    assert counts["read"] == forwarded["valid"] == len(answered), (counts, forwarded)
    assert counts["inserted"] == len(missing), counts
    assert counts["already_present"] == len(before), counts
    assert counts["unreadable"] == counts["refused"] == counts["out_of_window"] == 0, counts

    after = stored_uuids(server.url)
    assert not [uuid for uuid, n in Counter(after).items() if n > 1]  # 0 duplicated
    assert set(after) == answered  # 0 lost, and nothing that was not accepted
    assert len(after) == len(answered)

    assert backfill(server.url, logs, at(since), at(until)) == 0
    again = counts_of(capsys.readouterr().out)
    assert (again["inserted"], again["already_present"]) == (0, len(answered))
    assert sorted(stored_uuids(server.url)) == sorted(after)


def test_a_backfill_whose_server_dies_resumes_from_its_checkpoint(mariadb_servers, tmp_path):
    server = mariadb_servers(2)
    logs = tmp_path / "logs"
    good = capsules(valid_lines(50))
    write_log(logs, "2026-11-28", records(good))

    with pytest.raises(StoreUnavailable):  # two batches committed, the third meets no server
        run_backfill(server.url, logs, AtReport(2, server.kill), key=KEY)
    server.start()
    assert len(stored_uuids(server.url)) == 20
    counts = run_backfill(server.url, logs, key=KEY)  # the server's port is another now
    assert (counts.read, counts.inserted, counts.already_present) == (50, 50, 0)
    assert sorted(stored_uuids(server.url)) == sorted(uuids(good))
