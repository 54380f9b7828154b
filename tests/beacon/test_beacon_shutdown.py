"""A real forwarder process with an HTTP input, stopped mid-burst from real clients: every event
answered 2xx is stored (SIGTERM), rescued to a file (SIGTERM, database away, no spool) or
replayed from the journal at the next start (SIGKILL, ``--spool-dir``)."""

from __future__ import annotations

import json
import re
import signal
from collections import Counter

from harness.wait import wait_until

from .support import (
    Burst,
    Forwarder,
    assert_books_balance,
    assert_every_2xx_stored_once,
    stored_uuids,
    summary_counts,
)

QUEUED = "events queued"


def test_sigterm_mid_burst_stores_every_accepted_event(db_url, tmp_path):
    forwarder = Forwarder(db_url, "--flush-interval", "0.2")
    burst = Burst(forwarder.port)
    out, err = forwarder.stop_mid_stream(
        burst, lambda: burst.count() >= 20_000, "20,000 events answered 2xx"
    )
    assert_every_2xx_stored_once(db_url, burst, out)
    assert forwarder.proc.returncode == 0, err[-3000:]
    queued = re.search(r"stopped receiving; handing over the (\d+) events queued", err)
    assert queued and int(queued.group(1)) > 0, err[-3000:]  # the drain had work to do


def test_sigterm_with_the_database_away_and_no_spool_rescues_to_a_file(mysql_url, tmp_path):
    from forwarder.test_forwarder_outages import Outage

    proxy = Outage(mysql_url)
    logs = tmp_path / "logs"
    try:
        # A small queue (2 MiB, some 5,000 events) fills in seconds, however slow the clients.
        forwarder = Forwarder(
            proxy.url, "--flush-interval", "0.2", "--log-dir", str(logs), "--queue-mb", "2"
        )
        burst = Burst(forwarder.port)
        try:
            wait_until(lambda: burst.count() >= 2000, 120, "2,000 events answered 2xx")
            proxy.cut()  # the database goes away mid-burst
            # The writer waits for it, the queue fills and the beacon answers 503: backpressure.
            wait_until(lambda: burst.statuses.get(503), 120, "a 503 once the queue is full")
            forwarder.proc.send_signal(signal.SIGTERM)
            out, err = forwarder.finish()
        finally:
            burst.stop()
            forwarder.kill()
    finally:
        proxy.close()
    seen = f"answers {burst.statuses}; stderr:\n{err[-3000:]}"
    assert forwarder.proc.returncode == 1, seen
    assert burst.retry_after == {"1"}, seen
    (rescue,) = logs.glob("el-monitor-rescue-*.jsonl")
    assert str(rescue) in err and "--input file://" in err
    rescued = [json.loads(line)["uuid"] for line in rescue.read_bytes().splitlines()]
    stored = stored_uuids(mysql_url)
    # A batch whose commit the cut interrupted may be both stored and rescued (its outcome
    # was unknown); replaying it adds no row.  What matters: every 2xx is somewhere.
    assert set(burst.answered) == set(rescued) | set(stored), seen
    counts = summary_counts(out)
    assert counts["raw"] == len(burst.answered), seen
    assert_books_balance(counts, rescued=len(rescued))


def test_sigkill_with_a_spool_loses_and_duplicates_nothing(db_url, tmp_path):
    spool = tmp_path / "spool"
    extra = ("--flush-interval", "0.5", "--spool-dir", str(spool))
    forwarder = Forwarder(db_url, *extra)
    burst = Burst(forwarder.port)
    try:
        wait_until(lambda: burst.count() >= 20_000, 120, "20,000 events answered 2xx")
        forwarder.proc.send_signal(signal.SIGKILL)
        forwarder.proc.wait(60)
    finally:
        burst.stop()
        forwarder.kill()
    answered = set(burst.answered)
    before = set(stored_uuids(db_url))
    assert len(before & answered) < len(answered)  # the kill left some unstored
    again = Forwarder(db_url, *extra)  # with no client: only the journal's replay comes in
    try:
        wait_until(lambda: answered <= set(stored_uuids(db_url)), 120, "the replay stored")
        again.output.wait_for("from the journal")
        again.proc.send_signal(signal.SIGTERM)
        out, err = again.finish()
    finally:
        again.kill()
    assert again.proc.returncode == 0, err[-3000:]
    stored = stored_uuids(db_url)
    assert answered <= set(stored)  # 0 lost
    assert not [u for u, n in Counter(stored).items() if n > 1]  # 0 duplicated
    assert set(stored) <= set(burst.sent)
    counts = summary_counts(out)
    assert counts["inserted"] == len(stored) - len(before)
    # Replayed events stored before the crash too: ignored by the store for their uuid.
    replayed_again = counts["valid"] - counts["inserted"]
    assert 0 <= replayed_again <= len(before)
    assert_books_balance(counts, duplicate=replayed_again)
    assert not list((spool / "http-journal").glob("*.wal"))  # all of it checkpointed
