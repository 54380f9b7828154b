"""What the network sources share: a hand-off to the pipeline bounded in bytes, and listening.

Receivers run on background threads and never wait for the pipeline: a full ``ChunkBuffer``
makes UDP count a drop (it has no backpressure) and HTTP answer 503 (clients retry).  When the
pipeline stalls (a database away and no spool), the buffer fills and that 503 is the
backpressure; its bound in bytes is what keeps memory bounded under large requests.

On ``stop`` a network source first stops receiving, then yields everything already queued,
and only then ends: what was accepted is processed before the forwarder returns.  Nothing here
records a client's address, by privacy policy.
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
from collections import deque
from collections.abc import Iterator, Sequence

from el_monitor.counts.counters import SourceTally
from el_monitor.errors import UserError
from el_monitor.ingest.sources.base import IDLE, Chunk
from el_monitor.ingest.sources.lines import MAX_CHUNK_BYTES, MAX_CHUNK_LINES

log = logging.getLogger(__name__)

QUEUE_BYTES = 64 * 1024 * 1024
QUEUE_LINES = 200_000
LINE_OVERHEAD = 512
"""Bytes a queued line costs beyond its text (its chunk, defaults and uuid), for the bound."""
POLL_SECONDS = 0.1
"""How often receiver threads look at the closing flag."""
LISTEN_BACKLOG = 1024


def chunk_cost(chunk: Chunk) -> int:
    """What a chunk counts against the buffer's byte bound."""
    return sum(map(len, chunk.lines)) + LINE_OVERHEAD * len(chunk.lines)


class ChunkBuffer:
    """A hand-off from receivers to the pipeline, bounded in bytes (and lines).

    Receivers never block on it: ``offer`` refuses what does not fit, so UDP can count drops
    and HTTP can answer 503, instead of a slow pipeline stalling the network threads.
    ``peak`` is the most it ever held, in bytes, so a test can check the bound held.
    """

    def __init__(self, capacity_bytes: int = QUEUE_BYTES, capacity_lines: int = QUEUE_LINES):
        self.capacity_bytes = capacity_bytes
        self.capacity_lines = capacity_lines
        self._items: deque[tuple[Chunk, int]] = deque()
        self._lines = 0
        self._bytes = 0
        self.peak = 0
        self._cond = threading.Condition()

    def fits(self, lines: int, size: int) -> bool:
        """Whether ``lines`` lines costing ``size`` bytes would be taken now.  (For a single
        producer, such as the HTTP server's loop, a True stays true until it offers.)"""
        with self._cond:
            return (
                self._lines + lines <= self.capacity_lines
                and self._bytes + size <= self.capacity_bytes
            )

    def offer(self, chunks: Sequence[Chunk]) -> bool:
        """Queue all of ``chunks`` or none of them."""
        sized = [(c, chunk_cost(c)) for c in chunks]
        count = sum(len(c.lines) for c in chunks)
        size = sum(s for _, s in sized)
        with self._cond:
            if (
                self._lines + count > self.capacity_lines
                or self._bytes + size > self.capacity_bytes
            ):
                return False
            self._items.extend(sized)
            self._lines += count
            self._bytes += size
            self.peak = max(self.peak, self._bytes)
            self._cond.notify()
        return True

    def take(self, timeout: float) -> list[Chunk]:
        """Wait up to ``timeout`` for chunks; return at most about one chunk's worth of lines."""
        taken: list[Chunk] = []
        lines = nbytes = 0
        with self._cond:
            if not self._items and timeout > 0:
                self._cond.wait(timeout)
            while self._items and lines < MAX_CHUNK_LINES and nbytes < MAX_CHUNK_BYTES:
                chunk, size = self._items.popleft()
                taken.append(chunk)
                lines += len(chunk.lines)
                nbytes += size
            self._lines -= lines
            self._bytes -= nbytes
        return taken

    @property
    def bytes(self) -> int:
        """Bytes waiting, as the bound counts them."""
        return self._bytes

    def __len__(self) -> int:
        """Lines waiting."""
        return self._lines


