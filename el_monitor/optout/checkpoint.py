"""Where an interrupted purge resumes: the last id done per table, in a file beside the list.

A checkpoint is valid for one fingerprint (database, list, secret and the columns checked):
one written against another database or an older list would skip rows never checked against
the current list, so any difference means starting over.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from el_monitor.optout.listfile import replace_file

log = logging.getLogger(__name__)

CHECKPOINT_SECONDS = 1.0  # a lost checkpoint only means re-scanning this much


def checkpoint_path(optout_path: str | os.PathLike[str]) -> Path:
    """Where an interrupted purge keeps its place: next to the opt-out list."""
    path = Path(optout_path)
    return path.with_name(path.name + ".purge-checkpoint")


def fingerprint(
    secret: bytes,
    db_url: str,
    hashes: frozenset[str],
    tables: Iterable[tuple[str, Sequence[str]]],
) -> str:
    """What a checkpoint is valid for: the database, the list, the secret and, per table,
    the columns checked.  Keyed, so the file reveals nothing about the URL or the list."""
    basis = json.dumps(
        {
            "db": db_url,
            "hashes": sorted(hashes),
            "tables": [[table, columns] for table, columns in tables],
        }
    )
    return hmac.new(secret, basis.encode(), hashlib.sha256).hexdigest()


def load_checkpoint(path: Path, fingerprint: str) -> dict[str, int]:
    """table → last id done, as saved by an interrupted run; empty when there is none to
    trust (missing, unreadable, or written for another fingerprint)."""
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("optout purge: ignoring unreadable checkpoint %s (%s)", path, exc)
        return {}
    if not isinstance(data, dict) or data.get("fingerprint") != fingerprint:
        log.warning(
            "optout purge: checkpoint %s is for another database, list or catalog: starting over",
            path,
        )
        return {}
    tables = data.get("tables")
    if not isinstance(tables, dict):
        return {}
    return {k: v for k, v in tables.items() if isinstance(k, str) and isinstance(v, int)}


class Checkpoint:
    """A running purge's place, written at most every ``CHECKPOINT_SECONDS``.

    ``done`` (table → last id done) starts as loaded and moves with ``advance``; ``flush``
    writes what the last timed write missed, so an interrupted run keeps all it committed.
    """

    def __init__(
        self,
        path: Path,
        fingerprint: str,
        done: dict[str, int],
        clock: Callable[[], float],
    ) -> None:
        self.path = path
        self.fingerprint = fingerprint
        self.done = done
        self._clock = clock
        self._saved_at = clock()
        self._dirty = False

    def advance(self, table: str, last_id: int) -> None:
        """Rows of ``table`` up to ``last_id`` are done (deletes committed)."""
        self.done[table] = last_id
        self._dirty = True
        if self._clock() - self._saved_at >= CHECKPOINT_SECONDS:
            self._write()
            self._saved_at, self._dirty = self._clock(), False

    def flush(self) -> None:
        """Write progress made since the last write, if any."""
        if self._dirty:
            self._write()

    def remove(self) -> None:
        """The purge finished: nothing to resume."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _write(self) -> None:
        data = json.dumps({"fingerprint": self.fingerprint, "tables": self.done}, indent=1)
        replace_file(self.path, data.encode())
