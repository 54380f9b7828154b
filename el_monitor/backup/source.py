"""A dump's id range against the source database now: the one rule ``backup verify`` (for a
manifest) and ``drill restore`` (for the restored table) share.

Rows legitimately change at the source after a dump: retention deletes old rows or sanitizes
them (setting their marker), an opt-out purge deletes a user's rows.  Each of these leaves the
range with fewer rows or more sanitized ones; none adds a row to a range.  So:

* same rows and same sanitized count: the range is still whole, the checksums must agree;
  a difference is CRITICAL (the dump, its manifest or the source was altered);
* fewer rows, or a different sanitized count: the range is no longer whole at the source
  (retention or a purge since the dump): not compared, said as a note (OK);
* more rows at the source than the dump holds: CRITICAL, the dump missed rows (or its
  manifest was edited), which no purge can explain;
* the table gone from the source: a note (dropped since the dump).
"""

from __future__ import annotations

from typing import NamedTuple

from el_monitor.backup.findings import Finding, Level
from el_monitor.store import Store
from el_monitor.store.checksum import IdSpan, range_checksum
from el_monitor.store.dumps import RangeState, sanitized_rows


class Snapshot(NamedTuple):
    """An id range as the dump holds it: rows, sanitized rows, checksum (None: no rows)."""

    rows: int
    sanitized: int
    checksum: int | str | None


def against_source(
    hop: str, table: str, span: IdSpan | None, dumped: Snapshot, source: Store, what: str
) -> Finding:
    """``what`` names the dump side in the text (``the manifest``, ``the restored table``)."""
    if not source.table_exists(table):
        return Finding(hop, Level.OK, f"{table}: no longer at the source (dropped since)")
    ids = "no ids" if span is None else f"ids {span.first}..{span.last}"
    if span is None:
        return Finding(hop, Level.OK, f"{table}: empty when dumped; nothing to compare")
    found = range_checksum(source, table, span.first, span.last)
    now = RangeState(found.rows, sanitized_rows(source, table, span))
    if now.rows > dumped.rows:
        return Finding(
            hop,
            Level.CRITICAL,
            f"{table}: the source holds {now.rows} rows in {ids}, {what} {dumped.rows}: "
            "rows missing from the dump (or its manifest edited)",
        )
    if now.rows < dumped.rows or now.sanitized != dumped.sanitized:
        return Finding(
            hop,
            Level.OK,
            f"{table}: {ids} no longer whole at the source ({dumped.rows - now.rows} rows "
            f"deleted, {now.sanitized - dumped.sanitized} more sanitized since the dump, as "
            "retention and opt-out purges do): not compared",
        )
    if found.checksum != dumped.checksum:
        return Finding(
            hop,
            Level.CRITICAL,
            f"{table}: checksum of {ids} is {found.checksum} at the source, {dumped.checksum} "
            f"in {what} (same {now.rows} rows): the dump, its manifest or the source changed",
        )
    return Finding(hop, Level.OK, f"{table}: {ids} match the source ({now.rows} rows)")
