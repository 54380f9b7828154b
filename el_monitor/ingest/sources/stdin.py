"""``stdin://`` input: lines from standard input until EOF."""

from __future__ import annotations

import os
import select
import threading
from collections.abc import Iterator

from el_monitor.ingest.sources.base import IDLE, Chunk
from el_monitor.ingest.sources.lines import READ_BYTES, LineSplitter


class StdinSource:
    """Lines from standard input until EOF, ticking while the pipe is silent.

    It selects on the descriptor rather than reading ``sys.stdin.buffer`` so an idle producer
    cannot block the pipeline's age-based flushes or its shutdown.
    """

    def __init__(self, name: str, fd: int, *, idle_interval: float, max_line_bytes: int) -> None:
        self.name = name
        self._fd = fd
        self._idle = idle_interval
        self._max = max_line_bytes
        self._closed = threading.Event()

    def chunks(self, stop: threading.Event) -> Iterator[Chunk]:
        splitter = LineSplitter(self._max)
        while not stop.is_set() and not self._closed.is_set():
            ready, _, _ = select.select([self._fd], [], [], self._idle)
            if not ready:
                yield IDLE
                continue
            try:
                data = os.read(self._fd, READ_BYTES)
            except BlockingIOError:
                continue
            if not data:
                lines, _ = splitter.finish()
                if lines:
                    yield Chunk(lines)
                return
            for lines, _ in splitter.feed(data):
                yield Chunk(lines)
            lines, _ = splitter.take()
            if lines:
                yield Chunk(lines)

    def commit(self, position: object) -> None:
        """A pipe cannot be re-read, so there is nothing to checkpoint."""

    def close(self) -> None:
        """Leave the descriptor open: it belongs to the process, not to this source."""
        self._closed.set()
