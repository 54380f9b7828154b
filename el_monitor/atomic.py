"""Replace a file so that readers and crashes see the old content or the new, never half."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO


def write_atomically(path: str | os.PathLike, data: bytes, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` (see ``atomic_writer``).  Raises OSError; callers say
    what it means."""
    with atomic_writer(path, mode) as file:
        file.write(data)


@contextlib.contextmanager
def atomic_writer(
    path: str | os.PathLike, mode: int = 0o644, buffering: int = -1
) -> Iterator[BinaryIO]:
    """A temporary file beside ``path`` to write; when the block ends it is fsynced, renamed
    over ``path`` and the directory fsynced.  An exception in the block (the caller's own, to
    abandon it, included) removes the temporary file and leaves ``path`` as it was.  An
    existing file keeps its permissions."""
    path = Path(path)
    directory = path.parent
    with contextlib.suppress(FileNotFoundError):
        mode = stat.S_IMODE(path.stat().st_mode)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb", buffering=buffering) as file:
            yield file
            file.flush()
            os.fchmod(file.fileno(), mode)
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_directory(directory)


def fsync_directory(directory: str | os.PathLike) -> None:
    """Make a rename or unlink in ``directory`` durable (where the filesystem allows it)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class FileGrew(Exception):
    """The file was appended to while it was read: a rewrite of it was abandoned."""


def rewrite_lines(
    path: str | os.PathLike,
    change: Callable[[int, bytes], bytes | None],
    size: int,
    buffering: int = -1,
) -> None:
    """Replace ``path`` (``atomic_writer``) by its lines passed through ``change(number,
    line)`` (numbered from 1, newline included; None drops the line).  ``size`` is how long
    the file was when the caller decided what to change: when it is no longer that long (a
    writer appended meanwhile), the rewrite is abandoned with ``FileGrew`` and the file left as
    it is, so no appended record is lost.  Raises OSError (a full disk, a read-only directory)
    with the file as it was."""
    with (
        open(path, "rb", buffering=buffering) as source,
        atomic_writer(path, buffering=buffering) as target,
    ):
        for number, line in enumerate(source, 1):
            new = change(number, line)
            if new is not None:
                target.write(new)
        if os.stat(path).st_size != size or os.fstat(source.fileno()).st_size != size:
            raise FileGrew(str(path))
