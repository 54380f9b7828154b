"""Append-only JSON-lines logs of every raw event, valid capsule and EventError.

One file per kind and UTC day (``valid-2026-11-28.jsonl``), so that an outage of any later
stage can be backfilled from them; worker 2 of ``forward --workers`` writes
``valid-2026-11-28-w2.jsonl`` beside it (two processes never append to one file).  Files
are buffered and fsynced when the store commits.  Every record is one JSON value on one line;
the ``all`` log holds each raw line as a JSON string (``event.rawlog``), so no client can
forge a line of its own.

The database is the record; these logs are best effort.  When they cannot be written (a full
disk, a read-only or vanished directory, an I/O error, at open, write, flush or fsync) the
forwarder goes on storing events and moving its checkpoint: the failure is logged once when
it starts and once when it ends, every event written since the last good fsync or arriving
meanwhile is counted in ``Counters.not_logged`` (sent to Graphite as ``overall.not_logged``,
which ``check_el_inserted`` turns into a WARNING), and the files are reopened with backoff.
"""

from __future__ import annotations

import datetime
import logging
import os
import re
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import BinaryIO

import orjson

from el_monitor.counts.counters import Counters
from el_monitor.errors import EventError, UserError
from el_monitor.event.jsontext import capsule_json
from el_monitor.event.rawlog import raw_record
from el_monitor.ingest.writer import Backoff

log = logging.getLogger(__name__)

KINDS = ("all", "valid", "invalid")
_NAME = re.compile(
    r"(?P<kind>[a-z]+)-(?P<day>[0-9]{4}-[0-9]{2}-[0-9]{2})(?P<worker>-w[0-9]+)?\.jsonl"
)
_BUFFER = 1 << 20
RETRY_CEILING = 60.0  # longest wait, in seconds, between two attempts to reopen the logs


