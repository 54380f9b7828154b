"""The HTTP beacon's write-ahead journal: accepted events survive SIGKILL (``--spool-dir``).

Each accepted request is appended as one record (its defaults, and per event a uuid and the
raw line) to the current segment file in ``<spool>/http-journal/``, and answered 2xx only
after an ``fsync`` that covers the record.  Fsyncs are grouped: one runs at a time on a
helper thread and covers every record appended before it started, so concurrent requests
share it.  Records reach the pipeline in journal order, the last event of a request carrying
its ``Position``; once the forwarder has made a batch durable (committed or spooled) it hands
the position back and the journal records it as its checkpoint, atomically, and deletes
segments wholly before it.  On start, every record past the checkpoint is replayed before new
traffic; an event stored before the crash is stored again under the same uuid, which the
store's unique key makes harmless.  A torn record at a segment's end (a crash mid-append) was
never answered 2xx, and is ignored.

Record: ``>III`` (meta length, lines length, CRC-32 of both), then the meta (JSON: the
defaults, the uuids and each line's length), then the lines, raw.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import fcntl
import logging
import os
import struct
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import orjson

from el_monitor.atomic import fsync_directory, write_atomically
from el_monitor.errors import UserError
from el_monitor.ingest.sources.base import Chunk

log = logging.getLogger(__name__)

SEGMENT_BYTES = 16 * 1024 * 1024  # start a new segment file past this size
_HEADER = struct.Struct(">III")
_SUFFIX = ".wal"


class Position(NamedTuple):
    """Just past a record: everything up to here is in the chunks handed over so far."""

    segment: int
    offset: int


def _segment_name(number: int) -> str:
    return f"{number:012d}{_SUFFIX}"


def encode(defaults: dict[str, object], uuids: list[str], lines: list[bytes]) -> bytes:
    meta = orjson.dumps({"d": defaults, "u": uuids, "n": [len(line) for line in lines]})
    body = b"".join(lines)
    crc = zlib.crc32(body, zlib.crc32(meta))
    return _HEADER.pack(len(meta), len(body), crc) + meta + body


def request_chunks(
    defaults: dict[str, object], uuids: list[str], lines: list[bytes], end: object | None
) -> list[Chunk]:
    """A request's events as one chunk, each with its uuid (none when it has no event): it
    carries the request's position, so a checkpoint never falls inside a request."""
    return [Chunk(lines, defaults, end, uuids)] if lines else []


class DamagedRecord(ValueError):
    """A record whose lengths, checksum or metadata do not hold together."""


def decode_record(payload: bytes) -> tuple[dict[str, object], list[str], list[bytes]]:
    """The defaults, uuids and raw lines of one whole record (``encode``'s output); raises
    DamagedRecord when it is cut short, padded or fails its CRC."""
    if len(payload) < _HEADER.size:
        raise DamagedRecord(f"{len(payload)} bytes is shorter than a record's header")
    meta_len, body_len, crc = _HEADER.unpack_from(payload)
    if len(payload) != _HEADER.size + meta_len + body_len:
        raise DamagedRecord(f"{len(payload)} bytes, the header says {meta_len + body_len}")
    meta = payload[_HEADER.size : _HEADER.size + meta_len]
    body = payload[_HEADER.size + meta_len :]
    if zlib.crc32(body, zlib.crc32(meta)) != crc:
        raise DamagedRecord("its CRC does not match")
    try:
        record = orjson.loads(meta)
        defaults, uuids, sizes = record["d"], record["u"], record["n"]
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise DamagedRecord(f"unreadable metadata ({exc})") from None
    if not isinstance(defaults, dict) or len(uuids) != len(sizes) or sum(sizes) != body_len:
        raise DamagedRecord("its metadata does not match its lines")
    lines, at = [], 0
    for size in sizes:
        lines.append(body[at : at + size])
        at += size
    return defaults, uuids, lines


def read_records(path: Path, segment: int, start: int) -> Iterator[list[Chunk]]:
    """The requests in a segment from ``start`` on, as chunks; stops at a torn record."""
    with open(path, "rb") as f:
        f.seek(start)
        offset = start
        while True:
            head = f.read(_HEADER.size)
            if len(head) < _HEADER.size:
                break
            meta_len, body_len, _ = _HEADER.unpack(head)
            rest = f.read(meta_len + body_len)
            if len(rest) < meta_len + body_len:
                break
            try:
                defaults, uuids, lines = decode_record(head + rest)
            except DamagedRecord:
                log.warning("%s: a damaged record at byte %d; replay of it ends there",
                            path.name, offset)  # fmt: skip
                break
            offset += _HEADER.size + meta_len + body_len
            yield request_chunks(defaults, uuids, lines, Position(segment, offset))


