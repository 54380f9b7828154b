"""Where an interrupted backfill resumes: the file and byte offset past its last committed
batch, and the counts so far, so the final counts are those of the whole run.

A checkpoint is valid for one log directory, window and database (its fingerprint); any
other run starts over, which costs time only: the store skips uuids stored already.  It is
only ever an optimisation, so a checkpoint that cannot be written is warned about once and
the run goes on without one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from el_monitor.atomic import write_atomically
from el_monitor.backup.counts import BackfillCounts

log = logging.getLogger(__name__)

SAVE_SECONDS = 1.0  # a lost checkpoint only means reading this much again
FILE_NAME = ".backfill-checkpoint.json"


class Place(NamedTuple):
    """Where to go on: in file ``name``, from byte ``offset``, which is line ``line``."""

    name: str
    offset: int
    line: int


def fingerprint(log_dir: Path, since: str, until: str, db: str) -> str:
    basis = json.dumps([str(log_dir.resolve()), since, until, db])
    return hashlib.sha256(basis.encode()).hexdigest()


class Checkpoint:
    """A running backfill's place, written at most every ``SAVE_SECONDS``."""

    def __init__(
        self, path: Path, fingerprint: str, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.path = path
        self.fingerprint = fingerprint
        self._clock = clock
        self._saved_at = clock()
        self._pending: tuple[Place, dict] | None = None  # the counts as of the place
        self._broken = False

    def load(self) -> tuple[Place, BackfillCounts] | None:
        """The place and counts an interrupted run of the same fingerprint left; None when
        there is none to trust (said when one is there but not for this run)."""
        try:
            data = json.loads(self.path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("backfill: ignoring unreadable checkpoint %s (%s)", self.path, exc)
            return None
        try:
            if data["fingerprint"] != self.fingerprint:
                log.warning("backfill: checkpoint %s is of another window, log directory or "
                            "database: starting from the beginning", self.path)  # fmt: skip
                return None
            return Place(*data["place"]), BackfillCounts.from_record(data["counts"])
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("backfill: ignoring malformed checkpoint %s (%s)", self.path, exc)
            return None

    def advance(self, place: Place, counts: BackfillCounts) -> None:
        """Everything before ``place`` is committed; saved now if the last save is old."""
        self._pending = (place, counts.record())
        if self._clock() - self._saved_at >= SAVE_SECONDS:
            self.flush()

    def flush(self) -> None:
        if self._pending is None or self._broken:
            return
        place, counts = self._pending
        data = {"fingerprint": self.fingerprint, "place": list(place), "counts": counts}
        try:
            write_atomically(self.path, json.dumps(data).encode())
        except OSError as exc:
            self._broken = True
            log.warning(
                "backfill: cannot write the checkpoint %s (%s); an interrupted run will start "
                "over (harmless, only slower)",
                self.path,
                exc.strerror,
            )
        self._pending = None
        self._saved_at = self._clock()

    def remove(self) -> None:
        """The run is complete: nothing to resume."""
        with contextlib.suppress(OSError):
            self.path.unlink()
