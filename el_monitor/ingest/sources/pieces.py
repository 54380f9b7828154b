"""Files read to their end, cut into pieces that the workers of ``forward --workers`` take in turn.

Dealing whole files to workers leaves one idle while another still reads (the files differ in
size, and one worker's commits or checkpoints take longer), and cannot share one big file at
all.  Instead every file is cut into pieces of at least ``PIECE_BYTES``; a worker takes the
next piece whenever it is done with one, so the workers end together, whatever the files.

The queue is a pipe holding every piece's number, written before the workers fork: a worker
takes a piece by reading ``NUMBER.size`` bytes from it.  Every number is written at once and
reads of a pipe are serialized, so each read gets one whole number, never the same as another
worker's, and an empty pipe is the end.  At most ``MAX_PIECES`` pieces, so that the numbers fit
one write of ``PIPE_BUF`` bytes, which any pipe holds: a huge file gets bigger pieces.

A piece owns the lines that start in it: it begins after the first newline before its start
(the first piece of a file at byte 0) and ends with the line that holds its last byte.  So the
pieces read every line of a file exactly once, as one process reading it whole would, with the
same cutting of over-long lines (``lines``).  Lines are no longer read in order, which nothing
here needs: every event is stored on its own, idempotent on its uuid.
"""

from __future__ import annotations

import os
import select
import struct
import threading
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from el_monitor.errors import UserError
from el_monitor.ingest.sources.base import Chunk
from el_monitor.ingest.sources.lines import READ_BYTES, Batch, LineSplitter

PIECE_BYTES = 1 << 20
NUMBER = struct.Struct("<I")
MAX_PIECES = select.PIPE_BUF // NUMBER.size


class Piece(NamedTuple):
    """Bytes ``start`` to ``end`` of file ``file`` (an index); ``end`` None: to the file's end
    when it is read."""

    file: int
    start: int
    end: int | None


def cut(sizes: Sequence[int], smallest: int = PIECE_BYTES) -> list[Piece]:
    """The pieces of files of ``sizes`` bytes: at least ``smallest`` bytes each (a file's last
    may be shorter), at most ``MAX_PIECES`` in all; an empty file is one piece."""
    size = max(smallest, -(-sum(sizes) // (MAX_PIECES - len(sizes))))
    pieces = []
    for file, length in enumerate(sizes):
        for start in range(0, max(length, 1), size):
            end = start + size
            pieces.append(Piece(file, start, end if end < length else None))
    return pieces


class PieceQueue:
    """The pieces of the files at ``paths``, taken once each by whichever process asks first."""

    def __init__(self, paths: Sequence[str], pieces: Sequence[Piece]) -> None:
        if len(pieces) > MAX_PIECES:
            raise ValueError(f"{len(pieces)} pieces: at most {MAX_PIECES}")
        self.paths = tuple(paths)
        self.pieces = tuple(pieces)
        self._fd, write_end = os.pipe()
        try:
            os.write(write_end, b"".join(NUMBER.pack(n) for n in range(len(pieces))))
        finally:
            os.close(write_end)  # taking from an empty queue is then the end, not a wait

    def take(self) -> Piece | None:
        """The next piece nobody has taken; None when all are."""
        data = os.read(self._fd, NUMBER.size)
        return self.pieces[NUMBER.unpack(data)[0]] if data else None

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class PieceSource:
    """The pieces this process takes from ``queue``, as lines."""

    def __init__(self, name: str, queue: PieceQueue, max_line_bytes: int) -> None:
        self.name = name
        self._queue = queue
        self._max = max_line_bytes
        self._fds: list[int] = []
        try:
            for path in queue.paths:
                self._fds.append(os.open(path, os.O_RDONLY))
        except BaseException as exc:
            self.close()
            if isinstance(exc, OSError):  # gone or unreadable since the supervisor checked
                raise UserError(f"cannot read {exc.filename}: {exc.strerror}") from exc
            raise

    def chunks(self, stop: threading.Event) -> Iterator[Chunk]:
        while not stop.is_set():
            piece = self._queue.take()
            if piece is None:
                return
            for lines, _ in piece_lines(self._fds[piece.file], piece, self._max, stop):
                yield Chunk(lines)

    def commit(self, position: object) -> None:
        """Files read to their end keep no checkpoint."""

    def close(self) -> None:
        self._queue.close()
        while self._fds:
            os.close(self._fds.pop())

    def __str__(self) -> str:
        return self.name


def piece_lines(
    fd: int, piece: Piece, max_line_bytes: int, stop: threading.Event
) -> Iterator[Batch]:
    """The batches of lines that start in ``piece`` of the file open as ``fd``; once ``stop``
    is set, only the whole lines already read."""
    offset = piece.start if piece.start == 0 else _line_start(fd, piece.start)
    if offset is None or (piece.end is not None and offset >= piece.end):
        return
    splitter = LineSplitter(max_line_bytes, base=offset)
    while not stop.is_set():
        data = os.pread(fd, READ_BYTES, offset)
        if not data:
            break
        if piece.end is not None and offset + len(data) >= piece.end:
            newline = data.find(b"\n", max(piece.end - 1 - offset, 0))
            if newline >= 0:  # the end of the line that holds the piece's last byte
                yield from splitter.feed(data[: newline + 1])
                break
        yield from splitter.feed(data)
        offset += len(data)
    last = splitter.take() if stop.is_set() else splitter.finish()
    if last[0]:
        yield last


def _line_start(fd: int, start: int) -> int | None:
    """The offset of the first line that starts at ``start`` or after; None: none does."""
    offset = start - 1
    while True:
        data = os.pread(fd, READ_BYTES, offset)
        if not data:
            return None
        newline = data.find(b"\n")
        if newline >= 0:
            return offset + newline + 1
        offset += len(data)
