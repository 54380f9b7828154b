"""The forwarder: a source feeding the pipeline, the store writer and the event logs.

It runs in one thread (sources bring their own reader threads), owns every mutable part, and
stops cleanly when ``stop`` is set: the batch is flushed (or spooled) before ``run`` returns.
"""

from __future__ import annotations

import logging
import math
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from el_monitor.counts.counters import Counters, Interval, Snapshot, difference, error_difference
from el_monitor.counts.recorder import TEXT_LIMIT, CountsRecorder, ErrorKey
from el_monitor.errors import EventError
from el_monitor.event.formats import JSON_FORMAT, MAX_EVENT_BYTES, make_line_redactor, make_parser
from el_monitor.ingest.event_logs import EventLogs
from el_monitor.ingest.pipeline import Pipeline, Policy
from el_monitor.ingest.policy import PolicyLoader
from el_monitor.ingest.sources.base import Source
from el_monitor.ingest.spool import Spool
from el_monitor.ingest.writer import StoreWriter
from el_monitor.schema.registry import SchemaRegistry
from el_monitor.store import Store

log = logging.getLogger(__name__)

MAX_EXAMPLES = 10_000  # error groups remembered between two counts writes
POLICY_CHECK_INTERVAL = 1.0  # seconds between looks at the catalog and opt-out files


class _Every:
    """A periodic task of the run loop: due every ``interval`` seconds (never when None)."""

    def __init__(self, interval: float | None) -> None:
        self.interval = interval
        self.at = time.monotonic() + interval if interval else math.inf

    def due(self, now: bool = False) -> bool:
        """Whether to run it now (``now`` forces it); when it is, the next run is scheduled."""
        if self.interval is None or not now and time.monotonic() < self.at:
            return False
        self.at = time.monotonic() + self.interval
        return True


def _next_boundary(now: float, interval: float) -> float:
    """The next wall-clock multiple of ``interval`` (so every forwarder flushes in step)."""
    return (math.floor(now / interval) + 1) * interval


class MetricSink(Protocol):
    """Where interval counts go (the Graphite emitter); ``submit`` must never block."""

    interval: float

    def submit(self, interval: Interval, errors: Mapping | None = None) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class ForwarderSettings:
    format: str = JSON_FORMAT
    log_dir: str | None = None
    spool_dir: str | None = None
    batch_size: int = 5000
    flush_interval: float = 1.0
    stats_interval: float | None = None
    max_event_bytes: int = MAX_EVENT_BYTES
    host: str = ""  # recvFrom for lines that name none; default: this host's short name
    counts_interval: float | None = 60.0  # seconds between writes to el_monitor_counts
    instance: str = ""  # this forwarder in el_monitor_counts; default: the host name


@dataclass(frozen=True)
class ForwardResult:
    counts: Snapshot
    pending: int  # valid events neither committed nor spooled (database away, no spool)


