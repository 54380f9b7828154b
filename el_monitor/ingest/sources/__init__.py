"""Input sources addressed by URI: ``stdin://``, ``file://``, ``udp://`` and ``http://``.

``open_source`` turns a URI into a ``Source``.  This module also holds what every source shares:
cutting bytes into bounded lines and chunks (``LineSplitter``, ``split_lines``) and the bounded
hand-off between network receiver threads and the pipeline (``ChunkBuffer``).  The file source
lives in ``filesource``, the UDP and HTTP sources in ``netsources``.
"""

from __future__ import annotations

import os
import select
import sys
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from urllib.parse import parse_qs, unquote, urlsplit

from el_monitor.errors import UserError
from el_monitor.ingest.sources.base import IDLE, Chunk, Source

MAX_CHUNK_LINES = 1000
MAX_CHUNK_BYTES = 256 * 1024
READ_BYTES = 256 * 1024
SCHEMES = ("stdin://", "file:///path[?follow=1]", "udp://host:port", "http://host:port")

Batch = tuple[list[bytes], int]
"""Lines cut from a stream and the stream offset just past the newline of the last of them."""


def clean_line(raw: bytes, max_line_bytes: int) -> bytes:
    """Drop a trailing CR; cut an over-long line to one byte past the limit.

    Keeping ``max_line_bytes + 1`` bytes lets the parser see the line is too long and count a
    parse error, instead of the line vanishing or filling memory.
    """
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    if len(raw) > max_line_bytes:
        return raw[: max_line_bytes + 1]
    return raw


def split_lines(data: bytes, max_line_bytes: int) -> list[bytes]:
    """Non-empty lines of a self-contained message (a datagram); the last needs no newline."""
    lines = []
    for raw in data.split(b"\n"):
        line = clean_line(raw, max_line_bytes)
        if line:
            lines.append(line)
    return lines


class LineSplitter:
    """Cuts a byte stream into lines and chunk-sized batches, tracking line-boundary offsets.

    Offsets are absolute stream positions (``base`` is where the stream starts), so a checkpoint
    never points into the middle of a line.  An unfinished line is held until its newline comes;
    an over-long one keeps only ``max_line_bytes + 1`` bytes while the rest is skipped.
    """

    def __init__(self, max_line_bytes: int, base: int = 0) -> None:
        self._max = max_line_bytes
        self._partial = b""
        self._overflow = False
        self._lines: list[bytes] = []
        self._bytes = 0
        self._fed = base
        self.boundary = base

    @property
    def fed(self) -> int:
        """Stream offset just past the last byte fed."""
        return self._fed

    def feed(self, data: bytes) -> list[Batch]:
        """Add bytes; return the batches that became full (up to the chunk size limits)."""
        parts = data.split(b"\n")
        tail = parts.pop()
        end = self._fed
        self._fed += len(data)
        full: list[Batch] = []
        limit = self._max
        for i, raw in enumerate(parts):
            end += len(raw) + 1
            if i == 0 and (self._partial or self._overflow):
                line = self._join_partial(raw)
            else:
                line = raw[:-1] if raw.endswith(b"\r") else raw
                if len(line) > limit:
                    line = line[: limit + 1]
            if line:
                self._add(line)
                if len(self._lines) >= MAX_CHUNK_LINES or self._bytes >= MAX_CHUNK_BYTES:
                    full.append((self._lines, end))
                    self._lines, self._bytes = [], 0
        if parts:
            self.boundary = end
        self._hold(tail)
        return full

    def take(self) -> Batch:
        """The complete lines not yet returned (maybe none) and the offset after them."""
        lines, self._lines, self._bytes = self._lines, [], 0
        return lines, self.boundary

    def finish(self) -> Batch:
        """At end of input: the held unfinished line counts as a line too."""
        if self._partial or self._overflow:
            line = self._partial if self._overflow else clean_line(self._partial, self._max)
            self._partial, self._overflow = b"", False
            if line:
                self._add(line)
        self.boundary = self._fed
        return self.take()

    def _add(self, line: bytes) -> None:
        self._lines.append(line)
        self._bytes += len(line)

    def _join_partial(self, head: bytes) -> bytes:
        line = self._partial if self._overflow else clean_line(self._partial + head, self._max)
        self._partial, self._overflow = b"", False
        return line

    def _hold(self, tail: bytes) -> None:
        if self._overflow or not tail:
            return
        self._partial += tail
        # max + 1 bytes may still be max bytes of line plus a CR; one more byte is surely too long.
        if len(self._partial) > self._max + 1:
            self._partial = self._partial[: self._max + 1]
            self._overflow = True


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


