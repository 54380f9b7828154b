"""What the Graphite and Icinga harnesses share about their server processes: free ports, the
tail of a log for failure messages, and finding (and tying to this one) the processes they start.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
from collections.abc import Callable
from pathlib import Path


class PortTaken(Exception):
    """Another process took a port between our pick and the server's bind: pick again."""


def retry_taken_ports(
    start_once: Callable[[], None],
    stop: Callable[[], None],
    failure: Callable[[], Exception],
    attempts: int = 3,
) -> None:
    """``start_once`` until it does not raise ``PortTaken`` (another process took a port
    between our pick and the daemon's bind), ``stop`` after each try that did; ``failure()``
    is raised when every attempt did."""
    for _ in range(attempts):
        try:
            start_once()
            return
        except PortTaken:
            stop()
    raise failure()


def free_ports(count: int) -> list[int]:
    """`count` distinct free ports on 127.0.0.1 (held together, so they differ)."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
        return ports


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def tail(path: Path, lines: int = 40) -> str:
    """The last `lines` lines of a log file, or a note that there is none."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty)"


def term_with_parent() -> None:  # runs in the child between fork and exec
    """SIGTERM for this process when the process that started it dies (PR_SET_PDEATHSIG)."""
    PR_SET_PDEATHSIG = 1
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def pids_with_marker(marker: bytes) -> list[int]:
    """Processes whose environment holds `marker` (NAME=value) exactly."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                environ = f.read()
        except OSError:  # gone, or a zombie
            continue
        if marker in environ.split(b"\0"):
            found.append(int(entry))
    return found


def pgid(pid: int) -> int | None:
    """The process group of `pid`, None when it is gone."""
    try:
        return os.getpgid(pid)
    except OSError:
        return None