class Journal:
    """Appends on the event loop's thread, fsyncs on a helper thread, checkpoints on the
    forwarder's; see the module docstring."""

    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(self.directory / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise UserError(f"cannot use journal directory {self.directory}: {exc}") from None
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._lock_fd)
            raise UserError(f"{self.directory} is in use by another forwarder") from None
        self._checkpoint_path = self.directory / "checkpoint"
        self.checkpoint = self._read_checkpoint()
        self._segments_lock = threading.Lock()
        existing = self._segments()
        self._replay = [n for n in existing if n >= self.checkpoint.segment]
        for number in existing:
            if number < self.checkpoint.segment:
                (self.directory / _segment_name(number)).unlink(missing_ok=True)
        self._segment = max([*existing, self.checkpoint.segment]) + 1
        self._fd = self._open(self._segment)
        self._size = 0
        self._appended = 0  # bytes appended since start, over all segments
        self._synced = 0
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._syncing = False
        self._fsyncer = concurrent.futures.ThreadPoolExecutor(1, "journal fsync")
        self.failed: OSError | None = None
        self._last: Position | None = None  # just past the last record handed over
        self._replayed = not self._replay  # whether replay() has handed over all there was

    def _read_checkpoint(self) -> Position:
        try:
            segment, offset = self._checkpoint_path.read_text().split()
            return Position(int(segment), int(offset))
        except FileNotFoundError:
            return Position(0, 0)
        except (OSError, ValueError) as exc:
            log.error("%s is unreadable (%s); replaying the whole journal",
                      self._checkpoint_path, exc)  # fmt: skip
            return Position(0, 0)

    def _segments(self) -> list[int]:
        return sorted(int(p.stem) for p in self.directory.glob("*" + _SUFFIX) if p.stem.isdigit())

    def _open(self, number: int) -> int:
        path = self.directory / _segment_name(number)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fsync_directory(self.directory)
        return fd

    def replay(self) -> Iterator[list[Chunk]]:
        """The requests recorded past the checkpoint by an earlier run, oldest first."""
        for number in self._replay:
            start = self.checkpoint.offset if number == self.checkpoint.segment else 0
            path = self.directory / _segment_name(number)
            with contextlib.suppress(FileNotFoundError):
                for chunks in read_records(path, number, start):
                    self._last = chunks[-1].position  # type: ignore[assignment]
                    yield chunks
        self._replayed = True

    def append(self, record: bytes) -> tuple[Position, int]:
        """Write a record (not yet durable); its position and the mark ``synced`` waits for.
        Runs on the event loop's thread.  Raises OSError."""
        if self._size >= SEGMENT_BYTES:
            self._rotate()
        written = os.write(self._fd, record)
        while written < len(record):  # a short write: the rest, or OSError
            written += os.write(self._fd, record[written:])
        self._size += len(record)
        self._appended += len(record)
        self._last = Position(self._segment, self._size)
        return self._last, self._appended

    def _rotate(self) -> None:
        """Close the full segment (durably: the next fsync covers only the new one)."""
        os.fsync(self._fd)
        # Closed after any fsync in flight on it: the helper thread runs one job at a time.
        self._fsyncer.submit(os.close, self._fd)
        with self._segments_lock:
            self._segment += 1
            self._fd = self._open(self._segment)
        self._size = 0
        self._synced = self._appended

    async def synced(self, mark: int) -> None:
        """Return once an fsync covers everything appended up to ``mark``; raises OSError
        when fsync fails (the journal can no longer promise anything)."""
        if self.failed is not None:
            raise self.failed
        if self._synced >= mark:
            return
        future = asyncio.get_running_loop().create_future()
        self._waiters.append((mark, future))
        if not self._syncing:
            self._syncing = True
            asyncio.get_running_loop().create_task(self._sync())
        await future

    async def _sync(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._waiters:
                target, fd = self._appended, self._fd
                try:
                    await loop.run_in_executor(self._fsyncer, os.fsync, fd)
                except OSError as exc:
                    log.error("cannot fsync the HTTP journal in %s: %s", self.directory, exc)
                    self.failed = exc
                    for _, future in self._waiters:
                        if not future.done():
                            future.set_exception(exc)
                    self._waiters = []
                    return
                self._synced = max(self._synced, target)
                done = [w for w in self._waiters if w[0] <= self._synced]
                self._waiters = [w for w in self._waiters if w[0] > self._synced]
                for _, future in done:
                    if not future.done():
                        future.set_result(None)
        finally:
            self._syncing = False

    def commit(self, position: object) -> None:
        """Everything up to ``position`` is durable downstream: checkpoint it, and delete the
        segments wholly before it.  Runs on the forwarder's thread."""
        if not isinstance(position, Position):
            return
        try:
            write_atomically(self._checkpoint_path, b"%d %d\n" % position)
        except OSError as exc:
            log.error("cannot checkpoint the HTTP journal (%s); a restart replays more", exc)
            return
        self.checkpoint = position
        with self._segments_lock:
            current = self._segment
        for number in self._segments():
            if number < position.segment and number != current:
                (self.directory / _segment_name(number)).unlink(missing_ok=True)

    def close(self) -> None:
        """Stop appending; when everything handed over is checkpointed, the journal goes."""
        self._fsyncer.shutdown(wait=True)
        with contextlib.suppress(OSError):
            os.close(self._fd)
        if self._replayed and (self._last is None or self._last == self.checkpoint):
            for number in self._segments():
                (self.directory / _segment_name(number)).unlink(missing_ok=True)
            self._checkpoint_path.unlink(missing_ok=True)
            fsync_directory(self.directory)
        elif self._size == 0:
            (self.directory / _segment_name(self._segment)).unlink(missing_ok=True)
        os.close(self._lock_fd)
