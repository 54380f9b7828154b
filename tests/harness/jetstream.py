"""A JetStream stream of one test's own on the shared NATS server, for the consumer tests.

The stream and its subject get a unique name; the test fills it with raw-line messages (what
``nats pub`` sends) and record messages (what ``el-monitor publish`` sends: one journal record,
header ``El-Monitor-Record: 1``), reads its consumers' state, and the fixture deletes the
stream (and with it its consumers) when the test ends, failed or not.  Each call opens its own
connection: the test side stays synchronous and never shares a loop with the code under test.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import nats
import nats.js.errors
from nats.js import JetStreamContext
from nats.js.api import ConsumerInfo

from el_monitor.ingest.sources.jetstream_messages import RECORD_HEADER, RECORD_VERSION
from el_monitor.ingest.sources.journal import encode
from harness.nats import SHARED_URL

T = TypeVar("T")


class TestStream:
    """One test's stream: ``name``, ``subject``, and what the test does with them."""

    __test__ = False  # not a pytest class

    def __init__(self, server: str = SHARED_URL) -> None:
        token = secrets.token_hex(4)
        self.server = server
        self.name = f"ELM_TEST_{token.upper()}"
        self.subject = f"elmtest.{token}"
        self.published = 0  # messages

    def uri(self, consumer: str, **options: object) -> str:
        query = "".join(f"&{key}={value}" for key, value in options.items())
        return f"{self.server}/{self.name}?consumer={consumer}{query}"

    def _run(self, action: Callable[[JetStreamContext], Awaitable[T]]) -> T:
        async def run() -> T:
            nc = await nats.connect(self.server, connect_timeout=5, max_reconnect_attempts=2)
            try:
                return await action(nc.jetstream(timeout=10))
            finally:
                await nc.close()

        return asyncio.run(run())

    def create(self) -> None:
        self._run(lambda js: js.add_stream(name=self.name, subjects=[self.subject]))

    def delete(self) -> None:
        self._run(lambda js: js.delete_stream(self.name))

    def publish(self, payloads: Sequence[bytes], headers: dict[str, str] | None = None) -> None:
        async def send(js: JetStreamContext) -> None:
            for payload in payloads:
                await js.publish(self.subject, payload, headers=headers)

        self._run(send)
        self.published += len(payloads)

    def publish_lines(self, lines: Sequence[bytes], per_message: int = 1) -> None:
        """Raw lines, ``per_message`` of them to a message, newline-separated."""
        self.publish(
            [b"\n".join(lines[i : i + per_message]) for i in range(0, len(lines), per_message)]
        )

    def publish_records(
        self, lines: Sequence[bytes], per_record: int = 50, defaults: dict[str, Any] | None = None
    ) -> list[str]:
        """Record messages of ``per_record`` lines each; the uuids given to the lines."""
        uuids = [uuid.uuid4().hex for _ in lines]
        payloads = [
            encode(defaults or {}, uuids[i : i + per_record], list(lines[i : i + per_record]))
            for i in range(0, len(lines), per_record)
        ]
        self.publish(payloads, {RECORD_HEADER: RECORD_VERSION})
        return uuids

    def consumer(self, name: str) -> ConsumerInfo:
        return self._run(lambda js: js.consumer_info(self.name, name))

    def has_consumer(self, name: str) -> bool:
        try:
            self.consumer(name)
        except nats.js.errors.NotFoundError:
            return False
        return True

    def acknowledged(self, name: str) -> int:
        """Messages the consumer has had acknowledged (or terminated), when every message of
        the stream goes to it: delivered but no longer pending."""
        info = self.consumer(name)
        assert info.delivered is not None and info.num_ack_pending is not None
        return (info.delivered.stream_seq or 0) - info.num_ack_pending
