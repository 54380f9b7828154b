"""How ``el-monitor forward`` runs one forwarder: the checks before anything opens, the
database, the input, the run and its end; shared by the single process (``forward``) and by
each worker of ``forward --workers`` (``forward_workers``).
"""

from __future__ import annotations

import argparse
import gc
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from el_monitor.cli.pidfile import pid_file
from el_monitor.cli.stores import open_later, open_or_fail, store_errors
from el_monitor.ingest.batching import BATCH_SIZE

if TYPE_CHECKING:
    from el_monitor.graphite.emitter import MetricEmitter
    from el_monitor.ingest.forwarder import ForwarderSettings, ForwardResult
    from el_monitor.ingest.policy import Policy, PolicyLoader
    from el_monitor.ingest.sources.base import Source
    from el_monitor.ingest.sources.sharing import Share
    from el_monitor.ingest.target import TargetFile
    from el_monitor.schema.registry import SchemaRegistry
    from el_monitor.store import Store

log = logging.getLogger(__name__)

DEFAULT_INPUT = "stdin://"
SPOOL_HINT = "with --spool-dir the forwarder starts anyway and spools until it answers"
NOWHERE_NOTE = (
    "events are spooled (with --spool-dir) or held until a URL is written there (SIGHUP "
    "makes the forwarder look at once)"
)


class Prepared(NamedTuple):
    """What ``forward`` checks and loads before anything opens (shared by every worker)."""

    registry: SchemaRegistry
    revisions: list[tuple[str, str]]
    loader: PolicyLoader
    policy: Policy
    settings: ForwarderSettings


def prepare(args: argparse.Namespace) -> Prepared:
    """Format, registry and catalog: a mistake in any fails before the source or the database
    is opened."""
    from el_monitor.event.formats import make_parser
    from el_monitor.ingest.forwarder import ForwarderSettings
    from el_monitor.ingest.policy import PolicyLoader
    from el_monitor.schema.registry import open_registry, require_schemas

    make_parser(args.format, "check")  # a bad format string fails before anything opens
    registry = open_registry(args.schemas, args.schema_cache)
    revisions = require_schemas(registry, args.schemas)
    log.info(
        "schema registry %s: %d schemas, %d revisions",
        args.schemas,
        len({name for name, _ in revisions}),
        len(revisions),
    )
    loader = PolicyLoader(args.config, registry, args.secret_file, args.optout_file)
    policy = loader.load()  # an invalid catalog stops us here, before anything opens
    settings = ForwarderSettings(
        format=args.format,
        log_dir=args.log_dir,
        spool_dir=args.spool_dir,
        batch_size=args.batch_size or BATCH_SIZE,
        flush_interval=args.flush_interval,
        stats_interval=args.stats_interval,
        max_event_bytes=args.max_event_bytes,
        instance=args.instance or "",
    )
    return Prepared(registry, revisions, loader, policy, settings)


def open_target(
    args: argparse.Namespace, spool_dir: str | None
) -> tuple[TargetFile | None, Store | None]:
    """``--db``'s store, or ``--db-file``'s target and the store it names at start (None:
    nowhere); ``--db-password-file``'s password goes into a URL the file names."""
    from el_monitor.ingest.target import TargetFile

    if not args.db_file:
        return None, _open_store(args.db, spool_dir)
    target = TargetFile(args.db_file, open_later, args.db_password_file)
    target.url = target.read()
    if target.url is None:
        log.warning("database file %s names no database: %s", args.db_file, NOWHERE_NOTE)
        return target, None
    return target, _open_store(target.url, spool_dir)


def forward_with(
    args: argparse.Namespace,
    prepared: Prepared,
    open_target: Callable[[], tuple[TargetFile | None, Store | None]],
    events: tuple[threading.Event, threading.Event],
    open_input: Callable[[], Source],
    pid_path: str | None,
) -> ForwardResult:
    """Run one forwarder on what ``prepare`` gave, until ``stop`` (the first of ``events``;
    the second is SIGHUP's reload).  The pid file is written first, then the input opens,
    then the database (so a missing input file makes none); the store in force is closed
    after."""
    from el_monitor.cli.forward_start import log_start
    from el_monitor.ingest.forwarder import Forwarder
    from el_monitor.ingest.target import describe

    stop, reload = events
    settings = prepared.settings
    forwarder, store = None, None
    try:
        with store_errors(doing="store events", hint=SPOOL_HINT), pid_file(pid_path):
            source = open_input()
            target, store = open_target()
            into = describe(target.url if target is not None else args.db)
            inputs = " ".join(args.input or [DEFAULT_INPUT])
            log_start(inputs, source, into, prepared.revisions, args.schemas, prepared.loader)
            forwarder = Forwarder(
                settings,
                source,
                prepared.registry,
                store,
                policy=prepared.policy,
                reloader=prepared.loader,
                reload=reload,
                metrics=_metric_emitter(args, settings.instance),
                target=target,
            )
            # What start-up made (modules, compiled schemas) lives as long as the process:
            # frozen, the collector stops scanning it at every full collection (3% of a
            # forwarder's time, real-size events into SQLite).
            gc.freeze()
            return forwarder.run(stop)
    finally:  # the store in force at the end: the file may have re-pointed it
        last = forwarder.writer.store if forwarder is not None else store
        if last is not None:
            last.close()


def warn_stranded(spool_dir: str | None, workers: int) -> None:
    """Spools of workers this run does not have: say so, as nobody will drain them."""
    if spool_dir is None:
        return
    from el_monitor.ingest.workers import stranded_spools

    for path in stranded_spools(spool_dir, workers):
        log.warning(
            "%s holds spooled batches or journal of a worker this run does not have: run "
            "with --workers %s until it drains, or they stay unstored",
            path,
            path.name[1:],
        )


def _open_store(url: str, spool_dir: str | None) -> Store:
    return open_or_fail(url, create=True, spool_dir=spool_dir, hint=SPOOL_HINT)


def open_input(
    args: argparse.Namespace, spool_dir: str | None, share: Share | None = None
) -> Source:
    """``--input`` (or a worker's ``share`` of them), its lines read as all-log records with
    ``--replay-all-log``."""
    from el_monitor.ingest.sources import open_source
    from el_monitor.ingest.sources.records import RECORD_BYTES_PER_LINE_BYTE, AllLogRecords
    from el_monitor.ingest.sources.sharing import open_share, plan_shares

    limit = args.max_event_bytes
    if args.replay_all_log:  # a record is longer than its line: one taken whole is not cut
        limit = RECORD_BYTES_PER_LINE_BYTE * (limit + 1) + 2
    options = {
        "max_line_bytes": limit,
        "max_body_bytes": limit,
        "spool_dir": spool_dir,
        "queue_bytes": args.queue_mb << 20,
    }
    inputs = args.input or [DEFAULT_INPUT]
    if share is None and len(inputs) > 1:
        (share,) = plan_shares(inputs, 1)  # several files, read one after another
    if share is not None:
        source = open_share(share, **options)
    else:
        source = open_source(inputs[0], **options)
    return AllLogRecords(source) if args.replay_all_log else source


def _metric_emitter(args: argparse.Namespace, instance: str) -> MetricEmitter | None:
    """The Graphite emitter ``--graphite`` asks for; None without it."""
    from el_monitor.graphite.emitter import GraphiteSettings, MetricEmitter, parse_address

    if not args.graphite:
        return None
    host, port = parse_address(args.graphite)
    settings = GraphiteSettings(
        host=host,
        port=port,
        prefix=args.graphite_prefix,
        instance=instance,
        interval=args.graphite_interval,
    )
    return MetricEmitter(settings)
