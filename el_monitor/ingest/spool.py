"""Batches the database could not take, kept on disk until it can.

One file per batch, written to a temporary name, fsynced and renamed, so a file either holds a
whole batch or does not exist.  Files are drained oldest first and removed only after their
rows are committed; a crash in between replays the file, which the uuid key makes harmless.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import orjson

from el_monitor.atomic import fsync_directory, write_atomically
from el_monitor.errors import UserError


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

    def put(self, capsules: list[dict]) -> Path:
        """Write one batch durably; returns its file."""
        self._sequence += 1
        name = f"{time.time_ns():020d}-{os.getpid()}-{self._sequence:06d}.jsonl"
        final = self.directory / name
        write_atomically(final, b"".join(orjson.dumps(c) + b"\n" for c in capsules))
        return final

    def files(self) -> list[Path]:
        return sorted(self.directory.glob("*.jsonl"))

    def __len__(self) -> int:
        return len(self.files())

    def batches(self) -> Iterator[tuple[Path, list[dict]]]:
        """Spooled batches, oldest first; call ``done`` on each once it is committed."""
        for path in self.files():
            with open(path, "rb") as spooled:
                yield path, [orjson.loads(line) for line in spooled if line.strip()]

    def done(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        fsync_directory(self.directory)
