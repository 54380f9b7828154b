"""Append-only JSON-lines logs of every raw event, valid capsule and EventError.

One file per kind and UTC day (``valid-2026-11-28.jsonl``), so that an outage of any later
stage can be backfilled from them.  Files are buffered and fsynced when the store commits.
Every record is one JSON value on one line; the ``all`` log holds each raw line as a JSON
string (``event.rawlog``), so no client can forge a line of its own.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import BinaryIO

import orjson

from el_monitor.errors import EventError, UserError
from el_monitor.event.jsontext import capsule_json
from el_monitor.event.rawlog import raw_record

KINDS = ("all", "valid", "invalid")
_BUFFER = 1 << 20


class EventLogs:
    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot use log directory {self.directory}: {exc.strerror}") from None
        self._day = ""
        self._files: dict[str, BinaryIO] = {}

    def roll(self, now: float | None = None) -> None:
        """Switch to the files of the current UTC day when it has changed."""
        day = time.strftime("%Y-%m-%d", time.gmtime(time.time() if now is None else now))
        if day != self._day:
            self.close()
            self._day = day
            self._files = {
                kind: open(self.directory / f"{kind}-{day}.jsonl", "ab", buffering=_BUFFER)  # noqa: SIM115
                for kind in KINDS
            }

    def path(self, kind: str) -> Path:
        return self.directory / f"{kind}-{self._day}.jsonl"

    def raw(self, line: bytes) -> None:
        """One JSON record per raw line (``event.rawlog``): a line break it holds is escaped."""
        self._files["all"].write(raw_record(line) + b"\n")

    def valid(self, capsule: dict) -> None:
        self._files["valid"].write(capsule_json(capsule) + b"\n")

    def invalid(self, error: EventError) -> None:
        self._files["invalid"].write(orjson.dumps(error.to_record()) + b"\n")

    def sync(self) -> None:
        """Make everything written so far durable (before a checkpoint moves past it)."""
        for handle in self._files.values():
            handle.flush()
            os.fsync(handle.fileno())

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()
        self._files = {}


def log_files(directory: str | os.PathLike) -> list[Path]:
    """Every day's file of every kind in ``directory`` (what the opt-out purge cleans)."""
    return sorted(path for kind in KINDS for path in Path(directory).glob(f"{kind}-*.jsonl"))
