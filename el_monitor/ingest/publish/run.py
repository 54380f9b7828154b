"""One ``publish`` run: connect, make sure of the stream, open the input, publish until it
ends or ``stop``, and drain."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from el_monitor.errors import UserError
from el_monitor.ingest.publish.publisher import HEADER_ROOM, PublishCounts, Publisher
from el_monitor.ingest.publish.stream import connect, ensure_stream
from el_monitor.ingest.sources.base import tally_of
from el_monitor.ingest.sources.jetstream_address import JetStreamAddress, StreamLimits

if TYPE_CHECKING:
    from el_monitor.counts.counters import SourceTally
    from el_monitor.ingest.sources.base import Source

log = logging.getLogger(__name__)

META_ROOM = 4096  # a one-line message's record beyond the line: defaults, uuid, length


class PublishSettings(NamedTuple):
    """What the command line asked of one run (``el-monitor publish --help`` says each)."""

    input: str
    format: str
    max_event_bytes: int
    max_body_bytes: int
    checkpoint_dir: str | None
    queue_bytes: int
    ack_timeout: float
    drain_seconds: float
    stats_interval: float


async def publish(
    address: JetStreamAddress,
    limits: StreamLimits,
    settings: PublishSettings,
    stop: threading.Event,
) -> tuple[PublishCounts, int]:
    """The counts, and how many events read were left unacknowledged.  The input opens
    first, so a mistake in it fails before anything is made on the server."""
    opened = _open_input(settings)
    try:
        counts, unacknowledged = await _publish_opened(opened, address, limits, settings, stop)
    finally:
        opened.close()
    counts.take_losses(tally_of(opened)())  # the last word, read as the source closed
    return counts, unacknowledged


async def _publish_opened(
    opened: socket.socket | Source,
    address: JetStreamAddress,
    limits: StreamLimits,
    settings: PublishSettings,
    stop: threading.Event,
) -> tuple[PublishCounts, int]:
    nc = await connect(address, f"el-monitor publish {settings.input}")
    try:
        if settings.max_event_bytes + META_ROOM + HEADER_ROOM > nc.max_payload:
            raise UserError(
                f"--max-event-bytes {settings.max_event_bytes} does not fit the largest "
                f"message {address.server} takes ({nc.max_payload} bytes): lower it, or "
                "raise the server's max_payload"
            )
        js = nc.jetstream(timeout=settings.ack_timeout)
        await ensure_stream(js, address, limits)
        publisher = Publisher(js, address, nc.max_payload, settings.ack_timeout)
        logged = _log_counts(publisher, settings, tally_of(opened))
        stats = asyncio.get_running_loop().create_task(logged)
        try:
            unacknowledged = await _publish_input(opened, publisher, settings, stop)
        finally:
            stats.cancel()
        return publisher.counts, unacknowledged
    finally:
        stop.set()  # ends the waiter on it, if the run ended otherwise
        await nc.close()


def _open_input(settings: PublishSettings) -> socket.socket | Source:
    """The beacon's listening socket, or the source ``--input`` names."""
    from el_monitor.ingest.sources import host_port, open_source
    from el_monitor.ingest.sources.network import bound_sockets

    uri = settings.input
    if uri.partition("://")[0].lower() == "http":
        host, port = host_port(uri)
        (sock,) = bound_sockets(uri, socket.SOCK_STREAM, host, port)
        return sock
    return open_source(
        uri,
        max_line_bytes=settings.max_event_bytes,
        checkpoint_dir=settings.checkpoint_dir,
        queue_bytes=settings.queue_bytes,
    )


async def _publish_input(
    opened: socket.socket | Source,
    publisher: Publisher,
    settings: PublishSettings,
    stop: threading.Event,
) -> int:
    """The beacon, served on this loop until ``stop``; or any other source, pipelined."""
    if isinstance(opened, socket.socket):
        from el_monitor.ingest.publish.beacon import PublishingReceiver, serve_beacon

        receiver = PublishingReceiver(
            settings.input,
            publisher,
            max_line_bytes=settings.max_event_bytes,
            max_body_bytes=settings.max_body_bytes,
        )
        stopping = asyncio.Event()
        waiter = asyncio.get_running_loop().run_in_executor(None, stop.wait)
        waiter.add_done_callback(lambda _: stopping.set())
        await serve_beacon(receiver, opened, stopping)
        return 0

    from el_monitor.event.formats import make_parser
    from el_monitor.ingest.publish.chunks import publish_chunks

    parse = make_parser(settings.format, "", settings.max_event_bytes)
    log.info("%s: publishing to %s on %s", settings.input, publisher.address.subject,
             publisher.address.server)  # fmt: skip
    return await publish_chunks(opened, publisher, parse, stop, settings.drain_seconds)


async def _log_counts(
    publisher: Publisher, settings: PublishSettings, tally: Callable[[], SourceTally]
) -> None:
    while True:
        await asyncio.sleep(settings.stats_interval)
        publisher.counts.take_losses(tally())
        log.info("%s: %s", settings.input, publisher.counts.line())
