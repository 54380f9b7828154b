"""The heartbeat writer: the primary's row in ``el_monitor_heartbeat`` refreshed every
interval, so a replica's lag is the age of the newest row it has applied (pt-heartbeat style).

A heartbeat that stops when the primary restarts would page as lag on every replica, so the
loop outlives the server: a write that fails because the server is away (down, restarting,
fenced ``read_only``) is logged once, retried with backoff (1 s doubling to 30 s), and its
return is logged once too.  A write the server refuses for a lasting reason (no privilege,
unknown database) is not retried: it ends the loop with ``StoreError``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import NamedTuple

from el_monitor.ingest.writer import Backoff
from el_monitor.store import Store, StoreUnavailable
from el_monitor.store.replication import create_heartbeat, write_heartbeat

log = logging.getLogger(__name__)

RETRY_CEILING = 30.0  # seconds between attempts while the server is away, at most


class HeartbeatResult(NamedTuple):
    written: int  # heartbeats written
    failed: int  # attempts that found the server away
    outages: int  # times the server went away (each logged once)


def run_heartbeat(
    store: Store,
    stop: threading.Event,
    interval: float,
    database: str | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> HeartbeatResult:
    """Write a heartbeat every ``interval`` seconds until ``stop`` is set; the table is
    created on the first write that reaches the server."""
    backoff = Backoff(first=min(1.0, interval), ceiling=max(RETRY_CEILING, interval))
    written = failed = outages = missed = 0
    ready = away = False
    due = clock()
    while not stop.is_set():
        try:
            if not ready:
                create_heartbeat(store, database)
                ready = True
            write_heartbeat(store, database)
        except StoreUnavailable as exc:
            failed += 1
            missed += 1
            if not away:
                outages += 1
                log.warning("heartbeat not written: %s; retrying with backoff", exc)
                away = True
            backoff.failed(clock())
            stop.wait(max(0.0, backoff.next_attempt - clock()))
            continue
        written += 1
        if away:
            log.warning("heartbeat written again after %d failed attempts", missed)
            away, missed = False, 0
            backoff.succeeded()
        due = max(due + interval, clock())  # after an outage: on from now, no burst of beats
        stop.wait(max(0.0, due - clock()))
    return HeartbeatResult(written, failed, outages)
