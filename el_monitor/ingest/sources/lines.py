"""Cutting bytes into bounded lines and chunk-sized batches, for every source.

A line longer than the limit keeps ``max_line_bytes + 1`` bytes, so the parser sees it is too
long and counts a parse error, instead of the line vanishing or filling memory.
"""

from __future__ import annotations

MAX_CHUNK_LINES = 1000
MAX_CHUNK_BYTES = 256 * 1024
READ_BYTES = 256 * 1024

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
