"""Shared by the replication tests: ``el-monitor heartbeat`` as a real process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from helpers import ROOT


@contextmanager
def heartbeat_process(url: str, log: Path, *extra: str) -> Iterator[subprocess.Popen[bytes]]:
    """``el-monitor heartbeat --db url`` writing its log to ``log``; SIGTERMed at the end
    when still running."""
    command = [sys.executable, "-m", "el_monitor.cli.main", "-v", "heartbeat", "--db", url, *extra]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(30)