def open_source(
    uri: str,
    *,
    idle_interval: float = 0.2,
    max_line_bytes: int = 65536,
    max_body_bytes: int = 65536,
    checkpoint_dir: str | None = None,
) -> Source:
    """Build the source a URI names; mistakes become a one-line ``UserError``."""
    if idle_interval <= 0 or max_line_bytes < 1 or max_body_bytes < 1:
        raise ValueError("idle_interval, max_line_bytes and max_body_bytes must be positive")
    scheme = uri.partition("://")[0].lower() if "://" in uri else ""
    if scheme == "stdin":
        return _open_stdin(uri, idle_interval, max_line_bytes)
    if scheme == "file":
        return _open_file(uri, idle_interval, max_line_bytes, checkpoint_dir)
    if scheme in ("udp", "http"):
        from el_monitor.ingest.sources import net as netsources

        host, port = _host_port(uri)
        if scheme == "udp":
            return netsources.UdpSource(
                uri, host, port, idle_interval=idle_interval, max_line_bytes=max_line_bytes
            )
        return netsources.HttpSource(
            uri,
            host,
            port,
            idle_interval=idle_interval,
            max_line_bytes=max_line_bytes,
            max_body_bytes=max_body_bytes,
        )
    raise UserError(f"unknown input {uri!r}: use one of {', '.join(SCHEMES)}")


def _open_stdin(uri: str, idle_interval: float, max_line_bytes: int) -> StdinSource:
    if uri != "stdin://":
        raise UserError(f"malformed input {uri!r}: standard input is written 'stdin://'")
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, OSError, ValueError) as exc:
        raise UserError(f"{uri}: this process has no readable standard input ({exc})") from exc
    return StdinSource(uri, fd, idle_interval=idle_interval, max_line_bytes=max_line_bytes)


def _open_file(
    uri: str, idle_interval: float, max_line_bytes: int, checkpoint_dir: str | None
) -> Source:
    from el_monitor.ingest.sources.file import FileSource

    parts = urlsplit(uri)
    path = unquote(parts.path)
    if parts.netloc not in ("", "localhost") or not path.startswith("/") or parts.fragment:
        raise UserError(f"malformed input {uri!r}: write an absolute path as file:///abs/path")
    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError as exc:
        raise UserError(f"malformed input {uri!r}: the query must be ?follow=1") from exc
    unknown = set(query) - {"follow"}
    follow_values = query.get("follow", ["0"])
    if unknown or len(follow_values) != 1 or follow_values[0] not in _FLAGS:
        raise UserError(f"malformed input {uri!r}: the only option is ?follow=1 (or follow=0)")
    return FileSource(
        uri,
        path,
        follow=_FLAGS[follow_values[0]],
        idle_interval=idle_interval,
        max_line_bytes=max_line_bytes,
        checkpoint_dir=checkpoint_dir,
    )


_FLAGS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


def _host_port(uri: str) -> tuple[str, int]:
    parts = urlsplit(uri)
    scheme = parts.scheme
    fix = f"write {scheme}://HOST:PORT, e.g. {scheme}://127.0.0.1:8421 (port 0 picks a free one)"
    try:
        port = parts.port
    except ValueError as exc:
        raise UserError(f"malformed input {uri!r}: bad port; {fix}") from exc
    if not parts.hostname or port is None or parts.path not in ("", "/") or parts.query:
        raise UserError(f"malformed input {uri!r}: {fix}")
    if parts.username or parts.password or parts.fragment:
        raise UserError(f"malformed input {uri!r}: {fix}")
    return parts.hostname, port
