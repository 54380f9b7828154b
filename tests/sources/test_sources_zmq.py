"""The ZeroMQ source against a real publisher on loopback: lines from messages (several lines,
an over-long line cut for the parser), idle ticks while the publisher is silent, a full queue
dropping and counting, the queue handed over on stop, a publisher restarted on its port
reconnected to.  (Malformed addresses are in test_sources_open.)"""

from __future__ import annotations

import logging
import threading

import pytest
from harness.wait import wait_until

from el_monitor.ingest.sources import open_source
from el_monitor.ingest.sources.network import LINE_OVERHEAD
from el_monitor.ingest.sources.zeromq import ZmqSource, parse_zmq_uri

from .support import IDLE, Publisher, Reader


@pytest.fixture
def publisher():
    pub = Publisher()
    yield pub
    pub.close()


def subscribed(publisher: Publisher, **options) -> ZmqSource:
    """A source subscribed to ``publisher``: what is sent from now on reaches it."""
    if options:
        source = ZmqSource(publisher.uri, parse_zmq_uri(publisher.uri), **options)
    else:
        source = open_source(publisher.uri, idle_interval=IDLE, max_line_bytes=20)
    assert isinstance(source, ZmqSource)
    publisher.wait_subscribed()
    return source


def test_zmq_lines_from_messages_and_idle_ticks(publisher) -> None:
    source = subscribed(publisher)
    reader = Reader(source)
    assert reader.quiet(0.2) == []  # connected, nothing published: it ticks
    publisher.send(b"a\nb\r\n\nc", b"d\n", b"", b"e" * 30)
    assert reader.lines(5) == [b"a", b"b", b"c", b"d", b"e" * 21]  # cut to max + 1
    assert (source.received, source.dropped) == (5, 0)
    assert source.name == publisher.uri
    source.close()
    source.close()
    assert not source._thread.is_alive()


def test_zmq_full_queue_drops_and_counts(publisher, caplog) -> None:
    source = subscribed(publisher, idle_interval=IDLE, queue_lines=10)
    with caplog.at_level(logging.WARNING, logger="el_monitor.ingest.sources.zeromq"):
        publisher.send(*[b"x\ny\nz"] * 5)
        wait_until(lambda: source.received + source.dropped == 15, 60, "15 lines counted")
        assert (source.received, source.dropped) == (9, 6)
        assert len(Reader(source).lines(9)) == 9
        source.close()
    warnings = [r.getMessage() for r in caplog.records]
    assert sum("queue full" in w for w in warnings) == 1, warnings  # once per full spell
    assert any("6 events dropped" in w for w in warnings), warnings


def test_zmq_queue_is_bounded_in_bytes_too(publisher) -> None:
    room = 3 * (1000 + LINE_OVERHEAD)  # three 1000-byte lines
    source = subscribed(publisher, idle_interval=IDLE, queue_bytes=room, max_line_bytes=2000)
    publisher.send(*[b"x" * 1000] * 5)
    wait_until(lambda: source.received + source.dropped == 5, 60, "5 lines counted")
    assert (source.received, source.dropped) == (3, 2)
    assert source._buffer.peak <= room
    source.close()


def test_zmq_stop_hands_over_what_was_queued(publisher) -> None:
    source = subscribed(publisher, idle_interval=IDLE)
    publisher.send(*[b"%d" % i for i in range(50)])
    wait_until(lambda: source.received == 50, 60, "50 lines received")
    stop = threading.Event()
    stop.set()  # stopped before the pipeline took anything: all 50 still come out
    assert Reader(source, stop).rest() == [b"%d" % i for i in range(50)]
    assert not source._thread.is_alive()
    source.close()


def test_zmq_reconnects_to_a_restarted_publisher(publisher, caplog) -> None:
    caplog.set_level(logging.INFO, logger="el_monitor.ingest.sources.zeromq")

    def logged(fragment: str) -> int:
        return sum(fragment in r.getMessage() for r in caplog.records)

    source = subscribed(publisher, idle_interval=IDLE)
    reader = Reader(source)
    publisher.send(b"before")
    assert reader.lines(1) == [b"before"]
    port = publisher.port
    publisher.close()
    again = Publisher(port)  # EventLogging's processor restarted on its port
    try:
        again.wait_subscribed()
        again.send(b"after")
        assert reader.lines(1) == [b"after"]
    finally:
        again.close()
    wait_until(lambda: logged("connected to the publisher") == 2, 30, "two connections logged")
    source.close()
    assert logged("the publisher went away") >= 1


def test_zmq_subscribes_to_a_prefix(publisher) -> None:
    source = open_source(f"{publisher.uri}?subscribe=%7B", idle_interval=IDLE)
    assert publisher.wait_subscribed() == b"\x01{"
    publisher.send(b"skipped", b'{"kept": 1}')
    assert Reader(source).lines(1) == [b'{"kept": 1}']
    source.close()