class EventLogs:
    def __init__(
        self,
        directory: str | os.PathLike,
        counters: Counters | None = None,
        clock: Callable[[], float] = time.monotonic,
        suffix: str = "",
    ) -> None:
        """``suffix`` (``-w2``) follows the day in the file names: one worker's own files."""
        self.directory = Path(directory)
        self.suffix = suffix
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot use log directory {self.directory}: {exc.strerror}") from None
        self.counters = counters or Counters()
        self._clock = clock
        self._day = ""
        self._files: dict[str, BinaryIO] = {}
        self._unsynced = 0  # events given to the all log since its last good fsync
        self._down_since: float | None = None  # when the logs stopped being writable
        self._lost = 0  # events not logged since then
        self._retry = Backoff(ceiling=RETRY_CEILING)

    def roll(self, now: float | None = None) -> None:
        """Switch to the files of the current UTC day when it has changed; while the logs
        cannot be written, reopen them when the backoff allows."""
        day = time.strftime("%Y-%m-%d", time.gmtime(time.time() if now is None else now))
        if self._down_since is not None and not self._files:
            if self._clock() < self._retry.next_attempt:
                return
            self._count_lost()
        elif day == self._day:
            return
        self.close()
        self._day = day
        self._open()

    def path(self, kind: str) -> Path:
        return self.directory / f"{kind}-{self._day}{self.suffix}.jsonl"

    def raw(self, line: bytes) -> None:
        """One JSON record per raw line (``event.rawlog``): a line break it holds is escaped."""
        self._unsynced += 1
        self._write("all", raw_record(line))

    def valid(self, capsule: dict) -> None:
        self._write("valid", capsule_json(capsule))

    def invalid(self, error: EventError) -> None:
        self._write("invalid", orjson.dumps(error.to_record()))

    def _write(self, kind: str, record: bytes) -> None:
        """Append one record; while the logs are down there is no file and nothing to do."""
        handle = self._files.get(kind)
        if handle is not None:
            try:
                handle.write(record + b"\n")
            except OSError as exc:
                self._failed(exc)

    def sync(self) -> None:
        """Make everything written so far durable (before a checkpoint moves past it).

        Never raises: what cannot be made durable is counted as not logged instead."""
        if self._files:
            try:
                for handle in self._files.values():
                    handle.flush()
                    os.fsync(handle.fileno())
            except OSError as exc:
                self._failed(exc)
            else:
                self._unsynced = 0
                if self._down_since is not None:
                    self._recovered()
                self._follow_replaced()
        self._count_lost()

    def _follow_replaced(self) -> None:
        """Reopen a day's file that was replaced or removed under us (``optout purge``
        rewrites logs by rename), so later records land in the file others read."""
        for kind, handle in self._files.items():
            try:
                current = os.stat(self.path(kind)).st_ino
            except FileNotFoundError:
                current = None
            if current != os.fstat(handle.fileno()).st_ino:
                try:
                    self._files[kind] = _open_for_append(self.path(kind))
                except OSError as exc:
                    self._failed(exc)
                    return
                handle.close()

    def close(self) -> None:
        handles, self._files = self._files, {}
        failure = None
        for handle in handles.values():
            try:
                handle.close()  # closed even when its last flush fails
            except OSError as exc:
                failure = exc
        if failure is not None:
            self._failed(failure)
        elif handles:
            self._unsynced = 0  # written and closed: what close could do for them is done
        self._count_lost()

    def _open(self) -> None:
        files: dict[str, BinaryIO] = {}
        try:
            for kind in KINDS:
                files[kind] = _open_for_append(self.path(kind))
        except OSError as exc:
            self._files = files
            self._failed(exc)
            return
        self._files = files

    def _failed(self, exc: OSError) -> None:
        """Stop writing: close what is open, count what may be lost, retry later."""
        handles, self._files = self._files, {}
        for handle in handles.values():
            with suppress(OSError, ValueError):
                handle.close()
        self._retry.failed(self._clock())
        if self._down_since is None:
            self._down_since = self._clock()
            log.error(
                "cannot write the event logs in %s (%s); forwarding to the database goes on, "
                "events are counted as not logged and the logs are retried with backoff",
                self.directory,
                exc.strerror or exc,
            )
        else:
            log.debug("event logs in %s still not writable: %s", self.directory, exc)

    def _count_lost(self) -> None:
        """While the logs are down, events since the last good fsync are lost: count them."""
        if self._down_since is not None and self._unsynced:
            self._lost += self._unsynced
            self.counters.not_logged += self._unsynced
            self._unsynced = 0

    def _recovered(self) -> None:
        assert self._down_since is not None
        log.warning(
            "event logs in %s writable again after %.0f s; %d events were not logged meanwhile",
            self.directory,
            self._clock() - self._down_since,
            self._lost,
        )
        self._down_since = None
        self._lost = 0
        self._retry.succeeded()


def _open_for_append(path: Path) -> BinaryIO:
    """Open a log to append to it, ending a record a failed write left cut short first, so
    the next record starts on a line of its own."""
    handle = open(path, "ab", buffering=_BUFFER)  # noqa: SIM115
    try:
        if handle.tell() > 0:
            with open(path, "rb") as reader:
                reader.seek(-1, os.SEEK_END)
                if reader.read(1) != b"\n":
                    handle.write(b"\n")
                    handle.flush()
    except BaseException:
        with suppress(OSError):
            handle.close()
        raise
    return handle


def log_name(name: str) -> tuple[str, datetime.date] | None:
    """The kind and day of a log file's name (``valid-2026-11-28.jsonl``, or a worker's
    ``valid-2026-11-28-w2.jsonl``); None when it is not named so."""
    named = _NAME.fullmatch(name)
    if named is None:
        return None
    try:
        return named["kind"], datetime.date.fromisoformat(named["day"])
    except ValueError:
        return None


def dated_log_files(directory: str | os.PathLike, kind: str) -> list[tuple[datetime.date, Path]]:
    """The day and path of every ``kind`` file in ``directory`` (every worker's), oldest day
    first; a file whose name has no valid day in it is left out (it is not one of ours)."""
    found = []
    for path in Path(directory).glob(f"{kind}-*.jsonl"):
        named = log_name(path.name)
        if named is not None and named[0] == kind:
            found.append((named[1], path))
    return sorted(found)


def log_files(directory: str | os.PathLike) -> list[Path]:
    """Every day's file of every kind in ``directory`` (what the opt-out purge cleans)."""
    return sorted(path for kind in KINDS for path in Path(directory).glob(f"{kind}-*.jsonl"))
