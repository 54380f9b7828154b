"""Store again the events of a time window from the forwarder's valid logs (after an outage).

Capsules go through the forwarder's own writer (``ingest.writer.StoreWriter``): rows built
against each table's real layout, one transaction per batch, uuids already stored skipped and
compared (a replay is "already present", another event reusing a uuid is reported), rows a
table refuses reported with the reason, and the counts tables given what was added, in the
events' own hours, as instance ``backfill`` (what was stored already was counted then).
A dry run reads the same lines and asks the tables which uuids they hold, writing nothing.

Progress is the bytes of the files read.  After each committed batch the place is kept in a
checkpoint, so an interrupted run resumes there with its counts; a complete run removes it.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from el_monitor.backup.checkpoint import Checkpoint, Place
from el_monitor.backup.counts import BackfillCounts
from el_monitor.backup.gate import Gate
from el_monitor.backup.logreader import LogLine, read_lines
from el_monitor.counts.counters import Counters
from el_monitor.errors import DUPLICATE, STORE, EventError, SchemaError
from el_monitor.ingest.writer import StoreWriter
from el_monitor.measures import OVERALL
from el_monitor.progress import ProgressSink
from el_monitor.schema.registry import SchemaRegistry
from el_monitor.store import Store, StoreError
from el_monitor.store.duplicates import split_stored, stored_rows
from el_monitor.store.mapping import table_name

log = logging.getLogger(__name__)

INSTANCE = "backfill"  # who added the rows, in the counts tables
_REASON_CHARS = 200


@dataclass(frozen=True)
class BackfillSettings:
    files: tuple[Path, ...]  # the valid logs to read, oldest first (``logreader.files_for``)
    batch_size: int = 5000
    dry_run: bool = False


class Backfill:
    """One run over ``settings.files``; ``run`` returns the counts (raises StoreUnavailable
    when the database goes away, with the checkpoint at the last committed batch)."""

    def __init__(
        self,
        store: Store,
        registry: SchemaRegistry,
        gate: Gate,
        settings: BackfillSettings,
        checkpoint: Checkpoint | None = None,
        progress: ProgressSink | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.gate = gate
        self.settings = settings
        self.checkpoint = None if settings.dry_run else checkpoint  # a dry run keeps no place
        self.progress = progress
        self.counts = BackfillCounts()
        self._counters = Counters()
        self.writer = StoreWriter(store, registry, self._counters, self._refused,
                                  instance=INSTANCE, count_replays=False)  # fmt: skip
        self.writer.set_sample_rates(None)  # the rate in force when they were taken in stays

    def run(self) -> BackfillCounts:
        resume = None
        if self.checkpoint is not None:
            resume = self.checkpoint.load()
        files = list(self.settings.files)
        place = Place(files[0].name, 0, 1) if files else None
        if resume is not None and any(path.name == resume[0].name for path in files):
            place, self.counts = resume
            files = files[[path.name for path in files].index(place.name) :]
            log.info("backfill: resuming at %s line %d", place.name, place.line)
        if self.progress is not None:
            start = place.offset if place is not None else 0
            self.progress.set_total(sum(_size(path) for path in files) - start)
        try:
            for path in files:
                assert place is not None
                start, first = (place.offset, place.line) if path.name == place.name else (0, 1)
                self._file(path, start, first)
        except BaseException:  # the database went away, an interrupt: keep what is committed
            if self.checkpoint is not None:
                self.checkpoint.flush()
            raise
        if self.checkpoint is not None:
            self.checkpoint.remove()
        return self.counts

    def _file(self, path: Path, start: int, first: int) -> None:
        batch: list[dict] = []
        done = 0  # bytes read since the progress was last told
        last: LogLine | None = None
        for line in read_lines(path, start, first):
            last, done = line, done + line.size
            self.counts.read += 1
            capsule = line.capsule
            if capsule is None:
                self.counts.unreadable_line(line.where, line.problem)
                continue
            reason = self.gate.reason(capsule)
            if reason is not None:
                self.counts.count(reason)
                continue
            batch.append(capsule)
            if len(batch) >= self.settings.batch_size:
                self._commit(batch, line)
                batch = []
                done = self._advance(done, path)
        if last is not None:
            self._commit(batch, last)
            self._advance(done, path)
        if self.checkpoint is not None:
            self.checkpoint.flush()

    def _advance(self, done: int, path: Path) -> int:
        if self.progress is not None and done:
            self.progress.advance(done, path.name)
        return 0

    def _commit(self, batch: list[dict], last: LogLine) -> None:
        """Store ``batch`` (or count it, in a dry run); the lines up to ``last`` are done."""
        if batch and self.settings.dry_run:
            self._dry_run(batch)
        elif batch:
            before = self._counters.snapshot()
            for capsule in batch:
                self.writer.add(capsule)
            self.writer.commit_now()
            after = self._counters.snapshot()
            for measure, name in (("inserted", "inserted"), ("duplicate", "already_present")):
                self.counts.count(name, after.get(OVERALL, measure) - before.get(OVERALL, measure))
        if self.checkpoint is not None:
            self.checkpoint.advance(Place(last.path.name, last.end, last.number + 1), self.counts)

    def _refused(self, error: EventError) -> None:
        """The writer's report of an event it did not store (other than a plain replay)."""
        if error.code == DUPLICATE:
            self.counts.differing += 1  # counted already_present with the writer's duplicates
            return
        self.counts.refused += 1
        self.counts.refusals[
            f"{error.schema}/{error.revision}: {error.message}"[:_REASON_CHARS]
        ] += 1

    def _dry_run(self, batch: list[dict]) -> None:
        """What storing ``batch`` would do, from the tables as they are: nothing written."""
        groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
        for capsule in batch:
            groups[(capsule["schema"], capsule["revision"])].append(capsule)
        for (schema, revision), group in groups.items():
            try:
                compiled = self.registry.get(schema, revision)
                if compiled is None:
                    raise StoreError(f"schema {schema}/{revision} is not in the registry")
                if not self.store.table_exists(table_name(schema, revision)):
                    self.counts.inserted += len(group)  # its table would be created
                    continue
                layout = self.store.layout(schema, revision, compiled.schema)
            except (StoreError, SchemaError) as exc:
                for _ in group:
                    self._refused(EventError("", str(exc), STORE, schema, revision))
                continue
            built = layout.rows(group)
            for _, message in built.refused:
                self._refused(EventError("", message, STORE, schema, revision))
            stored = stored_rows(self.store.query, self.store.dialect, layout,
                                 [str(row[0]) for row in built.rows])  # fmt: skip
            new, duplicates = split_stored(layout, built.rows, stored)
            self.counts.inserted += len(new)
            self.counts.already_present += len(duplicates)
            self.counts.differing += sum(1 for d in duplicates if d.differs)


def _size(path: Path) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
