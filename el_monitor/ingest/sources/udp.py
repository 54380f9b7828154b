"""``udp://`` input: lines from datagrams, each of which may hold several lines.

UDP has no backpressure: what does not fit the shared byte-bounded buffer is counted in
``dropped``.  On stop the receiver ends first, then what it queued is handed over."""

from __future__ import annotations

import logging
import socket
import time

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
        self.start()

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
        self._sock.close()
