"""``el-monitor forward``: validate raw events, store the valid ones, count everything.

Everything that can be wrong with the command line (format string, registry, catalog) fails
before the source or the database is opened, so a typo never leaves a half-started forwarder.
A bounded input ends with the per-schema summary on stdout; the exit status is 1 when valid
events could be neither stored nor spooled.
"""

from __future__ import annotations

import argparse
import signal
from collections.abc import Sequence

from el_monitor.argtypes import instance_name, positive_float, positive_int
from el_monitor.cli.forwarding import (
    forward_with,
    open_input,
    open_target,
    prepare,
    warn_stranded,
)
from el_monitor.cli.options import (
    DEFAULT_DB,
    Commands,
    add_db_option,
    add_db_password_option,
    add_registry_options,
)
from el_monitor.cli.signals import STOP_SIGNALS, SignalEvent, set_on
from el_monitor.cli.table import format_table
from el_monitor.counts.counters import ErrorGroup, Snapshot, error_groups, summary_rows
from el_monitor.ingest.batching import BATCH_SIZE, SHARED_FILE_BATCH_SIZE
from el_monitor.ingest.sources.network import QUEUE_BYTES
from el_monitor.measures import (
    BUSY,
    DAMAGED,
    DROPPED,
    KERNEL_DROPPED,
    MEASURES,
    OVERALL,
    REFUSED,
)


