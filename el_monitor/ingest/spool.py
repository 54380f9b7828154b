"""Batches the database could not take, kept on disk until it can.

One file per batch, written to a temporary name, fsynced and renamed, so a file either holds a
whole batch or does not exist.  Files are drained oldest first and removed only after their
rows are committed; a crash in between replays the file, which the uuid key makes harmless
(and the counts with it: they are committed in the same transaction as the rows).

A file holds the batch's capsules, one per line, after a first line ``{"el_monitor_counts":
{...}}`` with what the forwarder counted for the report since the flush before (files from
before that line existed are read as they are).  Events set aside (their schema is gone from
the registry) go to ``*.orphaned`` files beside, capsules only, which the drain leaves alone.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from el_monitor.atomic import fsync_directory, write_atomically
from el_monitor.errors import UserError
from el_monitor.event.capsule import REQUIRED
from el_monitor.event.jsontext import capsule_lines

log = logging.getLogger(__name__)

COUNTS_KEY = "el_monitor_counts"
ORPHANED = ".orphaned"


class SpooledBatch(NamedTuple):
    path: Path
    capsules: list[dict]
    counts: Any  # the counts record spooled with the batch; None in files from before it


class Spool:
    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(
                f"cannot use spool directory {self.directory}: {exc.strerror}"
            ) from None
        for leftover in self.directory.glob("*.tmp"):  # a batch that never finished writing
            leftover.unlink()
        self._sequence = 0

    def put(self, capsules: list[dict], counts: dict | None = None) -> Path:
        """Write one batch (and the counts that go with it) durably; returns its file."""
        self._sequence += 1
        name = f"{time.time_ns():020d}-{os.getpid()}-{self._sequence:06d}.jsonl"
        final = self.directory / name
        head = orjson.dumps({COUNTS_KEY: counts}) + b"\n" if counts is not None else b""
        write_atomically(final, head + capsule_lines(capsules))
        return final

    def set_aside(self, path: Path, capsules: list[dict]) -> Path:
        """Keep ``capsules`` of the batch ``path`` in ``<name>.orphaned`` (rewritten whole if
        a crash left one), where the drain does not look; returns that file."""
        aside = path.with_suffix(ORPHANED)
        write_atomically(aside, capsule_lines(capsules))
        return aside

    def files(self) -> list[Path]:
        return sorted(self.directory.glob("*.jsonl"))

    def __len__(self) -> int:
        return len(self.files())

    def batches(self) -> Iterator[SpooledBatch]:
        """Spooled batches, oldest first; call ``done`` on each once it is committed.

        A file that cannot be read back is renamed ``*.corrupt`` and logged, not retried: it
        would stop the drain (and every restart) for good.
        """
        for path in self.files():
            try:
                with open(path, "rb") as spooled:
                    capsules = [orjson.loads(line) for line in spooled if line.strip()]
                counts = None
                if capsules and type(capsules[0]) is dict and capsules[0].keys() == {COUNTS_KEY}:
                    counts = capsules.pop(0)[COUNTS_KEY]
                if not all(type(c) is dict and c.keys() >= REQUIRED for c in capsules):
                    raise ValueError("a line is not a capsule")
            except (OSError, ValueError) as exc:
                self._set_aside(path, exc)
                continue
            yield SpooledBatch(path, capsules, counts)

    def _set_aside(self, path: Path, exc: Exception) -> None:
        corrupt = path.with_suffix(".corrupt")
        try:
            path.rename(corrupt)
        except OSError as rename_failed:
            log.error("spooled batch %s is unreadable (%s) and cannot be set aside: %s",
                      path, exc, rename_failed)  # fmt: skip
            return
        log.error("spooled batch %s is unreadable (%s); kept as %s, its events are not stored",
                  path.name, exc, corrupt.name)  # fmt: skip

    def done(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        fsync_directory(self.directory)
