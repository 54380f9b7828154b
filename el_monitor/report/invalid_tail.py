"""Following the forwarder's invalid log as it grows, like ``tail -f``, across its daily files.

The forwarder appends EventError records to ``invalid-YYYY-MM-DD.jsonl`` (``ingest.event_logs``)
and starts a new file at each UTC day.  A follower starts at the end of the newest file,
hands out each complete line once, finishes the old file when a newer one appears, and starts
over on a file that was replaced or truncated (retention cleans these logs in place).
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson

from el_monitor.ingest.event_logs import dated_log_files

__all__ = ["InvalidLogTail"]

INVALID = "invalid"
READ_LIMIT = 1 << 20  # bytes read per file per poll


class InvalidLogTail:
    """``poll()`` returns the records appended since the last call (the first call: none)."""

    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = Path(directory)
        self._path: Path | None = None
        self._inode = 0
        self._offset = 0
        self._partial = b""
        newest = self._newest()
        if newest is not None:
            self._open(newest, at_end=True)

    def poll(self) -> list[object]:
        records: list[object] = []
        newest = self._newest()
        if newest is None:
            return records
        if self._path is None:
            self._open(newest, at_end=False)
        elif newest != self._path:
            records += self._read()  # what the old day's file got before the new one began
            self._open(newest, at_end=False)
        records += self._read()
        return records

    def _newest(self) -> Path | None:
        files = dated_log_files(self.directory, INVALID)
        return files[-1][1] if files else None

    def _open(self, path: Path, at_end: bool) -> None:
        self._path, self._partial = path, b""
        try:
            status = path.stat()
        except FileNotFoundError:
            self._inode, self._offset = 0, 0
            return
        self._inode, self._offset = status.st_ino, status.st_size if at_end else 0

    def _read(self) -> list[object]:
        assert self._path is not None
        try:
            with open(self._path, "rb") as handle:
                status = os.fstat(handle.fileno())
                if status.st_ino != self._inode or status.st_size < self._offset:
                    self._inode, self._offset, self._partial = status.st_ino, 0, b""
                handle.seek(self._offset)
                data = handle.read(READ_LIMIT)
        except FileNotFoundError:
            return []
        self._offset += len(data)
        *lines, self._partial = (self._partial + data).split(b"\n")
        out: list[object] = []
        for line in lines:
            try:
                out.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                continue  # not a record of ours (a line cut by a crash)
        return out
