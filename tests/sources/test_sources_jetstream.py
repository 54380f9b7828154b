"""The ``nats://`` source against the real NATS server: what a message becomes, and that a
message is acknowledged only once committed (held ones kept from the others meanwhile,
handed back on close, a damaged record terminated)."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from harness.jetstream import TestStream
from harness.wait import wait_until
from helpers import event_defaults, valid_lines

from el_monitor.errors import UserError
from el_monitor.event.capsule import stream_uuid
from el_monitor.ingest.sources import open_source
from el_monitor.ingest.sources.base import Chunk
from el_monitor.ingest.sources.jetstream import JetStreamSource
from el_monitor.ingest.sources.jetstream_messages import RECORD_HEADER, RECORD_VERSION
from el_monitor.ingest.sources.journal import encode


class Reader:
    """A source and its chunks, read a little at a time by the test."""

    def __init__(self, uri: str) -> None:
        source = open_source(uri, idle_interval=0.05)
        assert isinstance(source, JetStreamSource)
        self.source = source
        self.stop = threading.Event()
        self._chunks: Iterator[Chunk] = source.chunks(self.stop)

    def take(self, lines: int, timeout: float = 30) -> list[Chunk]:
        """Chunks until they hold ``lines`` lines and end on a message's position."""
        taken: list[Chunk] = []
        count = 0
        deadline = time.monotonic() + timeout
        while count < lines or taken and taken[-1].position is None:
            assert time.monotonic() < deadline, f"{count} of {lines} lines after {timeout} s"
            chunk = next(self._chunks)
            if chunk.lines or chunk.position is not None:
                taken.append(chunk)
                count += len(chunk.lines)
        return taken


@pytest.fixture
def readers() -> Iterator[list[Reader]]:
    made: list[Reader] = []
    yield made
    for reader in made:
        reader.source.close()


def reader(readers: list[Reader], uri: str) -> Reader:
    readers.append(Reader(uri))
    return readers[-1]


def test_raw_lines_and_records_become_chunks(jetstream_stream: TestStream, readers) -> None:
    stream = jetstream_stream
    lines = valid_lines(7)
    stream.publish_lines(lines[:3], per_message=3)  # sequence 1: three raw lines
    uuids = stream.publish_records(lines[3:], per_record=4, defaults={"userAgent": "UA"})
    chunks = reader(readers, stream.uri("c1")).take(7)

    assert [line for chunk in chunks for line in chunk.lines] == lines
    events = event_defaults(chunks)
    assert [d["uuid"] for d in events[:3]] == [stream_uuid(stream.name, 1, i) for i in range(3)]
    assert events[3:] == [{"userAgent": "UA", "uuid": u} for u in uuids]
    # A message is one chunk, with its position; they increase.
    assert [c.position for c in chunks] == [1, 2]


def test_acknowledged_only_once_committed(jetstream_stream: TestStream, readers) -> None:
    stream = jetstream_stream
    stream.publish_lines(valid_lines(10), per_message=2)  # five messages
    first = reader(readers, stream.uri("group"))
    chunks = first.take(10)
    wait_until(lambda: stream.consumer("group").num_ack_pending == 5, 30, "5 held messages")
    assert stream.acknowledged("group") == 0

    positions = [c.position for c in chunks if c.position is not None]
    first.source.commit(positions[1])  # the first two messages are durable
    wait_until(lambda: stream.acknowledged("group") == 2, 30, "2 messages acknowledged")
    assert stream.consumer("group").num_ack_pending == 3

    # Closed with three not durable: handed back, and another member has them at once.
    first.source.close()
    second = reader(readers, stream.uri("group"))
    again = second.take(6)
    assert [line for c in again for line in c.lines] == valid_lines(10)[4:]
    second.source.commit(again[-1].position)
    wait_until(lambda: stream.acknowledged("group") == 5, 30, "all 5 acknowledged")
    assert stream.consumer("group").delivered.consumer_seq == 5 + 3  # type: ignore[union-attr]


def test_held_messages_stay_with_their_member(jetstream_stream: TestStream, readers) -> None:
    """Uncommitted for three ack waits, held messages are not redelivered to a second member
    (progress is reported); once the first goes silent (killed: no close), they are."""
    stream = jetstream_stream
    stream.publish_lines(valid_lines(4))
    first = reader(readers, stream.uri("group", ack_wait=2))
    first.take(4)
    second = reader(readers, stream.uri("group", ack_wait=2))
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:
        info = stream.consumer("group")
        assert info.num_redelivered == 0 and info.num_ack_pending == 4, info
        time.sleep(0.2)

    first.source._thread.call(first.source._nc.close(), 10)  # as if the process died
    assert len(second.take(4)) == 4
    info = stream.consumer("group")
    assert info.num_redelivered == 4 and info.num_ack_pending == 4


def test_a_damaged_record_is_terminated(jetstream_stream: TestStream, readers, caplog) -> None:
    stream = jetstream_stream
    record = bytearray(encode({}, ["a" * 32], [b"{}"]))
    record[-1] ^= 0xFF
    stream.publish([bytes(record)], {RECORD_HEADER: RECORD_VERSION})
    stream.publish_lines(valid_lines(1))
    with caplog.at_level(logging.ERROR):
        r = reader(readers, stream.uri("c"))
        chunks = r.take(1)
    assert chunks[-1].lines == valid_lines(1) and r.source.damaged == 1
    assert "damaged record" in caplog.text
    r.source.commit(chunks[-1].position)
    wait_until(lambda: stream.acknowledged("c") == 2, 30, "both messages settled")
    assert stream.consumer("c").num_redelivered == 0


def test_consumer_is_made_with_the_address_settings(jetstream_stream: TestStream) -> None:
    source = open_source(jetstream_stream.uri("made", ack_wait=7, max_ack_pending=123))
    source.close()
    config = jetstream_stream.consumer("made").config
    assert (config.ack_wait, config.max_ack_pending, config.durable_name) == (7, 123, "made")


def test_missing_stream_is_a_user_error(jetstream_stream: TestStream) -> None:
    uri = jetstream_stream.uri("c").replace(jetstream_stream.name, jetstream_stream.name + "_NO")
    with pytest.raises(UserError, match="does not exist"):
        open_source(uri)


def test_unreachable_server_is_a_user_error() -> None:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: nobody answers
        with pytest.raises(UserError, match="cannot reach NATS"):
            open_source(f"nats://127.0.0.1:{port}/S?consumer=c")
