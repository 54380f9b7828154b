"""File, UDP and stdin input published with many messages in flight, checkpointed in order.

A reader thread turns the source's chunks into messages (its uuids derived from the lines:
``publisher.line_uuids``) and hands them to the event loop, which keeps up to ``IN_FLIGHT``
publishes going at once instead of one round trip per message.  Each is tried again, with
backoff, until JetStream acknowledges it, so an outage holds the input (a full hand-off
stops the reader) and never skips a line.  A chunk's position goes back to the source
(``Source.commit``: a file's checkpoint) only once it and every message before it are
acknowledged, so a checkpoint never passes what the stream does not have.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import NamedTuple

from el_monitor.event.names import short_hostname
from el_monitor.ingest.publish.publisher import Message, Publisher, line_uuids, messages
from el_monitor.ingest.sources.base import Source

log = logging.getLogger(__name__)

IN_FLIGHT = 64  # messages published and not yet acknowledged, at most
HAND_OFF = 16  # chunks made into messages, waiting for room in flight
_PUT_POLL = 0.2


class Prepared(NamedTuple):
    """A chunk made into messages, and its position (None: nothing to checkpoint)."""

    parts: list[Message]
    position: object | None


class _InOrder:
    """Publishes in flight, oldest first; commits the position of the longest acknowledged
    prefix, and says how many events are left unacknowledged."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.flight: deque[tuple[asyncio.Task[bool], int, object | None]] = deque()

    def add(self, task: asyncio.Task[bool], events: int, position: object | None) -> None:
        self.flight.append((task, events, position))
        task.add_done_callback(self._advance)

    def _advance(self, _: object = None) -> None:
        position = None
        while self.flight and _acked(self.flight[0][0]):
            position = self.flight.popleft()[2] or position
        if position is not None:
            self.source.commit(position)

    def unacknowledged(self) -> int:
        return sum(events for task, events, _ in self.flight if not _acked(task))


def _acked(task: asyncio.Task[bool]) -> bool:
    """Whether a publish has ended acknowledged (not given up, cancelled or failed)."""
    return task.done() and not task.cancelled() and task.exception() is None and task.result()


async def publish_chunks(
    source: Source,
    publisher: Publisher,
    parse: Callable[[bytes, Mapping[str, object] | None], dict],
    stop: threading.Event,
    drain_seconds: float,
) -> int:
    """Publish everything ``source`` yields until it ends (``stop`` ends it); returns the
    number of events still unacknowledged when the drain gave up after ``drain_seconds``."""
    loop = asyncio.get_running_loop()
    hand_off: asyncio.Queue[Prepared | None] = asyncio.Queue(HAND_OFF)
    abandon = threading.Event()
    failed: list[Exception] = []
    reader = threading.Thread(
        target=_read,
        args=(source, publisher, parse, (stop, abandon), hand_off, loop, failed),
        name=f"read {source.name}",
        daemon=True,
    )
    reader.start()
    give_up = asyncio.Event()
    window = asyncio.Semaphore(IN_FLIGHT)
    order = _InOrder(source)
    try:
        while (prepared := await hand_off.get()) is not None:
            publisher.counts.read += sum(m.events for m in prepared.parts)
            for i, message in enumerate(prepared.parts):
                await window.acquire()
                task = loop.create_task(publisher.publish_until_acked(message, give_up))
                task.add_done_callback(lambda _: window.release())
                last = i == len(prepared.parts) - 1
                order.add(task, message.events, prepared.position if last else None)
        tasks = [task for task, _, _ in order.flight]
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=drain_seconds)
            if late:
                give_up.set()
                await asyncio.wait(late)
    finally:
        stop.set()
        abandon.set()
        await loop.run_in_executor(None, reader.join)
    if failed:
        raise failed[0]
    return order.unacknowledged()


def _read(
    source: Source,
    publisher: Publisher,
    parse: Callable[[bytes, Mapping[str, object] | None], dict],
    events: tuple[threading.Event, threading.Event],
    hand_off: asyncio.Queue[Prepared | None],
    loop: asyncio.AbstractEventLoop,
    failed: list[Exception],
) -> None:
    """The reader thread: chunks → messages → the hand-off, then ``None`` at the end (also
    after a failure, kept in ``failed`` for the loop side to raise once it has drained)."""
    stop, abandon = events
    hostname = short_hostname()
    try:
        for chunk in source.chunks(stop):
            if not chunk.lines:
                continue
            defaults = {
                "recvFrom": hostname,
                "timestamp": int(time.time()),
                **(chunk.defaults or {}),
            }
            uuids = line_uuids(parse, chunk._replace(defaults=defaults))
            parts = messages(defaults, uuids, chunk.lines, publisher.limit)
            if not _put(hand_off, Prepared(parts, chunk.position), loop, abandon):
                return
    except Exception as exc:
        failed.append(exc)
    finally:
        _put(hand_off, None, loop, abandon)


def _put(
    queue: asyncio.Queue[Prepared | None],
    item: Prepared | None,
    loop: asyncio.AbstractEventLoop,
    abandon: threading.Event,
) -> bool:
    """Put on the loop's queue, waiting for room; False if the loop side has gone."""
    future = asyncio.run_coroutine_threadsafe(queue.put(item), loop)
    while True:
        try:
            future.result(_PUT_POLL)
            return True
        except concurrent.futures.TimeoutError:
            if abandon.is_set():
                future.cancel()
                return False
