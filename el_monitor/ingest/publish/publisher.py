"""Events → JetStream messages, published and acknowledged; the counts of it all.

A message is what the consumers (``forward --input nats://``) decode: the body is a journal
record (``journal.encode``: the transport's defaults, a uuid per event, the raw lines), with
the header ``El-Monitor-Record: 1``, and ``Nats-Msg-Id`` is a digest of all its uuids, so a
publish tried again after a lost acknowledgement is stored once (JetStream's duplicate window).
Not the first uuid alone: lines without a uuid of their own get one from their bytes, so two
messages can start with the same uuid and differ after it, and the second must not be dropped.
The uuids are chosen here, once, so every later redelivery of the message maps to the same rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from el_monitor.event.capsule import CapsuleError, content_uuid
from el_monitor.event.formats import ParseError
from el_monitor.ingest.sources.base import Chunk
from el_monitor.ingest.sources.jetstream_address import JetStreamAddress
from el_monitor.ingest.sources.jetstream_messages import RECORD_HEADER, RECORD_VERSION
from el_monitor.ingest.sources.journal import encode

if TYPE_CHECKING:
    from nats.js import JetStreamContext

    from el_monitor.counts.counters import SourceTally

log = logging.getLogger(__name__)

MSG_ID_HEADER = "Nats-Msg-Id"
HEADER_ROOM = 1024  # of the server's max_payload, kept for headers and framing
BACKOFF_FIRST = 0.1
BACKOFF_MOST = 5.0
WARN_EVERY = 10.0  # seconds between warnings about failing publishes


class Message(NamedTuple):
    """One JetStream message: its id (``message_id``), body and number of events."""

    msg_id: str
    body: bytes
    events: int


def messages(
    defaults: Mapping[str, object], uuids: list[str], lines: list[bytes], limit: int
) -> list[Message]:
    """The events as one message, or halved until each message fits in ``limit`` bytes (a
    single line always fits: ``publish`` checks the line limit against the server's)."""
    body = encode(dict(defaults), uuids, lines)
    if len(body) <= limit or len(lines) == 1:
        return [Message(message_id(uuids), body, len(lines))]
    half = len(lines) // 2
    return messages(defaults, uuids[:half], lines[:half], limit) + messages(
        defaults, uuids[half:], lines[half:], limit
    )


def message_id(uuids: list[str]) -> str:
    """A message's ``Nats-Msg-Id``: the same for the same events, and only for them."""
    return hashlib.blake2b(",".join(uuids).encode(), digest_size=16).hexdigest()


def line_uuids(
    parse: Callable[[bytes, Mapping[str, object] | None], dict], chunk: Chunk
) -> list[str]:
    """The uuid the forwarder would give each line of ``chunk`` with its defaults (its own,
    EventLogging's seqId uuid5, the transport's, or one from its bytes), so publishing a line
    again after a restart before its checkpoint adds no row; a line that does not parse gets
    the one from its bytes."""
    found = []
    for line, defaults in chunk.each_line():
        try:
            found.append(parse(line, defaults)["uuid"])
        except (ParseError, CapsuleError):
            found.append(content_uuid((defaults or {}).get("recvFrom"), line))
    return found


@dataclass
class PublishCounts:
    """What ``publish`` did: ``read`` events taken from the source, ``published`` of them
    acknowledged by JetStream (in ``messages``), HTTP requests ``refused`` (too large,
    malformed) and answered ``busy`` (503), publish attempts that ``failed``, lines the
    source ``dropped`` before they were read (UDP, ZeroMQ: its queue was full), and UDP
    datagrams the kernel dropped before the source read them (``kernel_dropped``)."""

    read: int = 0
    published: int = 0
    messages: int = 0
    duplicates: int = 0
    refused: int = 0
    busy: int = 0
    failed: int = 0
    dropped: int = 0
    kernel_dropped: int = 0

    def line(self) -> str:
        text = (
            f"read {self.read} events, published {self.published} in {self.messages} "
            f"messages ({self.duplicates} already in the stream), refused {self.refused} "
            f"requests, answered {self.busy} busy, {self.failed} publish failures"
        )
        if self.dropped:
            text += f"; {self.dropped} lines dropped (the queue was full; raise --queue-mb)"
        if self.kernel_dropped:
            text += (
                f"; {self.kernel_dropped} datagrams dropped by the kernel (its socket buffer "
                "was full)"
            )
        return text

    def take_losses(self, tally: SourceTally) -> None:
        """What the source lost so far (its counters, kept by its receiver thread)."""
        self.dropped, self.kernel_dropped = tally.dropped, tally.kernel_dropped


class Publisher:
    """Publishes messages to the address's subject, expecting its stream; runs on the event
    loop of the connection."""

    def __init__(
        self, js: JetStreamContext, address: JetStreamAddress, max_payload: int, timeout: float
    ) -> None:
        self.js = js
        self.address = address
        self.limit = max_payload - HEADER_ROOM
        self.timeout = timeout
        self.counts = PublishCounts()
        self._warned = 0.0

    async def publish(self, message: Message) -> bool:
        """One attempt: whether JetStream acknowledged the message."""
        import nats.errors

        headers = {RECORD_HEADER: RECORD_VERSION, MSG_ID_HEADER: message.msg_id}
        try:
            ack = await self.js.publish(
                self.address.subject,
                message.body,
                timeout=self.timeout,
                stream=self.address.stream,
                headers=headers,
            )
        except (nats.errors.Error, TimeoutError) as exc:
            self.counts.failed += 1
            now = time.monotonic()
            if now - self._warned >= WARN_EVERY:
                self._warned = now
                log.warning("cannot publish to %s on %s: %s", self.address.stream,
                            self.address.server, str(exc) or type(exc).__name__)  # fmt: skip
            return False
        self.counts.messages += 1
        self.counts.published += message.events
        self.counts.duplicates += message.events if ack.duplicate else 0
        return True

    async def publish_all(self, parts: list[Message]) -> bool:
        """All of ``parts`` at once: whether every one was acknowledged."""
        if len(parts) == 1:
            return await self.publish(parts[0])
        return all(await asyncio.gather(*(self.publish(m) for m in parts)))

    async def publish_until_acked(self, message: Message, stop: asyncio.Event) -> bool:
        """Try again, backing off, until acknowledged (the same id, so a retry of a publish
        that did land is dropped as a duplicate); False only when ``stop`` is set first."""
        wait = BACKOFF_FIRST
        while not await self.publish(message):
            if stop.is_set():
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
            wait = min(wait * 2, BACKOFF_MOST)
        return True
