"""The forwarder: a source feeding the pipeline, the store writer and the event logs.

It runs in one thread (sources bring their own reader threads), owns every mutable part, and
stops cleanly when ``stop`` is set: the source ends its input (a network source first stops
receiving, then hands over what it queued), the batch is flushed (or spooled) before ``run``
returns, and what can be neither is written to a rescue file (``rescue``), loudly.
Between two chunks its run loop does whatever periodic job is due: flushing, reloading the
policy, re-pointing the store (``target``), feeding counts to Graphite and to the log.  The
report's counts go to the store with each flush, in the batch's own transaction (``writer``).
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from dataclasses import dataclass

from el_monitor.counts.counters import Counters, Snapshot
from el_monitor.counts.hourly import HourBook
from el_monitor.errors import EventError
from el_monitor.event.formats import JSON_FORMAT, MAX_EVENT_BYTES, make_line_redactor, make_parser
from el_monitor.event.names import short_hostname
from el_monitor.ingest.batching import BATCH_SIZE
from el_monitor.ingest.count_feeds import MetricsFeed, MetricSink, StatsLog
from el_monitor.ingest.event_logs import EventLogs
from el_monitor.ingest.periodic import Every, PeriodicTask, run_due
from el_monitor.ingest.pipeline import Pipeline
from el_monitor.ingest.policy import Policy, PolicyLoader
from el_monitor.ingest.rescue import rescue
from el_monitor.ingest.sdnotify import ServiceNotifier
from el_monitor.ingest.sources.base import Source, tally_of
from el_monitor.ingest.spool import Spool
from el_monitor.ingest.target import TargetFile
from el_monitor.ingest.typed_lines import TypedLines
from el_monitor.ingest.writer import Heartbeat, StoreWriter
from el_monitor.schema.registry import SchemaRegistry
from el_monitor.store import Store

log = logging.getLogger(__name__)

POLICY_CHECK_INTERVAL = 1.0  # seconds between looks at the catalog and opt-out files


@dataclass(frozen=True)
class ForwarderSettings:
    format: str = JSON_FORMAT
    log_dir: str | None = None
    spool_dir: str | None = None
    batch_size: int = BATCH_SIZE
    flush_interval: float = 1.0
    stats_interval: float | None = None
    max_event_bytes: int = MAX_EVENT_BYTES
    host: str = ""  # recvFrom for lines that name none; default: this host's short name
    instance: str = ""  # this forwarder in el_monitor_counts; default: the host name
    log_suffix: str = ""  # after the day in the event logs' names: a worker's own (``-w2``)


@dataclass(frozen=True)
class ForwardResult:
    counts: Snapshot
    pending: int  # valid events neither committed nor spooled (database away, no spool)


class Forwarder:
    """Wires source → pipeline → writer and logs; ``policy`` is the catalog's decisions in
    force at start, ``reloader`` (optional) re-reads them on SIGHUP (``reload``) or when the
    catalog or opt-out files change; ``target`` (optional, ``--db-file``) likewise names the
    database, ``store`` being the one it named at start (None: nowhere)."""

    def __init__(
        self,
        settings: ForwarderSettings,
        source: Source,
        registry: SchemaRegistry,
        store: Store | None,
        counters: Counters | None = None,
        policy: Policy | None = None,
        reloader: PolicyLoader | None = None,
        reload: threading.Event | None = None,
        metrics: MetricSink | None = None,
        target: TargetFile | None = None,
    ) -> None:
        self.settings = settings
        self.reloader = reloader
        self.target = target
        self.reload = reload or threading.Event()
        self.source = source
        self.counters = counters or Counters()
        self.counters.source_tally = tally_of(source)  # in every snapshot: the books show it
        self.logs = (
            EventLogs(settings.log_dir, self.counters, suffix=settings.log_suffix)
            if settings.log_dir
            else None
        )
        spool = Spool(settings.spool_dir) if settings.spool_dir else None
        host = settings.host or short_hostname()
        self.book = HourBook()  # the report's counts, by event hour, until the next flush
        self.writer = StoreWriter(
            store,
            registry,
            self.counters,
            self._rejected,
            spool,
            book=self.book,
            instance=settings.instance or host,
            wake=self._reload_asked if target is not None else None,
            flush_interval=settings.flush_interval,
        )
        self.notifier = ServiceNotifier()  # systemd's, when run as a Type=notify unit
        if self.notifier.watchdog_interval:
            self.writer.alive = Heartbeat(self.notifier.watchdog, self.notifier.watchdog_interval)
        self.metrics_feed = MetricsFeed(self.counters, metrics) if metrics else None
        # Capsules are decoded typed where they can be, their events made rows of the store's
        # kind (``typed_lines``).
        self.typed = TypedLines(None if store is None else store.empty)
        parser = make_parser(settings.format, host, settings.max_event_bytes, self.typed.decode)
        self.pipeline = Pipeline(
            parser,
            registry,
            self.counters,
            accept=self._accepted,
            reject=self._rejected,
            log_raw=self.logs.raw if self.logs else None,
            redact_line=make_line_redactor(settings.format),
            book=self.book,
            typed=self.typed,
        )
        self._position: object | None = None
        self._position_since = 0.0
        self.set_policy(policy or Policy())

    def set_policy(self, policy: Policy) -> None:
        """Sampling and opt-out decisions from a (re)loaded catalog, from the next event on."""
        self.pipeline.set_policy(policy)
        self.writer.set_sample_rates(policy.sample_rate)

    def _accepted(self, capsule: dict) -> None:
        self.writer.add(capsule)
        if self.logs is not None:
            self.logs.valid(capsule)

    def _rejected(self, error: EventError) -> None:
        if self.logs is not None:
            self.logs.invalid(error)
        log.debug("invalid event (%s): %s", error.code, error.message)

    def _tasks(self, stop: threading.Event) -> list[PeriodicTask]:
        """The run loop's periodic jobs, in the order they run between two chunks."""
        settings = self.settings
        flush_due = functools.partial(self._flush_due, stop)
        tasks = [PeriodicTask("flush", flush_due, functools.partial(self._flush, stop))]
        if self.reloader is not None or self.target is not None:
            reload_due = Every(POLICY_CHECK_INTERVAL, now=self._reload_asked)
            reload = functools.partial(self._maybe_reload, stop)
            tasks.append(PeriodicTask("reload", reload_due, reload))
        if self.metrics_feed is not None:
            feed = self.metrics_feed
            tasks.append(PeriodicTask("metrics", feed.slots, feed.send))
        if settings.stats_interval:
            stats = StatsLog(self.counters)
            tasks.append(PeriodicTask("stats", Every(settings.stats_interval), stats.write))
        if self.notifier.watchdog_interval:
            due = Every(self.notifier.watchdog_interval)
            tasks.append(PeriodicTask("watchdog", due, self.notifier.watchdog))
        return tasks

    def run(self, stop: threading.Event) -> ForwardResult:
        tasks = self._tasks(stop)
        self.notifier.ready("forwarding")
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
                run_due(tasks)
            self.notifier.stopping()
            pending = self._drain(stop)
            if pending:
                self._rescue()
        finally:
            self.source.close()
            if self.logs is not None:
                self.logs.close()
            if self.metrics_feed is not None:
                self.metrics_feed.close()
        return ForwardResult(self.counters.snapshot(), pending)

    def _drain(self, stop: threading.Event) -> int:
        """At the end of input: flush, then wait for the spool to drain (and a held batch to
        be stored: pointed nowhere, or woken to be re-pointed) unless stopped."""
        pending = self._flush(stop)
        if self.writer.backlog and not stop.is_set():
            log.warning(
                "input ended; waiting for the database to drain %d spooled batches "
                "(SIGTERM leaves them for the next run)",
                self.writer.backlog,
            )
        while (self.writer.backlog or pending) and not stop.is_set():
            if self.reloader is not None or self.target is not None:
                self._maybe_reload(stop)
            if not pending:
                stop.wait(self.writer.retry_in())
            pending = self._flush(stop)
        return pending

    def _rescue(self) -> None:
        """The batch the database did not take, to a file (log dir, spool dir or here)."""
        settings = self.settings
        places = [d for d in (settings.log_dir, settings.spool_dir) if d] + [os.getcwd()]
        rescue(self.writer.batch, places)
        self.writer.batch = []

    def _reload_asked(self) -> bool:
        """SIGHUP, or a rewritten database file: a reload is due at once, and a flush holding
        its batch for a database that is away or nowhere gives way to it."""
        return self.reload.is_set() or self.target is not None and self.target.changed()

    def _maybe_reload(self, stop: threading.Event) -> None:
        """Between two chunks, so no event is lost or counted twice across the switch."""
        forced = self.reload.is_set()
        self.reload.clear()
        if self.reloader is not None and (forced or self.reloader.changed()):
            policy = self.reloader.reload()
            if policy is not None:
                self.set_policy(policy)
                log.info("catalog and opt-out list reloaded")
        if self.target is not None and (forced or self.target.changed()):
            self._retarget(self.target, stop)

    def _retarget(self, target: TargetFile, stop: threading.Event) -> None:
        """Re-point the store when the database file names another: the batch in flight is
        committed to the old one or spooled (held, without a spool), the old one closed; the
        next flushes make tables in the new one and drain the spool into it."""
        new = target.reload()
        if new is None:
            return
        self._flush(stop, patient=False)
        old = self.writer.store
        self.writer.retarget(new.store)
        if new.store is not None:
            self.typed.retarget(new.store.empty)
        if old is not None:
            old.close()
        target.switched(new.url)

    def _flush_due(self, stop: threading.Event) -> bool:
        settings = self.settings
        if stop.is_set() and not self.writer.can_flush():
            return False  # stopping with the database away: ``run`` keeps the batch to the end
        if self.writer.due(settings.batch_size, settings.flush_interval):
            return True
        # Lines that produced nothing to store still move the checkpoint now and then.
        return (
            self._position is not None
            and time.monotonic() - self._position_since >= settings.flush_interval
        )

    def _flush(self, stop: threading.Event, patient: bool = True) -> int:
        """Logs, then rows and counts, then the checkpoint.  A crash between the commit and the
        checkpoint replays the lines since the last checkpoint (their rows are then counted
        duplicate, their counts twice): the logs are synced first to keep that moment short."""
        if self.logs is not None:
            self.logs.sync()
        pending = self.writer.flush(stop, patient)
        if not pending and not self.writer.counts_pending and self._position is not None:
            self.source.commit(self._position)
            self._position = None
        return pending
