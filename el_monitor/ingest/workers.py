"""What tells the workers of ``forward --workers N`` apart: names and directories, in one place.

Each worker is a whole forwarder with its own pipeline, store connection and counts, so what it
writes must not collide with its siblings': its instance (a Graphite node and a key of the
report's counts, which are summed over instances), its spool directory (a spool is drained by
one process: two would add the same counts twice) and its event log files (two processes
appending buffered records to one file would interleave them).  Worker 1 keeps the names a
single forwarder has, so going from one process to several keeps its metrics, spool and HTTP
journal; worker k ≥ 2 adds ``-wk`` to the instance and the log names, and spools in
``<spool>/wk``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from el_monitor.errors import UserError
from el_monitor.event.names import short_hostname
from el_monitor.ingest.sources.http import JOURNAL_DIR

INSTANCE_LENGTH = 63  # the counts tables' instance column


@dataclass(frozen=True)
class Worker:
    """Worker ``number`` (1-based) of a forwarder started with ``--workers``."""

    number: int

    @property
    def suffix(self) -> str:
        """``-wN`` after its instance and its log files' day; "" for worker 1."""
        return "" if self.number == 1 else f"-w{self.number}"

    def instance(self, instance: str) -> str:
        """Its name in Graphite and the counts tables, ``instance`` being the forwarder's
        (``--instance``; "" for the short host name, which worker 1 leaves to the default)."""
        if not self.suffix:
            return instance
        base = instance or short_hostname()
        if len(base) + len(self.suffix) > INSTANCE_LENGTH:
            raise UserError(
                f"instance {base!r} is too long for worker names such as {base}{self.suffix} "
                f"({INSTANCE_LENGTH} characters at most): give a shorter --instance"
            )
        return base + self.suffix

    def spool_dir(self, spool_dir: str | None) -> str | None:
        """Its spool (and HTTP journal) directory under ``--spool-dir``."""
        if spool_dir is None or self.number == 1:
            return spool_dir
        return os.path.join(spool_dir, f"w{self.number}")


def stranded_spools(spool_dir: str | None, workers: int) -> list[Path]:
    """Spool directories of workers beyond ``workers`` that still hold batches or journal
    segments (a run with more workers left them): nobody will drain them in this run."""
    if spool_dir is None or not os.path.isdir(spool_dir):
        return []
    stranded = []
    for entry in sorted(Path(spool_dir).glob("w*")):
        number = entry.name[1:]
        if not (entry.is_dir() and number.isdigit() and int(number) > workers):
            continue
        if any(entry.glob("*.jsonl")) or any(entry.glob(f"{JOURNAL_DIR}/*.wal")):
            stranded.append(entry)
    return stranded
