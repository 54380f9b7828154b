"""``el-monitor``: argparse subcommands.  The only place that prints for users and exits."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence

from el_monitor import __version__
from el_monitor.argtypes import instance_name, positive_float, positive_int
from el_monitor.cli import catalog as cli_catalog
from el_monitor.cli import notify as cli_alerts
from el_monitor.cli import optout as cli_optout
from el_monitor.cli import report as cli_report
from el_monitor.errors import UserError

log = logging.getLogger("el_monitor")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG
        if args.verbose > 1
        else logging.INFO
        if args.verbose
        else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        return args.run(args)
    except UserError as exc:
        if args.verbose:
            log.exception("failed")
        print(f"el-monitor: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `el-monitor schemas | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="el-monitor",
        description="Monitoring and alerting companion for EventLogging pipelines.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="more logging (-vv for debug); tracebacks on errors",
    )
    parser.add_argument("--config", metavar="FILE", help="catalog / configuration TOML file")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_forward(commands)
    cli_catalog.register(commands)
    cli_optout.register(commands)
    cli_report.register(commands)
    cli_alerts.register(commands)
    return parser


def _add_forward(commands: argparse._SubParsersAction) -> None:
    forward = commands.add_parser(
        "forward",
        help="validate raw events and store them, counted per schema",
        description="Read raw events, validate them against their schemas, store the valid "
        "ones (one table per schema revision) and count everything per schema. A bounded "
        "input ends with a per-schema summary on stdout.",
    )
    forward.add_argument(
        "--schemas",
        required=True,
        metavar="DIR|URL",
        help="schema registry: a directory <Schema>/<revision>.json, or an "
        "HTTP schema repository URL",
    )
    forward.add_argument(
        "--schema-cache",
        metavar="DIR",
        default=".el-monitor-schemas",
        help="on-disk cache for an HTTP schema repository",
    )
    forward.add_argument(
        "--input",
        default="stdin://",
        metavar="URI",
        help="stdin://, file:///path[?follow=1], udp://host:port, "
        "http://host:port (default: stdin://)",
    )
    forward.add_argument(
        "--format",
        default="json",
        metavar="FORMAT",
        help="'json' (one capsule per line) or an EventLogging format string "
        "such as '%%q %%{recvFrom}s %%{seqId}d %%t %%h %%{userAgent}i'",
    )
    forward.add_argument(
        "--db",
        default="sqlite:///el-monitor.db",
        metavar="URL",
        help="sqlite:///path or mysql://user:password@host:port/db "
        "(default: sqlite:///el-monitor.db)",
    )
    forward.add_argument(
        "--log-dir", metavar="DIR", help="write all/valid/invalid JSON-lines logs, one file per day"
    )
    forward.add_argument(
        "--spool-dir",
        metavar="DIR",
        help="keep batches here while the database is unavailable (also lets the forwarder "
        "start while it is down)",
    )
    forward.add_argument(
        "--batch-size",
        type=positive_int,
        default=5000,
        metavar="N",
        help="rows per insert transaction (default 5000)",
    )
    forward.add_argument(
        "--flush-interval",
        type=positive_float,
        default=1.0,
        metavar="S",
        help="longest a row waits before it is written (default 1 s)",
    )
    forward.add_argument(
        "--stats-interval",
        type=positive_float,
        metavar="S",
        help="log the counters every S seconds",
    )
    forward.add_argument(
        "--max-event-bytes",
        type=positive_int,
        default=65536,
        metavar="N",
        help="longer raw events are parse errors (default 65536)",
    )
    forward.add_argument(
        "--secret-file",
        metavar="FILE",
        help="site secret for opt-out hashes (else the catalog's secret_file, else "
        "$EL_MONITOR_SECRET)",
    )
    forward.add_argument(
        "--optout-file",
        metavar="FILE",
        help="opt-out list (else the catalog's optout_file or ./el-monitor-optout.jsonl)",
    )
    forward.add_argument(
        "--graphite",
        metavar="HOST:PORT",
        help="send counts and rates to carbon's plaintext port (e.g. graphite:2003)",
    )
    forward.add_argument(
        "--graphite-prefix",
        default="eventlogging",
        metavar="PREFIX",
        help="first node of every metric name (default eventlogging)",
    )
    forward.add_argument(
        "--instance",
        type=instance_name,
        metavar="NAME",
        help="this forwarder's name in metric names and the report's counts "
        "(1-63 of A-Z a-z 0-9 _ -; default: the short host name)",
    )
    forward.add_argument(
        "--graphite-interval",
        type=positive_float,
        default=10.0,
        metavar="S",
        help="seconds between metric flushes (default 10)",
    )
    forward.set_defaults(run=_run_forward)


def _run_forward(args: argparse.Namespace) -> int:
    from el_monitor.counts.counters import format_errors, format_table
    from el_monitor.event.formats import make_parser
    from el_monitor.ingest.forwarder import Forwarder, ForwarderSettings
    from el_monitor.ingest.policy import PolicyLoader
    from el_monitor.ingest.sources import open_source
    from el_monitor.schema.registry import open_registry
    from el_monitor.store import StoreUnavailable, open_store

    make_parser(args.format, "check")  # a bad format string fails before anything opens
    registry = open_registry(args.schemas, args.schema_cache)
    loader = PolicyLoader(args.config, registry, args.secret_file, args.optout_file)
    policy = loader.load()  # an invalid catalog stops us here, before anything opens
    try:
        store = open_store(args.db)
    except StoreUnavailable as exc:
        if not args.spool_dir:
            raise UserError(
                f"{exc} (is the database running? check --db; with --spool-dir the forwarder "
                "starts anyway and spools until it answers)"
            ) from None
        log.warning("%s: starting anyway, spooling to %s until it answers", exc, args.spool_dir)
        store = open_store(args.db, connect_now=False)
    settings = ForwarderSettings(
        format=args.format,
        log_dir=args.log_dir,
        spool_dir=args.spool_dir,
        batch_size=args.batch_size,
        flush_interval=args.flush_interval,
        stats_interval=args.stats_interval,
        max_event_bytes=args.max_event_bytes,
        instance=args.instance or "",
    )
    source = open_source(
        args.input, max_line_bytes=args.max_event_bytes, max_body_bytes=args.max_event_bytes
    )
    metrics = _metric_emitter(args) if args.graphite else None
    stop, reload = threading.Event(), threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, lambda *_: reload.set())
    try:
        forwarder = Forwarder(
            settings,
            source,
            registry,
            store,
            policy=policy,
            reloader=loader,
            reload=reload,
            metrics=metrics,
        )
        result = forwarder.run(stop)
    finally:
        store.close()
    print(format_table(result.counts))
    errors = format_errors(result.counts)
    if errors:
        print("\nmost common errors:\n" + errors)
    return 1 if result.pending else 0


def _metric_emitter(args: argparse.Namespace):
    from el_monitor.graphite.emitter import GraphiteSettings, MetricEmitter, parse_address

    host, port = parse_address(args.graphite)
    settings = GraphiteSettings(
        host=host,
        port=port,
        prefix=args.graphite_prefix,
        instance=args.instance or "",
        interval=args.graphite_interval,
    )
    return MetricEmitter(settings)


if __name__ == "__main__":
    sys.exit(main())
