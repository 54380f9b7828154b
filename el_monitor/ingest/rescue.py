"""The last resort at exit: valid events that could be neither stored nor spooled.

They were accepted (an HTTP client may have had its 2xx), so they are written somewhere
durable and the forwarder says so loudly: a JSON-lines file of capsules that
``el-monitor forward --input file:///path`` replays (their uuids make a replay harmless), in
the first of the given directories that takes it, else on standard error as JSON lines.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from el_monitor.atomic import write_atomically
from el_monitor.event.jsontext import capsule_lines

log = logging.getLogger(__name__)

STDERR = "standard error"


def rescue_file_name() -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return f"el-monitor-rescue-{stamp}-{os.getpid()}.jsonl"


def rescue(capsules: Sequence[dict], directories: Sequence[str | os.PathLike]) -> str:
    """Write ``capsules`` durably; returns the file's absolute path, or ``STDERR``."""
    data = capsule_lines(capsules)
    name = rescue_file_name()
    for directory in directories:
        path = Path(directory).absolute() / name
        try:
            write_atomically(path, data, 0o600)
        except OSError as exc:
            log.error("cannot write the rescue file %s: %s", path, exc)
            continue
        log.error("%d accepted events could not be stored or spooled; they are in %s: "
                  "replay them with `el-monitor forward --input file://%s`",
                  len(capsules), path, path)  # fmt: skip
        return str(path)
    log.error("%d accepted events could not be stored, spooled or written to a file; "
              "they follow on standard error as JSON lines", len(capsules))  # fmt: skip
    sys.stderr.flush()
    sys.stderr.buffer.write(data)
    sys.stderr.buffer.flush()
    return STDERR
