"""``file://`` input: read a log to its end, or follow it across rotation with a checkpoint.

Following is ``tail -F`` with a memory: every chunk carries the (device, inode, offset) just past
its last line, and ``commit`` stores the position the pipeline has made durable, atomically, next
to the log (or in ``checkpoint_dir``).  A restart, even after SIGKILL, resumes exactly there: in
the current file, or in the rotated file that still has the checkpointed inode and then the
current file from its start.  Lines after the last commit are read again; none before it.

The checkpoint also holds a fingerprint of the bytes just before its offset.  A file truncated
in place (copytruncate) while the forwarder was down and then grown past the old offset keeps
its inode and size, but not those bytes: it is read from the start, with a warning, instead of
skipping its first lines.  Following does the same check on what it has read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
import threading
import time
from collections.abc import Generator, Iterator
from typing import NamedTuple

from el_monitor.atomic import write_atomically
from el_monitor.errors import UserError
from el_monitor.ingest.sources.base import IDLE, Chunk
from el_monitor.ingest.sources.lines import READ_BYTES, LineSplitter

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.1
"""Longest wait between looks for appended data or rotation while following."""
FINGERPRINT_BYTES = 4096
"""How many bytes before a checkpointed offset its fingerprint covers."""


class FilePosition(NamedTuple):
    """Where a follow-mode chunk ends: the file's identity and the offset after its last line."""

    dev: int
    inode: int
    offset: int
    fingerprint: str = ""  # of the bytes before ``offset`` (``fingerprint``); "" for none


def fingerprint(fd: int, offset: int) -> str:
    """``N:hex``: BLAKE2b-128 of the N (up to FINGERPRINT_BYTES) bytes of ``fd`` before
    ``offset``; N is less than the window only where the file holds fewer bytes there."""
    start = max(0, offset - FINGERPRINT_BYTES)
    data = os.pread(fd, offset - start, start)
    return f"{len(data)}:{hashlib.blake2b(data, digest_size=16).hexdigest()}"


class _OpenFile:
    """One open descriptor and the line state of what has been read from it."""

    def __init__(
        self, fd: int, offset: int, max_line_bytes: int, *, positions: bool = True
    ) -> None:
        st = os.fstat(fd)
        if offset > st.st_size:  # the file shrank below the checkpoint: it was truncated
            offset = 0
        os.lseek(fd, offset, os.SEEK_SET)
        self.fd = fd
        self.dev = st.st_dev
        self.inode = st.st_ino
        self.splitter = LineSplitter(max_line_bytes, base=offset)
        self._max = max_line_bytes
        self._positions = positions
        self._recent = b""  # the last bytes read, up to FINGERPRINT_BYTES: see ``rewritten``

    def read(self) -> bytes:
        data = os.read(self.fd, READ_BYTES)
        if data and self._positions:
            self._recent = (self._recent + data[-FINGERPRINT_BYTES:])[-FINGERPRINT_BYTES:]
        return data

    def chunk(self, batch: tuple[list[bytes], int]) -> Chunk:
        lines, offset = batch
        if not self._positions:
            return Chunk(lines)
        position = FilePosition(self.dev, self.inode, offset, fingerprint(self.fd, offset))
        return Chunk(lines, position=position)

    def truncated(self) -> bool:
        """True when the file is now shorter than what was read (copytruncate)."""
        return os.fstat(self.fd).st_size < self.splitter.fed

    def rewritten(self) -> bool:
        """True when the bytes last read are no longer there: truncated, then grown past."""
        recent = self._recent
        if not recent:
            return False
        return os.pread(self.fd, len(recent), self.splitter.fed - len(recent)) != recent

    def restart(self) -> None:
        os.lseek(self.fd, 0, os.SEEK_SET)
        self.splitter = LineSplitter(self._max)
        self._recent = b""

    def close(self) -> None:
        os.close(self.fd)


