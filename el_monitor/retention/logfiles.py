"""Retention of the forwarder's event logs (``--log-dir``): each day's file deleted,
rewritten or kept as it is.

Files are named by kind and UTC day (``ingest.event_logs``).  Only files of a day that
began before the policy's shortest retention are read; the rest are within every retention.
(A capsule stamped long before the day it was logged, a replay, say, waits for its file's
day: reading every file on every run to find such records would cost more than it saves.)

* ``all`` (raw lines) and ``invalid`` (EventError records quoting them) hold raw text, which
  may hold anything (another schema's fields, a user id in a broken line) and is not
  analytics data: such a file is deleted once its day began before the shortest retention.
* ``valid`` holds capsules of any schema, judged one by one (``retention.records``):
  records within their schema's retention stay byte for byte, those past it are removed or
  sanitized.  A file left with no record is deleted.

A dry run (the default) only reads.  With ``execute`` a rewrite is atomic (``atomic.
rewrite_lines``: a temporary file, fsynced, renamed over the old one) and a failure — a full
disk, a read-only directory, a forwarder still appending — leaves the file as it was and is
reported in the file's result, so one bad file never stops the others.
"""

from __future__ import annotations

import datetime
import logging
import os
from pathlib import Path
from typing import NamedTuple

from el_monitor.atomic import FileGrew, fsync_directory, rewrite_lines
from el_monitor.ingest.event_logs import log_files, log_name
from el_monitor.progress import ProgressSink
from el_monitor.retention.records import (
    DEFAULT_DAYS,
    KEEP,
    REMOVE,
    SANITIZE,
    CapsuleJudge,
    Hasher,
    RulesFor,
    default_rules,
    text_cutoff,
)

log = logging.getLogger(__name__)

DELETE, REWRITE = "delete", "rewrite"  # a file's actions, besides KEEP (as it is)
_BUFFER = 1 << 20
_ONE_DAY = datetime.timedelta(days=1)


class LogFileResult(NamedTuple):
    """What retention does (or, in a dry run, would do) to one file."""

    path: str
    kind: str  # all, valid, invalid
    day: datetime.date
    action: str  # DELETE, REWRITE or KEEP
    records: int  # lines read
    kept: int  # left byte for byte
    removed: int
    sanitized: int
    error: str | None = None  # why it was not done: the file is as it was


class LogCleaning(NamedTuple):
    files: list[LogFileResult]  # every file of a day before the shortest retention
    recent: int  # files within every retention: not read
    executed: bool

    @property
    def failed(self) -> list[LogFileResult]:
        return [result for result in self.files if result.error is not None]


def clean_log_files(
    directory: str | os.PathLike,
    rules: RulesFor,
    hasher: Hasher,
    now: datetime.datetime,
    *,
    default_days: int = DEFAULT_DAYS,
    shortest_days: int = DEFAULT_DAYS,
    execute: bool = False,
    progress: ProgressSink | None = None,
) -> LogCleaning:
    """Apply retention to the logs in ``directory`` as of ``now`` (aware).

    ``rules(schema)`` gives a schema's rules, None for the default: removed after
    ``default_days``.  ``shortest_days`` is the shortest retention any schema has (raw text
    goes then, and newer files are not read).  ``hasher(value, moment)`` hashes the ``hash``
    fields of sanitized capsules."""
    if now.tzinfo is None:
        raise ValueError("clean_log_files: now must be an aware datetime")
    text_before = text_cutoff(now, min(shortest_days, default_days))
    judge = CapsuleJudge(rules, hasher, default_rules(now, default_days), text_before)
    due: list[tuple[Path, str, datetime.datetime]] = []
    recent = 0
    for path in log_files(directory):
        named = log_name(path.name)
        if named is None:
            log.warning("retention: %s is not named kind-YYYY-MM-DD.jsonl; left alone", path)
            continue
        kind, day = named
        start = datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.UTC)
        if start < text_before:
            due.append((path, kind, start))
        else:
            recent += 1
    if progress is not None:
        progress.set_total(len(due))
    results = []
    for path, kind, start in due:
        try:
            result = _plan(path, kind, start, judge)
        except OSError as exc:
            why = f"cannot read it: {exc.strerror or exc}"
            result = LogFileResult(str(path), kind, start.date(), KEEP, 0, 0, 0, 0, why)
        if execute and result.action != KEEP:
            result = result._replace(error=_carry_out(path, result, start, judge))
        results.append(result)
        if progress is not None:
            progress.advance(1, path.name)
    return LogCleaning(results, recent, execute)


def _plan(path: Path, kind: str, start: datetime.datetime, judge: CapsuleJudge) -> LogFileResult:
    day = start.date()
    if kind != "valid":  # raw text, all of it past the shortest retention
        records = _count_lines(path)
        return LogFileResult(str(path), kind, day, DELETE, records, 0, records, 0)
    end = start + _ONE_DAY - datetime.timedelta(seconds=1)
    fates = {KEEP: 0, REMOVE: 0, SANITIZE: 0}
    with open(path, "rb", buffering=_BUFFER) as source:
        for line in source:
            fates[judge.judge(line.rstrip(b"\n"), start, end).fate] += 1
    kept, removed, sanitized = fates[KEEP], fates[REMOVE], fates[SANITIZE]
    if kept + sanitized == 0:
        action = DELETE
    elif removed + sanitized == 0:
        action = KEEP
    else:
        action = REWRITE
    return LogFileResult(
        str(path), kind, day, action, sum(fates.values()), kept, removed, sanitized
    )


def _carry_out(
    path: Path, plan: LogFileResult, start: datetime.datetime, judge: CapsuleJudge
) -> str | None:
    """Do what ``plan`` says; the reason it could not be done, None when it was."""
    try:
        if plan.action == DELETE:
            os.unlink(path)
            fsync_directory(path.parent)
        else:
            end = start + _ONE_DAY - datetime.timedelta(seconds=1)

            def change(_: int, line: bytes) -> bytes | None:
                judged = judge.judge(line.rstrip(b"\n"), start, end)
                if judged.fate == KEEP:
                    return line
                return judged.line + b"\n" if judged.fate == SANITIZE else None

            rewrite_lines(path, change, path.stat().st_size, _BUFFER)
    except FileGrew:
        why = "it grew while it was read (a forwarder still writes it); run again later"
    except OSError as exc:
        why = f"cannot {plan.action} it: {exc.strerror or exc}"
    else:
        log.info(
            "retention: %s %s (%d removed, %d sanitized)",
            plan.action,
            path,
            plan.removed,
            plan.sanitized,
        )
        return None
    log.error("retention: %s left as it was: %s", path, why)
    return why


def _count_lines(path: Path) -> int:
    count = 0
    last = b"\n"
    with open(path, "rb") as source:
        while chunk := source.read(_BUFFER):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")  # a last line cut short counts too
