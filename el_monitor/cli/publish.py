"""``el-monitor publish``: the producing side of scale-out, from any input to a JetStream stream.

Everything the command line can get wrong (addresses, format, limits) fails before anything
opens; then the connection, the stream (made when missing) and the input.  A bounded input
ends with the tally on stdout; SIGTERM drains: the beacon answers what is in progress, other
inputs publish what they have read, for up to ``--drain-seconds``.  The exit status is 1 when
events read were left unacknowledged.
"""

from __future__ import annotations

import argparse
import logging

from el_monitor.argtypes import positive_float, positive_int
from el_monitor.cli.options import Commands
from el_monitor.cli.signals import STOP_SIGNALS, SignalEvent, set_on
from el_monitor.ingest.sources.network import QUEUE_BYTES

log = logging.getLogger(__name__)


def register(commands: Commands) -> None:
    """Add ``publish`` to the ``el-monitor`` subcommands."""
    publish = commands.add_parser(
        "publish",
        help="append raw events from any input to a NATS JetStream stream",
        description="Read raw events from an input and append them to a JetStream stream, "
        "for forwarders consuming it (forward --input nats://...). An HTTP client is answered "
        "2xx only once JetStream has its events (503 with Retry-After while it is away); a "
        "file's checkpoint never passes what JetStream has acknowledged.",
    )
    publish.add_argument(
        "--input",
        default="stdin://",
        metavar="URI",
        help="stdin://, file:///path[?follow=1], udp://host:port or http://host:port "
        "(default: stdin://)",
    )
    publish.add_argument(
        "--to",
        required=True,
        metavar="URI",
        help="nats://HOST:PORT/SUBJECT[?stream=NAME&max_age=7d&max_bytes=8G&"
        "duplicate_window=2m&replicas=1]: the subject to publish on; the stream (named from "
        "the subject unless ?stream= says) is created with these limits when missing",
    )
    publish.add_argument(
        "--format",
        default="json",
        metavar="FORMAT",
        help="how the input's lines are written (as for forward): file, UDP and stdin lines "
        "get the uuid the forwarder would give them, so a line published again adds no row",
    )
    publish.add_argument(
        "--max-event-bytes",
        type=positive_int,
        default=65536,
        metavar="N",
        help="longer lines are cut there (the forwarder counts them as parse errors; "
        "default 65536)",
    )
    publish.add_argument(
        "--max-body-bytes",
        type=positive_int,
        default=65536,
        metavar="N",
        help="http:// input: larger request bodies are answered 413 (default 65536)",
    )
    publish.add_argument(
        "--checkpoint-dir",
        metavar="DIR",
        help="file:// input with ?follow=1: keep its checkpoint here (default: beside the "
        "file; give publish its own when a forwarder follows the same file)",
    )
    publish.add_argument(
        "--queue-mb",
        type=positive_int,
        default=QUEUE_BYTES >> 20,
        metavar="MIB",
        help=f"udp:// input: datagrams received and not yet published are held up to this "
        f"size (default {QUEUE_BYTES >> 20})",
    )
    publish.add_argument(
        "--ack-timeout",
        type=positive_float,
        default=4.0,
        metavar="S",
        help="longest wait for JetStream to acknowledge a message (default 4 s); an HTTP "
        "client is then answered 503, other inputs try again",
    )
    publish.add_argument(
        "--drain-seconds",
        type=positive_float,
        default=30.0,
        metavar="S",
        help="on SIGTERM, how long to keep publishing what was read (default 30 s)",
    )
    publish.add_argument(
        "--stats-interval",
        type=positive_float,
        default=10.0,
        metavar="S",
        help="with -v, log the counts every S seconds (default 10)",
    )
    publish.set_defaults(run=run_publish)


def run_publish(args: argparse.Namespace) -> int:
    """Publish until the input ends or a signal stops it; the tally on stdout."""
    from el_monitor.event.formats import make_parser
    from el_monitor.ingest.publish.run import PublishSettings, publish
    from el_monitor.ingest.sources.jetstream_address import parse_publish_uri, stream_limits

    address = parse_publish_uri(args.to)
    limits = stream_limits(address)
    make_parser(args.format, "check")  # a bad format string fails before anything opens
    settings = PublishSettings(
        input=args.input,
        format=args.format,
        max_event_bytes=args.max_event_bytes,
        max_body_bytes=args.max_body_bytes,
        checkpoint_dir=args.checkpoint_dir,
        queue_bytes=args.queue_mb << 20,
        ack_timeout=args.ack_timeout,
        drain_seconds=args.drain_seconds,
        stats_interval=args.stats_interval,
    )
    stop = SignalEvent()
    set_on(stop, *STOP_SIGNALS)
    import asyncio  # here: every other command starts without it

    counts, unacknowledged = asyncio.run(publish(address, limits, settings, stop))
    print(counts.line())
    if unacknowledged:
        log.error(
            "%d events read were not acknowledged by JetStream before the drain ended: a "
            "followed file is read again from its checkpoint at the next start; from other "
            "inputs they are lost",
            unacknowledged,
        )
        return 1
    return 0
