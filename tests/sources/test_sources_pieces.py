"""Files cut into pieces for ``forward --workers``: every line read exactly once, as one process
reading the file whole reads it, whatever the piece size; each piece taken by one process."""

from __future__ import annotations

import os
import threading

import pytest

from el_monitor.errors import UserError
from el_monitor.ingest.sources import open_source
from el_monitor.ingest.sources.pieces import (
    MAX_PIECES,
    NUMBER,
    Piece,
    PieceQueue,
    PieceSource,
    cut,
    piece_lines,
)

MAX_LINE = 24
# Short and long lines, empty ones, CRLF, lines over MAX_LINE (one longer than several
# pieces), a line that is only CR, and a last line without its newline.
CONTENT = (
    b"first\nsecond line\n\n\nthird\r\n"
    + b"x" * 80
    + b"\n"
    + b"".join(b"%d-%s\n" % (n, b"y" * (n % 30)) for n in range(60))
    + b"\r\n"
    + b"z" * 30
    + b"\r\nlast without newline"
)


def _whole(path) -> list[bytes]:
    source = open_source(f"file://{path}", max_line_bytes=MAX_LINE)
    try:
        return [line for chunk in source.chunks(threading.Event()) for line in chunk.lines]
    finally:
        source.close()


def _by_pieces(path, pieces: list[Piece]) -> list[bytes]:
    fd = os.open(path, os.O_RDONLY)
    try:
        return [
            line
            for piece in pieces
            for lines, _ in piece_lines(fd, piece, MAX_LINE, threading.Event())
            for line in lines
        ]
    finally:
        os.close(fd)


@pytest.mark.parametrize("size", [*range(1, 41), 97, 1000, len(CONTENT)])
def test_pieces_read_every_line_once_as_the_whole_file_read_does(tmp_path, size):
    path = tmp_path / "events.log"
    path.write_bytes(CONTENT)
    pieces = cut([len(CONTENT)], smallest=size)
    assert _by_pieces(path, pieces) == _whole(path)


def test_a_file_ending_in_a_newline_at_a_piece_boundary(tmp_path):
    path = tmp_path / "events.log"
    path.write_bytes(b"abc\ndef\n")  # pieces of 4: each ends with a newline
    pieces = cut([8], smallest=4)
    assert pieces == [Piece(0, 0, 4), Piece(0, 4, None)]
    assert _by_pieces(path, pieces) == [b"abc", b"def"]


def test_cut_covers_every_file_in_at_most_max_pieces():
    assert cut([0, 10], smallest=4) == [
        Piece(0, 0, None),
        Piece(1, 0, 4),
        Piece(1, 4, 8),
        Piece(1, 8, None),
    ]
    sizes = [10**12, 3, 0, 7 * 10**9]  # a terabyte among small files: bigger pieces
    pieces = cut(sizes)
    assert len(pieces) <= MAX_PIECES
    assert {piece.file for piece in pieces} == {0, 1, 2, 3}
    for file, size in enumerate(sizes):
        mine = [p for p in pieces if p.file == file]
        assert mine[0].start == 0 and mine[-1].end is None
        assert all(a.end == b.start for a, b in zip(mine, mine[1:], strict=False))
        assert mine[-1].start <= max(size - 1, 0)
    with pytest.raises(ValueError, match="at most"):
        PieceQueue(["/dev/null"], [Piece(0, 0, None)] * (MAX_PIECES + 1))


def test_two_processes_take_each_piece_once(tmp_path):
    queue = PieceQueue(["/dev/null"], [Piece(0, n, n + 1) for n in range(MAX_PIECES)])
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child takes what it can and reports which
        code = 1
        try:
            os.close(read_end)
            taken = b""
            while (piece := queue.take()) is not None:
                taken += NUMBER.pack(piece.start)
            os.write(write_end, taken)
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    mine = []
    while (piece := queue.take()) is not None:
        mine.append(piece.start)
    queue.close()
    data = b""
    while chunk := os.read(read_end, 1 << 16):
        data += chunk
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    theirs = [n for (n,) in NUMBER.iter_unpack(data)]
    assert not set(mine) & set(theirs)
    assert sorted(mine + theirs) == list(range(MAX_PIECES))


def test_a_piece_source_reads_its_pieces_and_stops_when_told(tmp_path):
    first, second = tmp_path / "a.log", tmp_path / "b.log"
    first.write_bytes(b"a1\na2\n")
    second.write_bytes(b"b1\n")
    queue = PieceQueue([str(first), str(second)], cut([6, 3], smallest=3))
    source = PieceSource("two files", queue, MAX_LINE)
    try:
        lines = [line for chunk in source.chunks(threading.Event()) for line in chunk.lines]
        assert lines == [b"a1", b"a2", b"b1"]
        assert list(source.chunks(threading.Event())) == []  # every piece was taken
    finally:
        source.close()
    second.unlink()  # gone since the queue was planned: one clear error
    with pytest.raises(UserError, match=f"cannot read {second}: No such file"):
        PieceSource("two files", PieceQueue([str(first), str(second)], []), MAX_LINE)
    stopped = threading.Event()
    stopped.set()
    fd = os.open(first, os.O_RDONLY)
    try:
        assert list(piece_lines(fd, Piece(0, 0, None), MAX_LINE, stopped)) == []
    finally:
        os.close(fd)
