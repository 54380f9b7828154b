"""``udp://`` input: lines from datagrams, each of which may hold several lines.

UDP has no backpressure: what does not fit the shared byte-bounded buffer is counted in
``dropped``, and what the kernel dropped before the receiver read it (its socket buffer full)
in ``kernel_dropped``, read off ``/proc/net/udp``.  On stop the receiver ends first, then what
it queued is handed over."""

from __future__ import annotations

import logging
import os
import socket
import time

from el_monitor.counts.counters import SourceTally
from el_monitor.ingest.sources.lines import split_lines
from el_monitor.ingest.sources.network import (
    POLL_SECONDS,
    QUEUE_BYTES,
    QUEUE_LINES,
    ReceiverSource,
    bound_sockets,
)

logger = logging.getLogger(__name__)

RCVBUF_BYTES = 8 * 1024 * 1024
KERNEL_POLL = 1.0  # seconds between two reads of the kernel's drop count
_PROC_TABLES = ("/proc/net/udp", "/proc/net/udp6")


def kernel_drops(inode: int) -> int | None:
    """Datagrams the kernel dropped for the socket ``inode`` because its receive buffer was
    full (the ``drops`` column of Linux's socket tables); None when no table lists it (not
    Linux, or the socket is gone)."""
    wanted = str(inode).encode()
    for table in _PROC_TABLES:
        try:
            with open(table, "rb") as handle:
                next(handle, None)  # the header
                for line in handle:
                    fields = line.split()
                    if len(fields) > 12 and fields[9] == wanted:
                        return int(fields[12])
        except (OSError, ValueError):
            continue
    return None


class UdpSource(ReceiverSource):
    """Lines from datagrams (each may hold several newline-separated lines)."""

    _merge = True

    def __init__(
        self,
        name: str,
        host: str,
        port: int,
        *,
        idle_interval: float = 0.2,
        max_line_bytes: int = 65536,
        queue_bytes: int = QUEUE_BYTES,
        queue_lines: int = QUEUE_LINES,
        sock: socket.socket | None = None,
    ) -> None:
        """``sock``, when given, is already bound (a worker's share of the port) and is
        used instead of binding ``host:port``."""
        super().__init__(name, idle_interval, queue_bytes, queue_lines)
        self._max = max_line_bytes
        if sock is None:
            (sock,) = bound_sockets(name, socket.SOCK_DGRAM, host, port)
        self._sock = sock
        try:  # a deep kernel queue absorbs bursts while the pipeline is busy
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF_BYTES)
        except OSError:
            logger.debug("%s: could not raise SO_RCVBUF", name)
        self._sock.settimeout(POLL_SECONDS)
        self.address: tuple[str, int] = self._sock.getsockname()[:2]
        self._inode = os.fstat(self._sock.fileno()).st_ino
        self._kernel_dropped = 0  # as last read; kept once the socket is closed
        self._kernel_read = -KERNEL_POLL  # time.monotonic() of that read
        self.start()

    def tally(self) -> SourceTally:
        """Lines the full queue made it drop, and datagrams the kernel dropped (read at most
        once per ``KERNEL_POLL``: a table of every UDP socket of the host)."""
        now = time.monotonic()
        if now - self._kernel_read >= KERNEL_POLL:
            self._read_kernel_drops(now)
        return SourceTally(dropped=self.dropped, kernel_dropped=self._kernel_dropped)

    def _read_kernel_drops(self, now: float) -> None:
        self._kernel_read = now
        drops = kernel_drops(self._inode)
        if drops is not None:
            self._kernel_dropped = drops

    def _receive(self) -> None:
        while self._receiving.is_set():
            try:
                data = self._sock.recv(65535)
            except TimeoutError:
                continue
            except OSError:
                if not self._receiving.is_set():
                    return
                logger.exception("%s: receive failed", self.name)
                time.sleep(POLL_SECONDS)
                continue
            lines = split_lines(data, self._max)
            if lines:
                self._take(lines)

    def _release(self) -> None:
        self._read_kernel_drops(time.monotonic())  # the last word, while the socket is listed
        self._sock.close()
