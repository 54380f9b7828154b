"""Rollups: a catalog ``aggregate`` rule's counts and percentiles, kept after rows go.

``roll_up`` recomputes, per rule, every period that starts in ``[since, before)``: the caller
(``retention run``) passes its previous cutoff as ``since`` and the new one as ``before``, so a
period is computed while all its rows are there (the one the cutoff cuts is computed whole,
rows after the cutoff included) and never again once some of them are purged or sanitized.
Only periods that have rows are replaced, so a rerun over already-purged days keeps their
rollups.  Every table of the schema that has the dimension columns is read (old revisions
too); a table lacking a measured column counts its events with that value NULL.

Percentiles are PERCENTILE_CONT's (``rollup_groups``), computed here from each group's exact
values, so both engines give the same numbers: the rows are read in short windows of ids
(``rollup_read``, ``store.rollup_scan``: consistent reads, no locks, two at a time) and only
the rollup's own write is a transaction.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from el_monitor.catalog.model import Aggregate, SchemaPolicy
from el_monitor.retention.rollup_groups import QUANTILES, Groups, percentile
from el_monitor.retention.rollup_read import windows
from el_monitor.store.base import Store
from el_monitor.store.mapping import TEXT, field_column, schema_of_table
from el_monitor.store.rollup_scan import RollupSource, Window, decode_key
from el_monitor.store.rollups import (
    PERIOD_CHARS,
    RollupRow,
    RollupTable,
    column_kind,
    prepare,
    replace_periods,
    rollup_table,
)

__all__ = ["QUANTILES", "RollupResult", "percentile", "period_window", "roll_up"]

log = logging.getLogger(__name__)

# Ids per read: their texts stay far below what a server gives back (16 MiB), a window
# that does not is read in halves.
WINDOW = 32_768
_PERIOD_TAIL = "00000101000000"  # what follows a period's prefix in its start timestamp


@dataclass(frozen=True)
class RollupResult:
    """What one rule's roll-up did."""

    schema: str
    rule: str
    table: str  # the rollup table
    periods: tuple[str, ...]  # period starts replaced (YYYYMMDDHHMMSS), those with rows
    groups: int  # rollup rows written
    events: int  # event rows read
    sources: tuple[str, ...]  # event tables read
    skipped: tuple[str, ...]  # the schema's tables without every dimension column
    seconds: float


def roll_up(
    store: Store,
    policy: SchemaPolicy,
    before: datetime.datetime,
    since: datetime.datetime | None = None,
    tables: Iterable[str] | None = None,
    window: int = WINDOW,
) -> list[RollupResult]:
    """Recompute each of ``policy.aggregate``'s rules for the periods starting in
    ``[since, before)`` (from the oldest row when ``since`` is None), over ``tables`` (by
    default every table of the database that ``schema_of_table`` gives to the schema)."""
    if tables is None:
        tables = [t for t in store.tables() if schema_of_table(t, [policy.name])]
    names = sorted(tables)
    return [_roll_up_rule(store, policy.name, rule, names, since, before, window)
            for rule in policy.aggregate]  # fmt: skip


def period_window(
    period: str, since: datetime.datetime | None, before: datetime.datetime
) -> tuple[str, str]:
    """``(start, end)`` timestamps of the rows of the periods starting in [since, before)."""
    start = "" if since is None else _timestamp(_next_start(since, period))
    return start, _timestamp(_next_start(before, period))


def _roll_up_rule(
    store: Store,
    schema: str,
    rule: Aggregate,
    tables: Sequence[str],
    since: datetime.datetime | None,
    before: datetime.datetime,
    window: int,
) -> RollupResult:
    started = time.perf_counter()
    dimensions = [field_column(name) for name in rule.dimensions]
    measured = tuple(field_column(name) for name in rule.percentiles)
    sources, skipped = [], []
    kinds: dict[str, set[str]] = {column: set() for column in dimensions}
    for table in tables:
        have = {column.name.lower(): column for column in store.columns(table)}
        if not all(column.lower() in have for column in dimensions):
            skipped.append(table)
            continue
        found = tuple(have[column.lower()].name for column in dimensions)
        found_kinds = tuple(column_kind(have[name.lower()].sql_type) for name in found)
        for column, kind in zip(dimensions, found_kinds, strict=True):
            kinds[column].add(kind)
        present = tuple(have[m.lower()].name if m.lower() in have else None for m in measured)
        sources.append(RollupSource(table, found, found_kinds, present))
    name = rollup_table(schema, rule.name)
    if not sources:
        log.warning("rollup %s: no table of %s has columns %s", name, schema, dimensions)
        return RollupResult(schema, rule.name, name, (), 0, 0, (), tuple(skipped), 0.0)
    rollup = RollupTable(
        name,
        tuple((c, next(iter(k)) if len(k) == 1 else TEXT) for c, k in kinds.items()),
        measured,
    )
    start, end = period_window(rule.period, since, before)
    groups = Groups(len(measured))
    for source in sources:
        _count(
            groups, source, windows(store, source, PERIOD_CHARS[rule.period], start, end, window)
        )
    rows = _rows(groups)
    periods = sorted({row.period_start for row in rows})
    prepare(store, rollup)
    replace_periods(store, rollup, periods, rows)
    seconds = time.perf_counter() - started
    log.info("rollup %s: %d periods, %d groups from %d rows in %.1f s",
             name, len(periods), len(rows), groups.total, seconds)  # fmt: skip
    return RollupResult(
        schema, rule.name, name, tuple(periods), len(rows), groups.total,
        tuple(s.table for s in sources), tuple(skipped), seconds,
    )  # fmt: skip


def _count(groups: Groups, source: RollupSource, found: Iterable[Window]) -> None:
    """The rows of a source's windows into ``groups``, each group text decoded once."""
    ids: dict[str, int] = {}  # a group text of this source → its group
    for rows in found:
        for text in set(rows.keys).difference(ids):
            ids[text] = groups.group(decode_key(text, source.kinds))
        groups.add(np.fromiter(map(ids.__getitem__, rows.keys), np.intp, rows.rows), rows)


def _rows(groups: Groups) -> list[RollupRow]:
    out = []
    for group, key in enumerate(groups.keys):
        events, measures = groups.statistics(group)
        start = key[0] + _PERIOD_TAIL[len(key[0]) :]
        out.append(RollupRow(start, tuple(key[1:]), events, tuple(measures)))
    return out


def _next_start(moment: datetime.datetime, period: str) -> datetime.datetime:
    """The start of the first period that begins at or after ``moment`` (UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.UTC).replace(tzinfo=None)
    if period == "hour":
        floor = moment.replace(minute=0, second=0, microsecond=0)
        step = datetime.timedelta(hours=1)
    elif period == "day":
        floor = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        step = datetime.timedelta(days=1)
    else:  # month
        floor = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        step = datetime.timedelta(days=32)
    if floor == moment:
        return floor
    following = floor + step
    return following.replace(day=1) if period == "month" else following


def _timestamp(moment: datetime.datetime) -> str:
    return moment.strftime("%Y%m%d%H%M%S")
