"""What the network sources share: a bounded hand-off to the pipeline, and listening.

Receivers run on background threads and never wait for the pipeline: a full ``ChunkBuffer``
makes UDP count a drop (it has no backpressure) and HTTP answer 503 (clients retry).  Nothing
here records a client's address, by privacy policy.
"""

from __future__ import annotations

import errno
import socket
import threading
from collections import deque
from collections.abc import Iterator, Sequence

from el_monitor.errors import UserError
from el_monitor.ingest.sources.base import IDLE, Chunk
from el_monitor.ingest.sources.lines import MAX_CHUNK_BYTES, MAX_CHUNK_LINES

QUEUE_LINES = 100_000
POLL_SECONDS = 0.1
"""How often receiver threads look at the closing flag."""


class ChunkBuffer:
    """A bounded hand-off from receiver threads to the pipeline, measured in lines.

    Receivers never block on it: ``offer`` refuses what does not fit, so UDP can count drops
    and HTTP can answer 503, instead of a slow pipeline stalling the network threads.
    """

    def __init__(self, capacity_lines: int) -> None:
        self.capacity = capacity_lines
        self._items: deque[tuple[Chunk, int]] = deque()
        self._lines = 0
        self._cond = threading.Condition()

    def offer(self, chunks: Sequence[Chunk]) -> bool:
        """Queue all of ``chunks`` or none of them."""
        sized = [(c, sum(map(len, c.lines))) for c in chunks]
        count = sum(len(c.lines) for c in chunks)
        with self._cond:
            if self._lines + count > self.capacity:
                return False
            self._items.extend(sized)
            self._lines += count
            self._cond.notify()
        return True

    def take(self, timeout: float) -> list[Chunk]:
        """Wait up to ``timeout`` for chunks; return at most about one chunk's worth of lines."""
        taken: list[Chunk] = []
        lines = nbytes = 0
        with self._cond:
            if not self._items:
                self._cond.wait(timeout)
            while self._items and lines < MAX_CHUNK_LINES and nbytes < MAX_CHUNK_BYTES:
                chunk, size = self._items.popleft()
                taken.append(chunk)
                lines += len(chunk.lines)
                nbytes += size
            self._lines -= lines
        return taken

    def __len__(self) -> int:
        """Lines waiting."""
        return self._lines


class BufferedSource:
    """The pipeline side shared by UDP and HTTP: drain the buffer, tick while it is empty."""

    name: str
    _merge: bool

    def __init__(self, name: str, idle_interval: float, queue_lines: int) -> None:
        self.name = name
        self._idle = idle_interval
        self._buffer = ChunkBuffer(queue_lines)
        self._closing = threading.Event()

    def chunks(self, stop: threading.Event) -> Iterator[Chunk]:
        while not stop.is_set() and not self._closing.is_set():
            taken = self._buffer.take(self._idle)
            if not taken:
                yield IDLE
            elif self._merge:
                yield Chunk([line for chunk in taken for line in chunk.lines])
            else:
                yield from taken

    def commit(self, position: object) -> None:
        """Network input cannot be replayed, so there is nothing to checkpoint."""


def resolve(uri: str, kind: int, host: str, port: int) -> tuple[int, tuple]:
    """Address family and socket address for host:port."""
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=kind)[0]
    except socket.gaierror as exc:
        raise UserError(f"{uri}: cannot resolve {host!r} ({exc.strerror}); use an IP") from exc
    return family, address


def listen_error(uri: str, port: int, exc: OSError) -> UserError:
    if exc.errno == errno.EADDRINUSE:
        fix = "stop the other listener or pick another port"
        return UserError(f"{uri}: port {port} is in use; {fix}")
    return UserError(f"{uri}: cannot listen ({exc.strerror}); check the host and port")
