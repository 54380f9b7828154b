"""The opt-out purge beyond the event tables: the forwarder's event logs and error examples.

Log files (all, valid, invalid: JSON lines) are rewritten without the user's records: a
temporary file beside each, fsynced, renamed over it, so a crash leaves the old file or the
new one, never half of either; a file with nothing to remove is not touched.  A file that grew
while it was read (a forwarder still appends to it) is left as it is and reported: run the
purge again once no forwarder writes it (after the day's roll-over, or with it stopped).

Error examples (``el_monitor_errors.example``) of the user's events are dropped and their
message, which may quote the event's values, replaced; the counts stay.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from el_monitor.atomic import FileGrew, rewrite_lines
from el_monitor.optout.records import RecordMatcher
from el_monitor.store.counts import NO_SCHEMA, clear_examples, scan_examples

if TYPE_CHECKING:
    from el_monitor.store import Store

log = logging.getLogger(__name__)

EXAMPLE_REMOVED = "(example removed: the event was an opted-out user's)"
_READ_BUFFER = 1 << 20


class FilePurge(NamedTuple):
    path: str
    records: int  # lines read
    removed: int  # lines removed, or that would be with dry_run
    busy: bool  # grew while read: left as it was


class ExamplePurge(NamedTuple):
    scanned: int
    cleared: int  # examples removed, or that would be with dry_run


def purge_log_files(
    files: Iterable[Path], matcher: RecordMatcher, *, dry_run: bool = False
) -> list[FilePurge]:
    """Remove the user's records from each log file (``dry_run``: only count them)."""
    return [_purge_file(Path(path), matcher, dry_run) for path in files]


def _purge_file(path: Path, matcher: RecordMatcher, dry_run: bool) -> FilePurge:
    records = 0
    gone: set[int] = set()  # numbers of the lines to remove
    with open(path, "rb", buffering=_READ_BUFFER) as source:
        for records, line in enumerate(source, 1):
            if matcher.log_line_matches(line.rstrip(b"\n")):
                gone.add(records)
        size = source.tell()
    removed = len(gone)
    if not removed or dry_run:
        return FilePurge(str(path), records, removed, False)
    try:
        rewrite_lines(path, lambda n, line: None if n in gone else line, size, _READ_BUFFER)
    except FileGrew:
        log.warning("optout purge: %s grew while it was read; left as it was", path)
        return FilePurge(str(path), records, removed, True)
    return FilePurge(str(path), records, removed, False)


def purge_error_examples(
    store: Store, matcher: RecordMatcher, *, dry_run: bool = False, batch_size: int = 1000
) -> ExamplePurge:
    """Drop the stored error examples that are the user's events, a batch at a time."""
    scanned = cleared = 0
    last = 0
    while True:
        rows = scan_examples(store, last, batch_size)
        if not rows:
            break
        hits = [
            row.key
            for row in rows
            if matcher.matches(row.example, None if row.schema == NO_SCHEMA else row.schema)
        ]
        if hits and not dry_run:
            clear_examples(store, hits, EXAMPLE_REMOVED)
        cleared += len(hits)
        scanned += len(rows)
        last = rows[-1].key
        if len(rows) < batch_size:
            break
    return ExamplePurge(scanned, cleared)
