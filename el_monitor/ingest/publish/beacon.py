"""The HTTP beacon in front of JetStream: a request is answered 2xx only once JetStream has
acknowledged every one of its events, and 503 with ``Retry-After`` when it has not (away, or
too slow), so a client's retry is the only buffer.  The server itself is the forwarder's
(``sources.beacon``): the same routes, limits, answers (413 for too large) and counts.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from http import HTTPStatus

from el_monitor.event.names import short_hostname
from el_monitor.ingest.publish.publisher import Publisher, messages
from el_monitor.ingest.sources.beacon import BeaconServer
from el_monitor.ingest.sources.http import (
    CLOSE_GRACE,
    IDLE_SECONDS,
    REQUEST_SECONDS,
    connection_limit,
)

log = logging.getLogger(__name__)


class PublishingReceiver:
    """The ``Receiver`` the beacon server feeds: events are published, each with a fresh
    uuid4 (as the forwarder's beacon gives them), under the request's defaults (receive host
    and time, user agent, the opt-out flag: never the client's address)."""

    def __init__(
        self,
        name: str,
        publisher: Publisher,
        *,
        max_line_bytes: int,
        max_body_bytes: int,
        max_connections: int | None = None,
    ) -> None:
        self.name = name
        self.publisher = publisher
        self.hostname = short_hostname()
        self.max_line_bytes = max_line_bytes
        self.max_body_bytes = max_body_bytes
        self.max_connections = connection_limit(max_connections)
        self.request_seconds = REQUEST_SECONDS
        self.idle_seconds = IDLE_SECONDS

    async def accept(self, lines: list[bytes], defaults: dict[str, object]) -> bool:
        uuids = [uuid.uuid4().hex for _ in lines]
        self.publisher.counts.read += len(lines)
        parts = messages(defaults, uuids, lines, self.publisher.limit)
        return await self.publisher.publish_all(parts)

    def count(self, status: int) -> None:
        counts = self.publisher.counts
        if status == HTTPStatus.SERVICE_UNAVAILABLE:
            counts.busy += 1
        elif status >= 400:
            counts.refused += 1


async def serve_beacon(
    receiver: PublishingReceiver, sock: socket.socket, stop: asyncio.Event
) -> None:
    """Serve until ``stop``; then take nothing new and let answers in progress (each waiting
    for its acknowledgement) finish, for up to ``CLOSE_GRACE`` seconds."""
    server = BeaconServer(receiver, sock)
    await server.start()
    host, port = sock.getsockname()[:2]
    log.info("%s: listening on http://%s:%d", receiver.name, host, port)
    await stop.wait()
    log.info("%s: stopping; answering the requests in progress", receiver.name)
    await server.close(CLOSE_GRACE)
