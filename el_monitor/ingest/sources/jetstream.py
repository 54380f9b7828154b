"""``nats://HOST:PORT/STREAM?consumer=NAME`` input: one member of a JetStream consumer group.

Every forwarder given the same consumer name pulls from the one durable pull consumer, so the
group splits the stream.  The consumer is made when missing (explicit acks, ``ack_wait``,
``max_ack_pending``: ``jetstream_address.ConsumerSettings``); the stream must exist already
(``el-monitor publish`` or ``nats stream add`` makes it).  nats-py runs on a thread of its own
with its own event loop, as the HTTP source's server does, and hands chunks over through the
byte-bounded buffer (``network``); ``jetstream_messages`` says what a message holds.

What an acknowledgement promises: a message is acked only in ``commit``, once the forwarder has
made everything up to it durable (committed, or spooled), one explicit ack per message, never
"ack all".  Until then it is *held*: counted against a bound of lines (beyond it no more are
pulled, so a stalled pipeline stops pulling), and told to JetStream as in progress every third
of ``ack_wait`` so it is not redelivered to another member while this one still has it (the
database away, with no spool, holds them here until it returns: sending them to the others
would only make each of them wait too, and count them twice).  A forwarder that dies sends no
more progress, so after ``ack_wait`` its messages go to the others; their uuids make that
redelivery add no rows.  On a clean stop, what is held but not durable is nak'ed, for the
others to take at once.  A message that is a damaged record is logged, counted (``damaged``)
and terminated, so it is not redelivered forever.

While the connection is lost, nats-py reconnects on its own; the source logs it once and only
ticks idle meanwhile.  Acks sent while disconnected are buffered by the client; one that is
lost makes a redelivery, never a loss.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import nats
import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from el_monitor.errors import UserError
from el_monitor.event.names import short_hostname
from el_monitor.ingest.sources.base import Chunk
from el_monitor.ingest.sources.jetstream_address import (
    ConsumerSettings,
    JetStreamAddress,
    consumer_settings,
    parse_consume_uri,
)
from el_monitor.ingest.sources.jetstream_messages import message_chunks
from el_monitor.ingest.sources.journal import DamagedRecord
from el_monitor.ingest.sources.loop_thread import LoopThread
from el_monitor.ingest.sources.network import QUEUE_BYTES, QUEUE_LINES, BufferedSource

log = logging.getLogger(__name__)

CONNECT_SECONDS = 10.0  # to reach the server at start, and for each API request
FETCH_SECONDS = 1.0  # a pull request's life: how long a stop waits for the last one
POLL_SECONDS = 0.05  # how often a fetch that may not pull looks again
HELD_LINES = 20_000  # lines held unacknowledged before no more are pulled
CLOSE_SECONDS = 15.0
TROUBLE_EVERY = 60.0  # seconds between two log lines about the same failing pull


@dataclass(slots=True)
class Held:
    """A message handed over, not yet acknowledged."""

    position: int
    msg: Msg
    lines: int
    touched: float  # loop time of its delivery or last progress


def open_jetstream(
    uri: str, *, idle_interval: float, max_line_bytes: int, queue_bytes: int = QUEUE_BYTES
) -> JetStreamSource:
    """The source ``uri`` names; a malformed address, an unreachable server or a missing
    stream is a one-line ``UserError``."""
    address = parse_consume_uri(uri)
    settings = consumer_settings(address, uri)
    return JetStreamSource(uri, address, settings, idle_interval, max_line_bytes, queue_bytes)


class JetStreamSource(BufferedSource):
    """One member of a durable pull consumer; see the module docstring."""

    _merge = False

    def __init__(
        self,
        name: str,
        address: JetStreamAddress,
        settings: ConsumerSettings,
        idle_interval: float = 0.2,
        max_line_bytes: int = 65536,
        queue_bytes: int = QUEUE_BYTES,
        held_lines: int = HELD_LINES,
    ) -> None:
        super().__init__(name, idle_interval, queue_bytes, QUEUE_LINES)
        self.group_address = address  # not "address": that names a bound socket (forward_start)
        self.settings = settings
        self.max_line_bytes = max_line_bytes
        self.held_lines = min(held_lines, QUEUE_LINES)
        self.messages = 0  # taken from the stream (a redelivery counts again)
        self.damaged = 0  # records that did not decode, terminated
        self._held: deque[Held] = deque()
        self._held_count = 0  # lines in _held
        self._last_position = 0
        self._stopping = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._fetcher: asyncio.Task[None] | None = None
        self._keeper: asyncio.Task[None] | None = None
        self._trouble_at = -TROUBLE_EVERY
        self._thread = LoopThread(f"nats {name}")
        self._loop = self._thread.loop
        try:
            self._thread.call(self._start(), CONNECT_SECONDS * 3)
        except BaseException:
            self._thread.stop()
            raise
        log.info("%s: pulling from stream %s as member of consumer %s",
                 name, address.stream, address.consumer)  # fmt: skip

    async def _start(self) -> None:
        address = self.group_address
        try:
            await self._probe()
            self._nc = await asyncio.wait_for(
                nats.connect(
                    address.server,
                    name=f"el-monitor forward {short_hostname()} {os.getpid()}",
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=1,
                    connect_timeout=2,
                    disconnected_cb=self._disconnected,
                    reconnected_cb=self._reconnected,
                    error_cb=self._error,
                ),
                CONNECT_SECONDS,
            )
        except (OSError, TimeoutError, nats.errors.Error) as exc:
            raise UserError(
                f"{self.name}: cannot reach NATS at {address.server} "
                f"({str(exc) or f'no answer in {CONNECT_SECONDS:g} s'}); "
                "check the address and that nats-server runs"
            ) from None
        try:
            self._js = self._nc.jetstream(timeout=CONNECT_SECONDS)
            await self._check_stream()
            await self._ensure_consumer()
            self._sub = await self._js.pull_subscribe_bind(
                consumer=address.consumer, stream=address.stream
            )
        except BaseException:
            self._closing.set()  # a close of our own: not a lost connection
            await self._nc.close()
            raise
        self._fetcher = self._loop.create_task(self._fetch_loop())
        self._keeper = self._loop.create_task(self._keep_alive())

    async def _probe(self) -> None:
        """Fail fast on a server that refuses: nats-py, told to reconnect forever, would
        retry the first connection for ever too."""
        parts = urlsplit(self.group_address.server)
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(parts.hostname, parts.port), CONNECT_SECONDS
        )
        writer.close()

    async def _check_stream(self) -> None:
        address = self.group_address
        try:
            await self._js.stream_info(address.stream)
        except nats.js.errors.NotFoundError:
            raise UserError(
                f"{self.name}: stream {address.stream} does not exist on {address.server}; "
                "el-monitor publish makes it (or nats stream add)"
            ) from None
        except nats.errors.NoRespondersError:
            raise UserError(
                f"{self.name}: {address.server} has no JetStream; start nats-server with -js"
            ) from None

    async def _ensure_consumer(self) -> None:
        """Make the durable consumer unless a member already has; when it exists with other
        settings, those stay (a group has one set) and this is said once."""
        address, settings = self.group_address, self.settings
        assert address.consumer is not None
        try:
            info = await self._js.consumer_info(address.stream, address.consumer)
        except nats.js.errors.NotFoundError:
            config = ConsumerConfig(
                durable_name=address.consumer,
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=settings.ack_wait,
                max_ack_pending=settings.max_ack_pending,
                deliver_policy=DeliverPolicy.ALL,
                filter_subject=address.subject or None,
            )
            info = await self._js.add_consumer(address.stream, config)
            log.info("%s: made consumer %s (ack wait %g s, at most %d unacknowledged)",
                     self.name, address.consumer, settings.ack_wait,
                     settings.max_ack_pending)  # fmt: skip
        config = info.config
        pull = config.deliver_subject is None
        if config.ack_policy != AckPolicy.EXPLICIT or config.durable_name is None or not pull:
            raise UserError(
                f"{self.name}: consumer {address.consumer} is not a durable pull consumer "
                "with explicit acks; delete it or name another"
            )
        asked_wait = "ack_wait" in address.options and config.ack_wait != settings.ack_wait
        if asked_wait or (config.filter_subject or "") != address.subject:
            log.warning("%s: consumer %s exists with ack wait %g s and filter %r; those stay",
                        self.name, address.consumer, config.ack_wait or 30,
                        config.filter_subject or "")  # fmt: skip
        # Progress is sent by the group's own ack wait, whatever this address asked for.
        self.settings = settings._replace(ack_wait=float(config.ack_wait or settings.ack_wait))

    async def _fetch_loop(self) -> None:
        while not self._stopping:
            if not self._nc.is_connected or self._held_count >= self.held_lines:
                await asyncio.sleep(POLL_SECONDS)
                continue
            try:
                msgs = await self._sub.fetch(self.settings.batch, timeout=FETCH_SECONDS)
            except TimeoutError:
                continue
            except nats.js.errors.NotFoundError as exc:
                await self._trouble(exc, recreate=True)
                continue
            except Exception as exc:  # noqa: BLE001 - a failing pull is retried, never fatal
                await self._trouble(exc)
                continue
            await self._hand_over([chunk for msg in msgs for chunk in self._take(msg)])

    async def _trouble(self, exc: BaseException, recreate: bool = False) -> None:
        now = self._loop.time()
        if now - self._trouble_at >= TROUBLE_EVERY:
            self._trouble_at = now
            log.warning("%s: cannot pull (%s: %s); retrying",
                        self.name, type(exc).__name__, exc)  # fmt: skip
        if recreate:  # the consumer was deleted under the group: make it again
            with contextlib.suppress(Exception):
                await self._ensure_consumer()
        await asyncio.sleep(FETCH_SECONDS)

    def _take(self, msg: Msg) -> list[Chunk]:
        """Hold a message and return its chunks (none for a damaged record: terminated)."""
        self.messages += 1
        position = self._last_position = self._last_position + 1
        sequence = msg.metadata.sequence.stream
        stream = self.group_address.stream
        try:
            chunks = message_chunks(
                msg.data, msg.headers, stream, sequence, position, self.max_line_bytes
            )
        except DamagedRecord as exc:
            self.damaged += 1
            log.error("%s: message %d of stream %s is a damaged record (%s); terminated, "
                      "not stored", self.name, sequence, stream, exc)  # fmt: skip
            self._spawn(self._send([msg], "term"))
            return []
        lines = sum(len(chunk.lines) for chunk in chunks)
        self._held.append(Held(position, msg, lines, self._loop.time()))
        self._held_count += lines
        return chunks

    async def _hand_over(self, chunks: list[Chunk]) -> None:
        """Into the buffer in one go (one wake-up of the pipeline per pull), or, when that is
        more than the room left, a chunk at a time as room is made."""
        if self._buffer.offer(chunks):
            return
        for chunk in chunks:
            while not self._buffer.offer([chunk]):
                if self._stopping:
                    return  # the messages are held, so nak'ed at close
                await asyncio.sleep(POLL_SECONDS)

    async def _keep_alive(self) -> None:
        """Tell JetStream every held message is in progress, a third of the ack wait after
        it was delivered or last told, so none goes to another member while held here."""
        every = self.settings.ack_wait / 3
        while True:
            await asyncio.sleep(min(every, 1.0))
            now = self._loop.time()
            stale = [held for held in self._held if now - held.touched >= every]
            for held in stale:
                held.touched = now
            if stale and self._nc.is_connected:
                await self._send([held.msg for held in stale], "in_progress")

    def commit(self, position: object) -> None:
        """Everything up to ``position`` is durable: ack those messages (on the loop)."""
        if isinstance(position, int) and not self._closing.is_set():
            self._thread.call_soon(self._ack_through, position)

    def _ack_through(self, position: int) -> None:
        done = []
        while self._held and self._held[0].position <= position:
            held = self._held.popleft()
            self._held_count -= held.lines
            done.append(held.msg)
        if done:
            self._spawn(self._send(done, "ack"))

    async def _send(self, msgs: list[Msg], how: str) -> None:
        """``ack``, ``nak``, ``term`` or ``in_progress`` each message; a failure costs a
        redelivery (harmless: uuids), so it is logged, not raised."""
        try:
            for msg in msgs:
                await getattr(msg, how)()
        except Exception as exc:  # noqa: BLE001
            log.warning("%s: could not %s %d messages (%s); JetStream redelivers them",
                        self.name, how, len(msgs), exc)  # fmt: skip

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = self._loop.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def stop_receiving(self) -> None:
        """Pull no more; returns once the last pull has ended (within ``FETCH_SECONDS``)."""
        if self._loop.is_running():
            self._thread.call(self._stop_fetching(), CLOSE_SECONDS)

    async def _stop_fetching(self) -> None:
        self._stopping = True
        if self._fetcher is not None:
            with contextlib.suppress(Exception):
                await self._fetcher

    async def _disconnected(self) -> None:
        if self._closing.is_set():
            return
        log.warning("%s: lost the connection to %s; reconnecting (events wait in the stream)",
                    self.name, self.group_address.server)  # fmt: skip

    async def _reconnected(self) -> None:
        log.info("%s: reconnected to %s", self.name, self.group_address.server)

    async def _error(self, exc: Exception) -> None:
        log.debug("%s: %s", self.name, exc)

    def close(self) -> None:
        if self._closing.is_set():
            return
        self._closing.set()
        try:
            self._thread.call(self._shutdown(), CLOSE_SECONDS)
        except TimeoutError:
            log.warning("%s: the connection did not close in time", self.name)
        self._thread.stop()
        if self.damaged:
            log.warning("%s: %d damaged records terminated", self.name, self.damaged)

    async def _shutdown(self) -> None:
        """Stop pulling, hand back what is held (not durable) for the others to take now,
        send every ack and close."""
        await self._stop_fetching()
        held, self._held = [h.msg for h in self._held], deque()
        self._held_count = 0
        if self._keeper is not None:
            self._keeper.cancel()
        if held:
            log.info("%s: handing %d messages not yet stored back to the group",
                     self.name, len(held))  # fmt: skip
            self._spawn(self._send(held, "nak"))
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._nc.flush(timeout=2)
        await self._nc.close()