def register(commands: Commands) -> None:
    """Add ``forward`` to the ``el-monitor`` subcommands."""
    forward = commands.add_parser(
        "forward",
        help="validate raw events and store them, counted per schema",
        description="Read raw events, validate them against their schemas, store the valid "
        "ones (one table per schema revision) and count everything per schema. A bounded "
        "input ends with a per-schema summary on stdout.",
    )
    add_registry_options(forward)
    forward.add_argument(
        "--input",
        action="append",
        metavar="URI",
        help="stdin://, file:///path[?follow=1], udp://host:port, http://host:port, "
        "tcp://host:port (subscribe to a ZeroMQ publisher, EventLogging's stream: PUB/SUB "
        "drops what a slow subscriber misses) (default: stdin://); repeat it for several "
        "files, read one after another (or shared out with --workers)",
    )
    forward.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        metavar="N",
        help="run N forwarder processes under one supervisor, for inputs they can share: "
        "udp:// and http:// (one port, spread by the kernel), nats:// (members of one "
        "consumer) or file:// inputs (cut into pieces the workers take in turn); each has "
        "its own instance name (NAME-wK for worker K >= 2), spool subdirectory and event log "
        "files; the summary sums them (default 1: one process)",
    )
    forward.add_argument(
        "--format",
        default="json",
        metavar="FORMAT",
        help="'json' (one capsule per line) or an EventLogging format string "
        "such as '%%q %%{recvFrom}s %%{seqId}d %%t %%h %%{userAgent}i'",
    )
    target = forward.add_mutually_exclusive_group()
    add_db_option(
        target,
        default=DEFAULT_DB,
        help=f"sqlite:///path or mysql://user@host:port/db (default: {DEFAULT_DB})",
        password=False,
    )
    add_db_password_option(forward)
    target.add_argument(
        "--db-file",
        metavar="PATH",
        help="instead of --db: a file whose first line (not blank, not a # comment) is the "
        "database URL, read again on SIGHUP and when it changes, to re-point a running "
        "forwarder (a failover); an empty file points it nowhere: it spools (or holds) "
        "until a URL is written",
    )
    forward.add_argument(
        "--pid-file",
        metavar="PATH",
        help="write this process's id here while it runs (for `el-monitor drill failover "
        "--forwarder PATH`, or systemd)",
    )
    forward.add_argument(
        "--log-dir", metavar="DIR", help="write all/valid/invalid JSON-lines logs, one file per day"
    )
    forward.add_argument(
        "--replay-all-log",
        action="store_true",
        help="the input is an all-*.jsonl log that --log-dir wrote: forward the raw lines its "
        "records hold, read with --format (the format they arrived in), to backfill an outage",
    )
    forward.add_argument(
        "--spool-dir",
        metavar="DIR",
        help="keep batches here while the database is unavailable (also lets the forwarder "
        "start while it is down); an http:// input also journals what it accepts here, so "
        "accepted events survive a crash",
    )
    forward.add_argument(
        "--queue-mb",
        type=positive_int,
        default=QUEUE_BYTES >> 20,
        metavar="MIB",
        help=f"udp://, tcp:// and http:// inputs: events received but not yet processed are "
        f"held in memory up to this size (default {QUEUE_BYTES >> 20}); past it the beacon answers "
        f"503 with Retry-After and UDP and ZeroMQ count what they drop (under the summary; "
        f"overall.dropped in Graphite)",
    )
    forward.add_argument(
        "--batch-size",
        type=positive_int,
        metavar="N",
        help=f"rows per insert transaction (default {BATCH_SIZE}; {SHARED_FILE_BATCH_SIZE} for "
        f"--workers sharing one SQLite file, whose every commit empties the others' page cache)",
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
    forward.set_defaults(run=run_forward)


def run_forward(args: argparse.Namespace) -> int:
    """Forward until the input ends or a signal stops it; SIGHUP reloads catalog and opt-outs
    (and the database file).  With ``--workers`` above 1, a supervisor runs the workers."""
    prepared = prepare(args)
    if args.workers > 1:
        from el_monitor.cli.forward_workers import supervise

        status, counts = supervise(args, prepared)
        print_summary(counts, input_names(args))
        return status
    warn_stranded(args.spool_dir, 1)
    stop, reload = SignalEvent(), SignalEvent()
    set_on(stop, *STOP_SIGNALS)
    set_on(reload, signal.SIGHUP)  # before the pid file tells anyone
    result = forward_with(
        args,
        prepared,
        lambda: open_target(args, args.spool_dir),
        (stop, reload),
        lambda: open_input(args, args.spool_dir),
        pid_path=args.pid_file,
    )
    print_summary(result.counts, input_names(args))
    return 1 if result.pending else 0


def input_names(args: argparse.Namespace) -> str:
    """The inputs as given, to name what a source lost in the summary."""
    return ", ".join(args.input or ["stdin://"])


def print_summary(counts: Snapshot, source: str = "stdin://") -> None:
    """The per-schema summary, what the source lost or refused before the pipeline saw it,
    and the most common errors, on stdout."""
    print(summary_table(counts))
    for line in source_losses(counts, source):
        print(line)
    errors = error_groups(counts)
    if errors:
        print("\nmost common errors:\n" + format_errors(errors))


def summary_table(snapshot: Snapshot, measures: Sequence[str] = MEASURES) -> str:
    """The per-schema counts, busiest schema first and the overall total under a rule."""
    *schemas, (overall, totals) = summary_rows(snapshot)
    return format_table(
        ["schema", *measures],
        [[scope, *(str(values[m]) for m in measures)] for scope, values in schemas],
        total=[overall, *(str(totals[m]) for m in measures)],
    )


def format_errors(groups: Sequence[ErrorGroup]) -> str:
    """One error group per line: count, schema (``-`` for none), code and JSON path."""
    return "\n".join(
        f"{g.events:>8}  {g.scope}  {g.code}" + (f"  {g.path}" if g.path else "") for g in groups
    )


LOSS_TEXTS = (
    (DROPPED, "lines dropped (the queue was full; raise --queue-mb)"),
    (DAMAGED, "damaged messages terminated"),
    (REFUSED, "requests refused (4xx: the client's fault)"),
    (BUSY, "requests answered 503 busy (the queue was full; they retry; raise --queue-mb?)"),
    (
        KERNEL_DROPPED,
        "datagrams dropped by the kernel (its socket buffer was full: more --workers?)",
    ),
)


def source_losses(snapshot: Snapshot, source: str) -> list[str]:
    """A line for each kind of input the source lost or refused, when there was any: the
    table starts at ``raw``, so the lines received are its raw plus those dropped."""
    return [
        f"{source}: {count:,} {text}"
        for measure, text in LOSS_TEXTS
        if (count := snapshot.get(OVERALL, measure))
    ]