class FileSource:
    """Lines of one file: to its end, or (``follow``) forever across rename and copytruncate."""

    def __init__(
        self,
        name: str,
        path: str,
        *,
        follow: bool,
        idle_interval: float,
        max_line_bytes: int,
        checkpoint_dir: str | None = None,
    ) -> None:
        self.name = name
        self.path = path
        self.follow = follow
        self._idle = idle_interval
        self._max = max_line_bytes
        directory = checkpoint_dir or os.path.dirname(path)
        base = os.path.basename(path)
        self.checkpoint_path = os.path.join(directory, f".{base}.el-monitor.checkpoint")
        self._fd: int | None = _open_readable(name, path)
        self._open: list[_OpenFile] = []
        self._commit_lock = threading.Lock()
        self._committed: FilePosition | None = None
        if follow and not os.access(directory, os.W_OK | os.X_OK):
            self.close()
            raise UserError(
                f"{name}: cannot write the checkpoint in {directory}; "
                "make it writable or pass a writable checkpoint directory"
            )

    def chunks(self, stop: threading.Event) -> Iterator[Chunk]:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        if not self.follow:
            # Read to the end is a one-off pass (maybe of a read-only log): no checkpoints.
            current = self._track(_OpenFile(fd, 0, self._max, positions=False))
            yield from self._drain(current, stop, final=True)
            return
        rotated, current = self._resume(fd)
        if rotated is not None:
            yield from self._drain(rotated, stop, final=True)
            self._untrack(rotated)
        yield from self._tail(current, stop)

    def commit(self, position: object) -> None:
        """Store ``position`` durably: a crash leaves the old or the new checkpoint, never half."""
        if not self.follow or position is None:
            return
        if not isinstance(position, tuple):
            raise TypeError(f"not a file position: {position!r}")
        pos = FilePosition(*position)
        with self._commit_lock:
            if pos == self._committed:
                return
            record = {"path": self.path, "dev": pos.dev, "inode": pos.inode, "offset": pos.offset}
            if pos.fingerprint:
                record["fingerprint"] = pos.fingerprint
            write_atomically(self.checkpoint_path, json.dumps(record).encode())
            self._committed = pos

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        while self._open:
            self._untrack(self._open[-1])

    # -- following ---------------------------------------------------------------------------

    def _tail(self, current: _OpenFile, stop: threading.Event) -> Iterator[Chunk]:
        """Read what is appended; on rotation finish the old file, then switch to the new one."""
        poll = min(POLL_SECONDS, self._idle)
        while not stop.is_set():
            got = yield from self._drain(current, stop, final=False)
            if stop.is_set():
                return
            if current.truncated():
                logger.info("%s: truncated (copytruncate?); reading it again from the start", self)
                yield from self._flush_partial(current)
                current.restart()
                continue
            if current.rewritten():
                logger.warning(
                    "%s: %s was truncated and rewritten past offset %d since it was read; "
                    "reading it again from the start",
                    self,
                    self.path,
                    current.splitter.fed,
                )
                yield from self._flush_partial(current)
                current.restart()
                continue
            replacement = self._replacement(current)
            if replacement is not None:
                yield from self._drain(current, stop, final=True)
                self._untrack(current)
                current = self._track(replacement)
                logger.info("%s: rotated; following the new file", self)
                continue
            if not got:
                if stop.wait(poll):
                    return
                yield IDLE

    def _drain(
        self, f: _OpenFile, stop: threading.Event, *, final: bool
    ) -> Generator[Chunk, None, bool]:
        """Yield chunks up to the current end of ``f``; return whether anything was read.

        With ``final`` the file will not grow any more, so its unfinished last line is a line.
        """
        got = False
        last = time.monotonic()
        while not stop.is_set():
            data = f.read()
            if not data:
                batch = f.splitter.finish() if final else f.splitter.take()
                if batch[0]:
                    yield f.chunk(batch)
                break
            got = True
            for batch in f.splitter.feed(data):
                yield f.chunk(batch)
                last = time.monotonic()
            if time.monotonic() - last >= self._idle:  # a flood of empty or over-long lines
                yield IDLE
                last = time.monotonic()
        return got

    def _flush_partial(self, f: _OpenFile) -> Iterator[Chunk]:
        batch = f.splitter.finish()
        if batch[0]:
            yield f.chunk(batch)

    def _replacement(self, current: _OpenFile) -> _OpenFile | None:
        """The file now at ``path`` if it is not the one being read (rename rotation)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:  # renamed away, not yet recreated
            return None
        if (st.st_dev, st.st_ino) == (current.dev, current.inode):
            return None
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        return _OpenFile(fd, 0, self._max)

    # -- resuming ----------------------------------------------------------------------------

    def _resume(self, fd: int) -> tuple[_OpenFile | None, _OpenFile]:
        """Open where the checkpoint says: maybe a rotated file first, then the current one."""
        saved = self._load_checkpoint()
        st = os.fstat(fd)
        if saved is None:
            return None, self._track(_OpenFile(fd, 0, self._max))
        self._committed = saved
        if (st.st_dev, st.st_ino) == (saved.dev, saved.inode):
            offset = self._checked_offset(fd, saved, self.path)
            return None, self._track(_OpenFile(fd, offset, self._max))
        current = self._track(_OpenFile(fd, 0, self._max))
        rotated_path = self._find_inode(saved.dev, saved.inode)
        if rotated_path is None:
            logger.warning(
                "%s: the checkpointed file (inode %d) is gone; reading %s from the start",
                self,
                saved.inode,
                self.path,
            )
            return None, current
        rotated_fd = _open_readable(self.name, rotated_path)
        offset = self._checked_offset(rotated_fd, saved, rotated_path)
        logger.info("%s: resuming in rotated file %s at %d", self, rotated_path, offset)
        rotated = self._track(_OpenFile(rotated_fd, offset, self._max))
        return rotated, current

    def _checked_offset(self, fd: int, saved: FilePosition, path: str) -> int:
        """The checkpointed offset, or 0 when the file no longer holds what was read up to it:
        shorter than the offset, or other bytes before it (truncated, then grown past it).
        A checkpoint written before fingerprints existed is trusted as far as its size goes."""
        if os.fstat(fd).st_size < saved.offset:
            why = "is shorter than the checkpoint"
        elif saved.fingerprint and fingerprint(fd, saved.offset) != saved.fingerprint:
            why = "no longer holds the bytes read before the checkpoint (truncated and rewritten?)"
        else:
            return saved.offset
        logger.warning(
            "%s: %s %s at offset %d; reading it from the start", self, path, why, saved.offset
        )
        return 0

    def _find_inode(self, dev: int, inode: int) -> str | None:
        directory = os.path.dirname(self.path)
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.inode() != inode or not entry.is_file(follow_symlinks=False):
                    continue
                if entry.stat(follow_symlinks=False).st_dev == dev:
                    return entry.path
        return None

    def _load_checkpoint(self) -> FilePosition | None:
        where = self.checkpoint_path
        try:
            with open(where, "rb") as f:
                record = json.loads(f.read())
            saved = FilePosition(
                int(record["dev"]),
                int(record["inode"]),
                int(record["offset"]),
                str(record.get("fingerprint", "")),
            )
            owner = record["path"]
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise UserError(f"{self.name}: cannot read checkpoint {where}: {exc}") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise UserError(
                f"{self.name}: checkpoint {where} is corrupt; delete it to read from the start"
            ) from exc
        if owner != self.path:
            raise UserError(
                f"{self.name}: checkpoint {where} belongs to {owner}; "
                "give each file its own checkpoint directory"
            )
        return saved

    def _track(self, f: _OpenFile) -> _OpenFile:
        self._open.append(f)
        return f

    def _untrack(self, f: _OpenFile) -> None:
        self._open.remove(f)
        f.close()

    def __str__(self) -> str:
        return self.name


def _open_readable(name: str, path: str) -> int:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise UserError(f"{name}: cannot read {path}: {exc.strerror}; check the path") from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UserError(f"{name}: {path} is not a regular file; name a log file")
    return fd