class Forwarder:
    def __init__(
        self,
        settings: ForwarderSettings,
        source: Source,
        registry: SchemaRegistry,
        store: Store,
        counters: Counters | None = None,
        policy: PolicyLoader | None = None,
        reload: threading.Event | None = None,
        metrics: MetricSink | None = None,
    ) -> None:
        self.settings = settings
        self.policy_loader = policy
        self.reload = reload or threading.Event()  # set (by SIGHUP) to re-read the catalog
        self.metrics = metrics
        self.source = source
        self.counters = counters or Counters()
        self.logs = EventLogs(settings.log_dir) if settings.log_dir else None
        spool = Spool(settings.spool_dir) if settings.spool_dir else None
        self.writer = StoreWriter(
            store, registry, self.counters, self._rejected, spool, sample_rate_for=self._sample_rate
        )
        host = settings.host or socket.gethostname().split(".")[0]
        self.recorder = (
            CountsRecorder(store, settings.instance or host) if settings.counts_interval else None
        )
        # The first message and raw event of each error group since the last counts write.
        self._examples: dict[ErrorKey, tuple[str, str]] = {}
        parser = make_parser(settings.format, host, settings.max_event_bytes)
        self.pipeline = Pipeline(
            parser,
            registry,
            self.counters,
            accept=self._accepted,
            reject=self._rejected,
            log_raw=self.logs.raw if self.logs else None,
            redact_line=make_line_redactor(settings.format),
        )
        self._position: object | None = None
        self._position_since = 0.0
        if policy is not None:
            self.set_policy(policy.load())

    def set_policy(self, policy: Policy) -> None:
        """Sampling and opt-out decisions from a (re)loaded catalog, from the next event on."""
        self.pipeline.set_policy(policy)

    def _sample_rate(self, schema: str) -> int:
        sampler = self.pipeline.policy.sampler_for(schema)
        return sampler.rate if sampler is not None else 1

    def _accepted(self, capsule: dict) -> None:
        self.writer.add(capsule)
        if self.logs is not None:
            self.logs.valid(capsule)

    def _rejected(self, error: EventError) -> None:
        if self.logs is not None:
            self.logs.invalid(error)
        if self.recorder is not None and len(self._examples) < MAX_EXAMPLES:
            schema = error.schema if error.schema and self.counters.known(error.schema) else "-"
            key = (schema, error.code, error.path or "")
            if key not in self._examples:
                self._examples[key] = (error.message[:TEXT_LIMIT], error.raw_event[:TEXT_LIMIT])
        log.debug("invalid event (%s): %s", error.code, error.message)

    def run(self, stop: threading.Event) -> ForwardResult:
        settings = self.settings
        stats = _Every(settings.stats_interval)
        counts = _Every(settings.counts_interval if self.recorder is not None else None)
        policy_check = _Every(POLICY_CHECK_INTERVAL if self.policy_loader is not None else None)
        stats_last = metrics_last = counts_last = self.counters.snapshot()
        metrics_at = _next_boundary(time.time(), self.metrics.interval) if self.metrics else None
        try:
            for chunk in self.source.chunks(stop):
                if chunk.lines:
                    if self.logs is not None:
                        self.logs.roll()
                    self.pipeline.process(chunk)
                if chunk.position is not None:
                    if self._position is None:
                        self._position_since = time.monotonic()
                    self._position = chunk.position
                if self._flush_due():
                    self._flush(stop)
                if policy_check.due(now=self.reload.is_set()):
                    self._maybe_reload()
                if metrics_at is not None and time.time() >= metrics_at:
                    metrics_last = self._emit(metrics_last, metrics_at)
                    metrics_at = _next_boundary(time.time(), self.metrics.interval)
                if counts.due():
                    counts_last = self._record_counts(counts_last)
                if stats.due():
                    stats_last = self._log_stats(stats_last)
                if stop.is_set():
                    break
            pending = self._flush(stop)
            if self.writer.backlog and not stop.is_set():
                log.warning(
                    "input ended; waiting for the database to drain %d spooled batches "
                    "(SIGTERM leaves them for the next run)",
                    self.writer.backlog,
                )
            while self.writer.backlog and not stop.is_set():
                stop.wait(max(0.0, self.writer.backoff.next_attempt - time.monotonic()))
                pending += self._flush(stop)
            if self.recorder is not None:
                self._record_counts(counts_last)
        finally:
            self.source.close()
            if self.logs is not None:
                self.logs.close()
            if self.metrics is not None:
                self._emit(metrics_last, metrics_at)
                self.metrics.close()
        if pending:
            log.error("%d valid events could not be stored or spooled", pending)
        return ForwardResult(self.counters.snapshot(), pending)

    def _maybe_reload(self) -> None:
        """Between two chunks, so no event is lost or counted twice across the switch."""
        if self.reload.is_set() or self.policy_loader.changed():
            self.reload.clear()
            policy = self.policy_loader.reload()
            if policy is not None:
                self.set_policy(policy)
                log.info("catalog and opt-out list reloaded")

    def _flush_due(self) -> bool:
        settings = self.settings
        if self.writer.due(settings.batch_size, settings.flush_interval):
            return True
        # Lines that produced nothing to store still move the checkpoint now and then.
        return (
            self._position is not None
            and time.monotonic() - self._position_since >= settings.flush_interval
        )

    def _flush(self, stop: threading.Event) -> int:
        pending = self.writer.flush(stop)
        if self.logs is not None:
            self.logs.sync()
        if not pending and self._position is not None:
            self.source.commit(self._position)
            self._position = None
        return pending

    def _record_counts(self, last: Snapshot) -> Snapshot:
        """Add the counts since ``last`` to the store; on failure keep ``last`` to retry."""
        now = self.counters.snapshot()
        if not self.recorder.write(last, now, self._examples):
            return last
        self._examples = {}
        return now

    def _emit(self, last: Snapshot, boundary: float) -> Snapshot:
        """Hand the counts since ``last`` to the metrics sink (it never blocks).

        Graphite keeps one value per slot, so each flush is stamped with the start of the slot
        it covers: the counts up to the wall-clock ``boundary`` land in the slot before it, and
        the last, partial interval at exit lands in a slot of its own.
        """
        now = self.counters.snapshot()
        stamp = boundary - self.metrics.interval
        seconds = max(now.at - last.at, 1e-3)
        interval = Interval(stamp - seconds, stamp, difference(last, now).counts)
        self.metrics.submit(interval, error_difference(last, now))
        return now

    def _log_stats(self, last: Snapshot) -> Snapshot:
        now = self.counters.snapshot()
        interval = difference(last, now)
        rates = ", ".join(
            f"{m} {interval.rate('overall', m):.0f}/s"
            for m in ("raw", "valid", "invalid", "inserted")
        )
        busiest = sorted(
            (s for s in interval.counts if s != "overall"),
            key=lambda s: -interval.counts[s]["raw"],
        )[:3]
        top = ", ".join(f"{s} {interval.rate(s, 'raw'):.0f}/s" for s in busiest)
        log.info("%s; busiest: %s; totals: %s", rates, top or "-", dict(now.scopes["overall"]))
        return now
