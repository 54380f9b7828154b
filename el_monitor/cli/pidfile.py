"""``--pid-file``: where a long-running command says which process to signal.

A failover drill reads it to send SIGHUP to the forwarder it re-points.  The file is written
whole (a reader never sees an empty or half-written pid) and removed at exit, only while it
still names this process (a successor may have taken it over).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from el_monitor.atomic import write_atomically
from el_monitor.errors import UserError


@contextlib.contextmanager
def pid_file(path: str | os.PathLike | None) -> Iterator[None]:
    """This process's id in ``path`` for the block's duration (nothing when None)."""
    if path is None:
        yield
        return
    target = Path(path)
    pid = f"{os.getpid()}\n".encode()
    try:
        write_atomically(target, pid)
    except OSError as exc:
        raise UserError(f"cannot write the pid file {target}: {exc.strerror}") from None
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            if target.read_bytes() == pid:
                target.unlink()
