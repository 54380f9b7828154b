"""The capsules of the forwarder's valid logs, line by line, with where each one is.

Backfill reads the ``valid`` log (``ingest.event_logs``): one capsule per line, exactly as
validated and stored, with the uuid and timestamp the forwarder gave it.  The ``all`` log
would not do: it holds raw lines, and parsing one again gives an event without a timestamp
of its own the time of the second parse (another row, outside the window), and invalid,
sampled-out and opted-out lines would need the whole pipeline again under today's catalog.

A file is named by the UTC day it was written, not by its events' time: the files read for
a window are those of the days from one before ``since`` to one after ``until``, so that a
client clock a day off still finds its events.  (A record logged more days away from its
own time, a replay of old events, was stored by that replay.)
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import orjson

from el_monitor.event.capsule import UUID_HEX
from el_monitor.ingest.event_logs import dated_log_files

VALID = "valid"
_SLACK = datetime.timedelta(days=1)
_BUFFER = 1 << 20


class LogLine(NamedTuple):
    """One line of a valid log: a capsule, or why it is none (``problem``)."""

    path: Path
    number: int  # 1-based line number in its file
    end: int  # byte offset just past the line: where a resumed run starts again
    size: int  # bytes of the line, its newline included
    capsule: dict | None
    problem: str = ""

    @property
    def where(self) -> str:
        return f"{self.path}:{self.number}"


def files_for(directory: str | os.PathLike, since: datetime.datetime, until: datetime.datetime)\
        -> list[Path]:  # fmt: skip
    """The valid logs that may hold events of ``[since, until)`` (aware datetimes)."""
    first, last = (since - _SLACK).date(), (until + _SLACK).date()
    return [path for day, path in dated_log_files(directory, VALID) if first <= day <= last]


def read_lines(path: Path, start: int = 0, first_number: int = 1) -> Iterator[LogLine]:
    """Every line of ``path`` from byte ``start`` (line ``first_number``) on.  A last line
    cut short (no newline: a write cut by a crash) is read and judged like any other."""
    with open(path, "rb", buffering=_BUFFER) as source:
        source.seek(start)
        offset, number = start, first_number
        for line in source:
            offset += len(line)
            capsule, problem = judge_line(line.rstrip(b"\n"))
            yield LogLine(path, number, offset, len(line), capsule, problem)
            number += 1


def judge_line(line: bytes) -> tuple[dict | None, str]:
    """(the capsule, "") or (None, why it is none)."""
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None, "not JSON (cut short?)"
    if not isinstance(value, dict):
        return None, f"not a JSON object but {type(value).__name__}"
    missing = [key for key, kind in _SHAPE if not isinstance(value.get(key), kind)]
    if missing:
        return None, f"not a capsule: no valid {', '.join(missing)}"
    if isinstance(value["timestamp"], bool) or not UUID_HEX.fullmatch(value["uuid"]):
        return None, "not a capsule: bad uuid or timestamp"
    return value, ""


_SHAPE = (
    ("schema", str),
    ("revision", str),
    ("wiki", str),
    ("uuid", str),
    ("timestamp", int),
    ("event", dict),
)
