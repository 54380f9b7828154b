"""Shared by the source tests: a reader that pulls a source's chunks with a deadline, and
numbered lines to write and expect."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

from el_monitor.ingest.sources.base import Chunk

IDLE = 0.05  # the idle interval tests open sources with: a quiet source ticks often


class Reader:
    """Pulls a source's chunks with a deadline, so a missing line fails instead of hanging."""

    def __init__(self, source, stop: threading.Event | None = None) -> None:
        self.source = source
        self.stop = stop or threading.Event()
        self.it: Iterator[Chunk] = source.chunks(self.stop)
        self.chunks: list[Chunk] = []

    def lines(self, count: int, timeout: float = 30.0) -> list[bytes]:
        got: list[bytes] = []
        deadline = time.monotonic() + timeout
        while len(got) < count:
            assert time.monotonic() < deadline, f"only {len(got)} of {count} lines: {got[-3:]}"
            chunk = next(self.it)
            if chunk.lines:
                self.chunks.append(chunk)
                got.extend(chunk.lines)
        assert len(got) == count, got
        return got

    def quiet(self, seconds: float = 0.3) -> list[bytes]:
        """Lines arriving within ``seconds`` (expected: none)."""
        got: list[bytes] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            got.extend(next(self.it).lines)
        return got

    def rest(self) -> list[bytes]:
        return [line for chunk in self.it for line in chunk.lines]


def numbered(start: int, stop: int) -> list[bytes]:
    return [b'{"n": %d}' % i for i in range(start, stop)]


def append(path: Path, lines: list[bytes], end: bytes = b"\n") -> None:
    with open(path, "ab") as f:
        f.write(b"".join(line + end for line in lines))


class Publisher:
    """A ZeroMQ publisher as EventLogging's processors ran one, on a free loopback port.

    It is an XPUB (a PUB that also reads its subscribers' subscriptions) with no send limit:
    ``wait_subscribed`` returns once a subscriber's subscription has reached it, so nothing
    published after that is lost to PUB/SUB's slow joiner, and none is dropped at the
    publisher however slow the subscriber.
    """

    def __init__(self, port: int = 0) -> None:
        import zmq

        self._zmq = zmq
        self.context = zmq.Context()
        self.sock = self.context.socket(zmq.XPUB)
        self.sock.setsockopt(zmq.SNDHWM, 0)
        self.sock.setsockopt(zmq.LINGER, 5000)
        self.sock.bind(f"tcp://127.0.0.1:{port or '*'}")
        self.uri = self.sock.getsockopt(zmq.LAST_ENDPOINT).decode()
        self.port = int(self.uri.rsplit(":", 1)[1])

    def wait_subscribed(self, timeout: float = 60) -> bytes:
        """Until a subscription arrives (``b"\\x01"`` + its prefix); that message."""
        if not self.sock.poll(timeout * 1000, self._zmq.POLLIN):
            raise AssertionError(f"no subscriber at {self.uri} after {timeout:g} s")
        message: bytes = self.sock.recv()
        assert message.startswith(b"\x01"), message
        return message

    def send(self, *messages: bytes) -> None:
        for message in messages:
            self.sock.send(message)

    def close(self) -> None:
        self.sock.close()
        self.context.term()
