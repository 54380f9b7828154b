"""Replace a file so that readers and crashes see the old content or the new, never half."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
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
