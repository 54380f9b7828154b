"""The drill log: one record per drill (JSON, beside its text and HTML report), so the next
drill compares itself with the last and ``check_el_drill`` knows when the last one passed.

A record is written whole (a temporary file renamed), named by the drill's kind and start time
(``failover-20260601T120000Z.json``), so the newest file is the last drill.  Phase times are
the RTO: how long each step of the drill took, and their sum over the steps during which the
pipeline could not write.
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple

from el_monitor.atomic import write_atomically
from el_monitor.errors import UserError

DEFAULT_DIR = "el-monitor-drills"  # where drills keep their records, and checks read them
PASSED, ABORTED, FAILED, PLANNED = "passed", "aborted", "failed", "dry-run"
# The phases during which the pipeline cannot write: their sum is the recovery time.
OUTAGE_PHASES = ("fence", "catch-up", "promote", "re-attach", "re-point")


@dataclass(frozen=True)
class Phase:
    """One step of a drill: how long it took, whether it succeeded, and what it found."""

    name: str
    seconds: float
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class ReplicaOutcome:
    """What a failover drill did with one of the other replicas (``--other-replica``)."""

    url: str  # without its password
    outcome: str  # backup.reattach's CHECKED, NOT_MOVED, MOVED, PUT_BACK, LEFT, STRANDED
    detail: str = ""
    canaries_found: int | None = None  # None: not looked for


@dataclass(frozen=True)
class DrillRecord:
    kind: str  # "failover"
    started: str  # ISO 8601, UTC
    finished: str
    outcome: str  # PASSED, ABORTED (failed and rolled back), FAILED, PLANNED
    primary: str  # URLs without passwords
    replica: str
    phases: tuple[Phase, ...] = ()
    canaries_sent: int = 0
    canaries_found: int = 0
    missing: tuple[str, ...] = ()  # canary uuids not on the new primary: the RPO, listed
    rolled_back: tuple[str, ...] = ()  # what an abort undid
    plan: tuple[str, ...] = ()  # the steps, as --dry-run prints them
    notes: tuple[str, ...] = ()
    error: str | None = None
    other_replicas: tuple[ReplicaOutcome, ...] = ()

    @property
    def passed(self) -> bool:
        return self.outcome == PASSED

    @property
    def rpo_events(self) -> int:
        return len(self.missing)

    @property
    def rto_seconds(self) -> float:
        """The time the pipeline could not write: fence to forwarder re-pointed."""
        return sum(p.seconds for p in self.phases if p.name in OUTAGE_PHASES)

    @property
    def started_at(self) -> datetime.datetime:
        return datetime.datetime.fromisoformat(self.started)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=2).encode() + b"\n"

    @classmethod
    def from_json(cls, data: bytes) -> DrillRecord:
        raw = json.loads(data)
        raw["phases"] = tuple(Phase(**p) for p in raw.get("phases", ()))
        raw["other_replicas"] = tuple(ReplicaOutcome(**o) for o in raw.get("other_replicas", ()))
        for key in ("missing", "rolled_back", "plan", "notes"):
            raw[key] = tuple(raw.get(key, ()))
        return cls(**raw)


class PhaseDelta(NamedTuple):
    """A phase of this drill against the same phase of the last one."""

    name: str
    seconds: float
    previous: float | None  # None: the last drill had no such phase

    @property
    def delta(self) -> float | None:
        return None if self.previous is None else self.seconds - self.previous


@dataclass(frozen=True)
class Comparison:
    previous: DrillRecord | None
    phases: tuple[PhaseDelta, ...] = field(default_factory=tuple)


def compare(record: DrillRecord, previous: DrillRecord | None) -> Comparison:
    before = {p.name: p.seconds for p in previous.phases} if previous else {}
    deltas = tuple(PhaseDelta(p.name, p.seconds, before.get(p.name)) for p in record.phases)
    return Comparison(previous, deltas)


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def stem(record: DrillRecord) -> str:
    """``failover-20260601T120000Z``: sorts by start time."""
    return f"{record.kind}-{record.started_at.strftime('%Y%m%dT%H%M%SZ')}"


def records(directory: str | os.PathLike, kind: str) -> list[DrillRecord]:
    """Every readable record of ``kind`` in the log, oldest first (an unreadable file is
    skipped: it may be another tool's, or half of one)."""
    found = []
    for path in sorted(Path(directory).glob(f"{kind}-*.json")):
        try:
            found.append(DrillRecord.from_json(path.read_bytes()))
        except (OSError, ValueError, TypeError, KeyError):
            continue
    return found


def last(directory: str | os.PathLike, kind: str, passed: bool = False) -> DrillRecord | None:
    """The newest real drill (not a dry run) of ``kind``; with ``passed``, the newest that
    passed."""
    drills = [r for r in records(directory, kind) if r.outcome != PLANNED]
    if passed:
        drills = [r for r in drills if r.passed]
    return drills[-1] if drills else None


def keep(
    directory: str | os.PathLike, record: DrillRecord, reports: Sequence[tuple[str, str]]
) -> Path:
    """Write the record (JSON) and its reports (``(suffix, text)``) to the log; returns the
    JSON file."""
    folder = Path(directory)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        base = folder / stem(record)
        for suffix, text in reports:
            write_atomically(base.with_suffix(suffix), text.encode())
        write_atomically(base.with_suffix(".json"), record.to_json())  # last: the record
    except OSError as exc:
        raise UserError(f"cannot write the drill log in {folder}: {exc.strerror}") from None
    return base.with_suffix(".json")
