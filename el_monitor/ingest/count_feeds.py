"""Where the forwarder's processing-time counts go between two snapshots: a log line, Graphite.

Each feed keeps the snapshot it last delivered and sends the difference since, so the two never
disturb each other's intervals.  (The report's counts, by the events' own hour, are written
with each batch: ``counts.hourly`` and the store writer.)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from el_monitor.counts.counters import (
    Counters,
    Interval,
    difference,
    error_difference,
)
from el_monitor.ingest.periodic import WallClockSlots
from el_monitor.measures import OVERALL, SOURCE_LOSSES

_STATS = logging.getLogger("el_monitor.stats")  # forward --stats-interval


class MetricSink(Protocol):
    """Where interval counts go (the Graphite emitter); ``submit`` must never block."""

    interval: float

    def submit(self, interval: Interval, errors: Mapping | None = None) -> None: ...

    def close(self) -> None: ...


class StatsLog:
    """Rates and totals as one INFO line (``forward --stats-interval``), shown whatever ``-v``
    says: the operator asked for them."""

    def __init__(self, counters: Counters) -> None:
        _STATS.setLevel(logging.INFO)
        self._counters = counters
        self._last = counters.origin()

    def write(self) -> None:
        now = self._counters.snapshot()
        interval = difference(self._last, now)
        self._last = now
        rates = ", ".join(
            f"{m} {interval.rate(OVERALL, m):.0f}/s"
            for m in ("raw", "valid", "invalid", "inserted")
        )
        busiest = sorted(
            (s for s in interval.counts if s != OVERALL), key=lambda s: -interval.counts[s]["raw"]
        )[:3]
        top = ", ".join(f"{s} {interval.rate(s, 'raw'):.0f}/s" for s in busiest)
        totals = now.scopes[OVERALL]
        lost = ", ".join(f"{m} {totals[m]}" for m in SOURCE_LOSSES if totals.get(m))
        _STATS.info(
            "%s; busiest: %s; source lost: %s; totals: %s",
            rates, top or "-", lost or "none", dict(totals),
        )  # fmt: skip


class MetricsFeed:
    """Interval counts to the metrics sink, once per wall-clock slot of its interval."""

    def __init__(
        self, counters: Counters, sink: MetricSink, clock: Callable[[], float] = time.time
    ) -> None:
        self._counters = counters
        self._sink = sink
        self.slots = WallClockSlots(sink.interval, clock)
        self._last = counters.origin()

    def send(self) -> None:
        """The counts up to the slot's boundary, stamped with the slot they cover."""
        self._send(self.slots.boundary)
        self.slots.advance()

    def close(self) -> None:
        """The last, partial interval lands in a slot of its own; then the sink closes."""
        self._send(self.slots.boundary)
        self._sink.close()

    def _send(self, boundary: float) -> None:
        now = self._counters.snapshot()
        stamp = boundary - self._sink.interval
        seconds = max(now.at - self._last.at, 1e-3)
        interval = Interval(stamp - seconds, stamp, difference(self._last, now).counts)
        self._sink.submit(interval, error_difference(self._last, now))
        self._last = now
