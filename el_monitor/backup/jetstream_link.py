"""A drill's own line to JetStream: the stream's subject, the consumer group's state, and a
paced publisher of record messages, all from synchronous code.

nats-py is asyncio; the drill is not, so the connection lives on a thread with its own event
loop (as the ``nats://`` source's does) and every call waits for its result there.  The load
runs on that loop too, so the drill's thread is free to watch the group and kill a member.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
import uuid
from collections.abc import Coroutine
from typing import Any, NamedTuple

import nats
import nats.errors
import nats.js.errors
import orjson

from el_monitor.errors import UserError
from el_monitor.ingest.sources.jetstream_group import ConsumerState, consumer_state
from el_monitor.ingest.sources.jetstream_messages import RECORD_HEADER, RECORD_VERSION
from el_monitor.ingest.sources.journal import encode
from el_monitor.ingest.sources.loop_thread import LoopThread

CALL_SECONDS = 10.0
RECORD_EVENTS = 50  # events in one record message, as the beacon's POST batches


class Load(NamedTuple):
    """Copies of ``template`` to publish, ``rate`` events a second, in record messages."""

    template: dict
    events: int
    rate: float


class JetStreamLink:
    def __init__(self, server: str) -> None:
        self.server = server
        self.published: list[str] = []  # uuids JetStream acknowledged, in order
        self.failed = 0  # publishes JetStream did not acknowledge
        self._thread = LoopThread("drill nats")
        self._load: concurrent.futures.Future[None] | None = None
        try:
            self._nc = self._call(self._connect())
        except BaseException:
            self._thread.stop()
            raise
        self._js = self._nc.jetstream(timeout=CALL_SECONDS)

    def _call(self, coroutine: Coroutine[Any, Any, Any], timeout: float = 3 * CALL_SECONDS) -> Any:
        return self._thread.call(coroutine, timeout)

    async def _connect(self) -> nats.NATS:
        try:
            return await nats.connect(
                self.server, connect_timeout=CALL_SECONDS, max_reconnect_attempts=3
            )
        except (OSError, TimeoutError, nats.errors.Error) as exc:
            raise UserError(f"cannot reach NATS at {self.server} ({exc})") from None

    def subject_of(self, stream: str) -> str:
        """A subject the stream keeps, to publish the load on; its first one, which must
        name one subject (a wildcard needs ``--subject``)."""
        try:
            info = self._call(self._js.stream_info(stream))
        except nats.js.errors.NotFoundError:
            raise UserError(
                f"stream {stream} does not exist on {self.server}; el-monitor publish makes it"
            ) from None
        subjects = info.config.subjects or []
        if not subjects or any(c in subjects[0] for c in "*>"):
            raise UserError(f"stream {stream} keeps {subjects}: name the subject with --subject")
        return str(subjects[0])

    def group(self, stream: str, consumer: str) -> ConsumerState | None:
        """The consumer's state; None while it does not exist."""
        try:
            info = self._call(self._js.consumer_info(stream, consumer))
        except nats.js.errors.NotFoundError:
            return None
        return consumer_state(info)

    def start_load(self, subject: str, load: Load) -> None:
        self._load = self._thread.submit(self._publish(subject, load))

    def load_done(self) -> bool:
        return self._load is None or self._load.done()

    def wait_load(self) -> None:
        if self._load is not None:
            self._load.result()

    async def _publish(self, subject: str, load: Load) -> None:
        started = time.monotonic()
        headers = {RECORD_HEADER: RECORD_VERSION}
        sent = 0
        while sent < load.events:
            count = min(RECORD_EVENTS, load.events - sent)
            uuids = [uuid.uuid4().hex for _ in range(count)]
            now = int(time.time())
            lines = [_line(load.template, u, now) for u in uuids]
            try:
                await self._js.publish(subject, encode({}, uuids, lines), headers=headers)
            except (nats.errors.Error, TimeoutError):
                self.failed += count
            else:
                self.published.extend(uuids)
            sent += count
            ahead = started + sent / load.rate - time.monotonic()
            if ahead > 0:
                await asyncio.sleep(ahead)

    def close(self) -> None:
        if self._load is not None:
            self._load.cancel()
        try:
            self._call(self._nc.close())
        finally:
            self._thread.stop()


def _line(template: dict, event_uuid: str, timestamp: int) -> bytes:
    return orjson.dumps(dict(template, uuid=event_uuid, timestamp=timestamp))
