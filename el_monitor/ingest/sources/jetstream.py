"""``nats://HOST:PORT/STREAM?consumer=NAME`` input: one member of a JetStream consumer group.

Every forwarder given the same consumer name pulls from the one durable pull consumer, so the
group splits the stream.  The consumer is made when missing (explicit acks, ``ack_wait``,
``max_ack_pending``: ``jetstream_address.ConsumerSettings``); the stream must exist already
(``el-monitor publish`` or ``nats stream add`` makes it); joining is ``jetstream_group``.
nats-py runs on a thread of its own with its own event loop (``loop_thread``) and hands chunks
over through the byte-bounded buffer (``network``); ``jetstream_messages`` says what a message
holds.

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
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import nats.js.errors
from nats.aio.msg import Msg

from el_monitor.counts.counters import SourceTally
from el_monitor.ingest.sources.base import Chunk
from el_monitor.ingest.sources.jetstream_address import (
    ConsumerSettings,
    JetStreamAddress,
    consumer_settings,
    parse_consume_uri,
)
from el_monitor.ingest.sources.jetstream_connection import CONNECT_SECONDS, Callbacks
from el_monitor.ingest.sources.jetstream_group import ensure_consumer, join
from el_monitor.ingest.sources.jetstream_messages import message_chunks
from el_monitor.ingest.sources.journal import DamagedRecord
from el_monitor.ingest.sources.loop_thread import LoopThread
from el_monitor.ingest.sources.network import QUEUE_BYTES, QUEUE_LINES, BufferedSource

log = logging.getLogger(__name__)

FETCH_SECONDS = 1.0  # a pull request's life: how long a stop waits for the last one
POLL_SECONDS = 0.05  # how often a fetch that may not pull looks again
HELD_LINES = 10_000  # lines held unacknowledged before no more are pulled: two batches
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
        self._lines_per_message = 1.0  # a running mean, to size pulls in lines
        self._last_position = 0
        self._stopping = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._acked = asyncio.Event()  # set on the loop when a commit acks held messages
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
        callbacks = Callbacks(self._disconnected, self._reconnected, self._error)
        try:
            member = await join(self.name, self.group_address, self.settings, callbacks)
        except BaseException:
            self._closing.set()  # a close of our own, not a lost connection
            raise
        self._nc, self._js, self._sub, self.settings = member
        self._fetcher = self._loop.create_task(self._fetch_loop())
        self._keeper = self._loop.create_task(self._keep_alive())

    async def _fetch_loop(self) -> None:
        while not self._stopping:
            if not self._nc.is_connected:
                await asyncio.sleep(POLL_SECONDS)
                continue
            if self._held_count >= self.held_lines:
                # Pull again as soon as a commit acks held messages: a poll's wait here came
                # out of the time the pipeline has the second batch in hand.
                self._acked.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._acked.wait(), POLL_SECONDS)
                continue
            try:
                msgs = await self._sub.fetch(self._pull_size(), timeout=FETCH_SECONDS)
            except TimeoutError:
                continue
            except nats.js.errors.NotFoundError as exc:
                await self._trouble(exc, recreate=True)
                continue
            except Exception as exc:  # noqa: BLE001 - a failing pull is retried, never fatal
                await self._trouble(exc)
                continue
            await self._hand_over([chunk for msg in msgs for chunk in self._take(msg)])

    def _pull_size(self) -> int:
        """Messages to ask for: ``batch``, or fewer when that many would hold more lines than
        ``held_lines`` allows, so that a member never takes what the others could be storing
        (a pull of 256 records of 50 events would be 12,800 events)."""
        room = (self.held_lines - self._held_count) / self._lines_per_message
        return max(1, min(self.settings.batch, int(room)))

    async def _trouble(self, exc: BaseException, recreate: bool = False) -> None:
        now = self._loop.time()
        if now - self._trouble_at >= TROUBLE_EVERY:
            self._trouble_at = now
            log.warning("%s: cannot pull (%s: %s); retrying",
                        self.name, type(exc).__name__, exc)  # fmt: skip
        if recreate:  # the consumer was deleted under the group: make it again
            with contextlib.suppress(Exception):
                address = self.group_address
                await ensure_consumer(self.name, self._js, address, self.settings)
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
        self._lines_per_message += (max(lines, 1) - self._lines_per_message) / 16
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

    def tally(self) -> SourceTally:
        """The damaged records it terminated: their lines never reached the pipeline."""
        return SourceTally(damaged=self.damaged)

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
            self._acked.set()
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