class BufferedSource:
    """The pipeline side shared by UDP and HTTP: drain the buffer, tick while it is empty, and
    on ``stop`` stop receiving, then hand over everything still queued before ending."""

    name: str
    _merge: bool

    def __init__(
        self,
        name: str,
        idle_interval: float,
        queue_bytes: int = QUEUE_BYTES,
        queue_lines: int = QUEUE_LINES,
    ) -> None:
        self.name = name
        self._idle = idle_interval
        self._buffer = ChunkBuffer(queue_bytes, queue_lines)
        self._closing = threading.Event()

    def chunks(self, stop: threading.Event) -> Iterator[Chunk]:
        yield from self._before_live(stop)
        while not self._closing.is_set():
            if stop.is_set():
                self.stop_receiving()
                log.info("%s: stopped receiving; handing over the %d events queued",
                         self.name, len(self._buffer))  # fmt: skip
                while taken := self._buffer.take(0):
                    yield from self._out(taken)
                return
            taken = self._buffer.take(self._idle)
            if taken:
                yield from self._out(taken)
            else:
                yield IDLE

    def _before_live(self, stop: threading.Event) -> Iterator[Chunk]:
        """Chunks to hand over before the live ones (the HTTP journal's replay)."""
        return iter(())

    def _out(self, taken: list[Chunk]) -> Iterator[Chunk]:
        if self._merge:
            yield Chunk([line for chunk in taken for line in chunk.lines])
        else:
            yield from taken

    def stop_receiving(self) -> None:
        """Take nothing more into the buffer; returns once no receiver can add to it."""
        raise NotImplementedError

    def commit(self, position: object) -> None:
        """Network input cannot be replayed, so there is nothing to checkpoint."""

    @property
    def queued_bytes(self) -> int:
        return self._buffer.bytes


class ReceiverSource(BufferedSource):
    """A buffered source fed by one receiver thread that has no backpressure to apply (UDP,
    ZeroMQ's PUB/SUB): lines that do not fit the buffer are counted in ``dropped``.

    A subclass makes its transport, then calls ``start``; its ``_receive`` loops while
    ``_receiving`` is set and hands lines to ``_take``; ``_release`` lets the transport go.
    """

    def __init__(self, name: str, idle_interval: float, queue_bytes: int, queue_lines: int) -> None:
        super().__init__(name, idle_interval, queue_bytes, queue_lines)
        self.received = 0
        self.dropped = 0
        self._receiving = threading.Event()
        self._receiving.set()
        self._thread = threading.Thread(target=self._receive, name=f"receive {name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _receive(self) -> None:
        raise NotImplementedError

    def tally(self) -> SourceTally:
        """The lines the full queue made it drop: received = raw + dropped."""
        return SourceTally(dropped=self.dropped)

    def _take(self, lines: list[bytes]) -> bool:
        """Queue ``lines`` or count them dropped; whether they were queued."""
        if self._buffer.offer([Chunk(lines)]):
            self.received += len(lines)
            return True
        self.dropped += len(lines)
        return False

    def stop_receiving(self) -> None:
        self._receiving.clear()
        if self._thread.is_alive():
            self._thread.join()

    def _release(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        if self._closing.is_set():
            return
        self._closing.set()
        self.stop_receiving()
        self._release()


def resolve(uri: str, kind: int, host: str, port: int) -> tuple[int, tuple]:
    """Address family and socket address for host:port."""
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=kind)[0]
    except socket.gaierror as exc:
        raise UserError(f"{uri}: cannot resolve {host!r} ({exc.strerror}); use an IP") from exc
    return family, address


def bound_sockets(uri: str, kind: int, host: str, port: int, count: int = 1) -> list[socket.socket]:
    """A socket bound to host:port (listening, for TCP); or ``count`` of them on the one
    address with SO_REUSEPORT, one for each worker of ``forward --workers``: the kernel spreads
    datagrams and connections over them by the sender's address and port.  They are all made
    before the workers start, so a port in use fails once and port 0 picks one port for all."""
    family, address = resolve(uri, kind, host, port)
    made: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, kind)
            made.append(sock)
            if count > 1:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if kind == socket.SOCK_STREAM:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            if kind == socket.SOCK_STREAM:
                sock.listen(LISTEN_BACKLOG)
            address = sock.getsockname()  # port 0: the next ones take the port this one got
    except OSError as exc:
        for sock in made:
            sock.close()
        raise listen_error(uri, port, exc) from exc
    return made


def listen_error(uri: str, port: int, exc: OSError) -> UserError:
    if exc.errno == errno.EADDRINUSE:
        fix = "stop the other listener or pick another port"
        return UserError(f"{uri}: port {port} is in use; {fix}")
    return UserError(f"{uri}: cannot listen ({exc.strerror}); check the host and port")
