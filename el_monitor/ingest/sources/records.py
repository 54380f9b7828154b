"""Replaying an ``all`` log: a source wrapper that hands on the raw line each record holds.

``--log-dir`` writes every raw line as a JSON record (``event.rawlog``), so a line break a
client slipped into a line stays inside its record.  Backfilling from the log reads it with
any source (a file, stdin) and this wrapper, then parses the lines with the format they
arrived in.  A line that is no record (a last line torn by a crash, a log written before
records were JSON) is skipped with a warning, never taken for an event.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence

from el_monitor.event.rawlog import line_of_record
from el_monitor.ingest.sources.base import Chunk, Source

logger = logging.getLogger(__name__)

REPORTED_SKIPS = 5
"""Skipped lines shown one by one; past that only their number, when the source closes."""
RECORD_BYTES_PER_LINE_BYTE = 6
"""At most this many record bytes per raw byte (a control character is written ``\\u00XX``):
the line limit a source reading records needs, so no record is cut."""


class AllLogRecords:
    """``source``'s lines are all-log records; its chunks carry the raw lines instead."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.name = source.name
        self.skipped = 0

    def chunks(self, stop: threading.Event) -> Iterator[Chunk]:
        for chunk in self.source.chunks(stop):
            if chunk.lines:
                lines, uuids = self._lines(chunk.lines, chunk.uuids)
                chunk = chunk._replace(lines=lines, uuids=uuids)
            yield chunk

    def _lines(
        self, records: list[bytes], uuids: Sequence[str] | None
    ) -> tuple[list[bytes], list[str] | None]:
        """The raw lines of ``records``, and the ``uuids`` of those kept, if any."""
        lines: list[bytes] = []
        kept: list[int] = []
        for index, record in enumerate(records):
            line = line_of_record(record)
            if line is not None:
                lines.append(line)
                kept.append(index)
                continue
            self.skipped += 1
            if self.skipped <= REPORTED_SKIPS:
                logger.warning(
                    "%s: skipped a line that is not an all-log record (torn by a crash, or "
                    "from a log written before records were JSON): %r",
                    self.name,
                    record[:80],
                )
        return lines, None if uuids is None else [uuids[index] for index in kept]

    def commit(self, position: object) -> None:
        self.source.commit(position)

    def close(self) -> None:
        if self.skipped > REPORTED_SKIPS:
            logger.warning(
                "%s: skipped %d lines in all that were not all-log records",
                self.name,
                self.skipped,
            )
        self.source.close()
