"""Rollups: a catalog ``aggregate`` rule's counts and percentiles, kept after rows go.

``roll_up`` recomputes, per rule, every period that starts in ``[since, before)``: the caller
(``retention run``) passes its previous cutoff as ``since`` and the new one as ``before``, so a
period is computed while all its rows are there (the one the cutoff cuts is computed whole,
rows after the cutoff included) and never again once some of them are purged or sanitized.
Only periods that have rows are replaced, so a rerun over already-purged days keeps their
rollups.  Every table of the schema that has the dimension columns is read (old revisions
too); a table lacking a measured column counts its events with that value NULL.

Percentiles are PERCENTILE_CONT's: over the n non-NULL values sorted, the p-quantile is
``v[i] + (h - i) * (v[i+1] - v[i])`` with ``h = p * (n - 1)`` and ``i = floor(h)`` (linear
interpolation between closest ranks, as numpy's default and Hive's ``percentile``); NULL when
n is 0.  They are computed here, in Python, from each group's exact value counts, so both
engines give the same numbers: the rows are read in short windows of ids (consistent reads,
no locks) and only the rollup's own write is a transaction.
"""

from __future__ import annotations

import datetime
import logging
import math
import time
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate

from el_monitor.catalog.model import Aggregate, SchemaPolicy
from el_monitor.store.base import Store
from el_monitor.store.mapping import TEXT, StoreError, field_column, schema_of_table
from el_monitor.store.rollups import (
    PERIOD_CHARS,
    RollupRow,
    RollupSource,
    RollupTable,
    column_kind,
    id_span,
    prepare,
    replace_periods,
    rollup_table,
    scan_window,
)

__all__ = ["QUANTILES", "RollupResult", "percentile", "period_window", "roll_up"]

log = logging.getLogger(__name__)

QUANTILES = (0.50, 0.75, 0.95)  # the rollup's p50, p75, p95
# Ids per read: a group's numbers of this many rows stay far below a packet (16 MiB).
WINDOW = 16_384
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


def percentile(values: Sequence[float], cumulative: Sequence[int], quantile: float) -> float:
    """The ``quantile`` of sorted distinct ``values`` whose running counts are
    ``cumulative`` (PERCENTILE_CONT's linear interpolation, see the module's docstring)."""
    h = quantile * (cumulative[-1] - 1)
    low = math.floor(h)
    below = values[bisect_right(cumulative, low)]
    if h == low:
        return below
    above = values[bisect_right(cumulative, low + 1)]
    return below + (h - low) * (above - below)


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
        for column, name in zip(dimensions, found, strict=True):
            kinds[column].add(column_kind(have[name.lower()].sql_type))
        present = tuple(have[m.lower()].name if m.lower() in have else None for m in measured)
        sources.append(RollupSource(table, found, present))
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
    groups = _Groups(len(measured))
    for source in sources:
        _read(store, source, PERIOD_CHARS[rule.period], start, end, window, groups)
    rows = groups.rows()
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


def _read(
    store: Store,
    source: RollupSource,
    period_chars: int,
    start: str,
    end: str,
    window: int,
    groups: _Groups,
) -> None:
    """Every row of ``source`` in [start, end) into ``groups``, a window of ids at a time."""
    span = id_span(store, source.table, start, end)
    if span is None:
        return
    for after in range(span[0] - 1, span[1], window):
        last = min(after + window, span[1])
        groups.add(scan_window(store, source, period_chars, start, end, after, last))


class _Groups:
    """Per (period prefix, *dimension values): the event count and, per measured column, how
    often each value (as text) occurs: exact, and far smaller than the values themselves."""

    def __init__(self, measured: int) -> None:
        self.measured = measured
        self.events: Counter[tuple] = Counter()
        self.values: dict[tuple, list[Counter[str]]] = {}

    @property
    def total(self) -> int:
        return sum(self.events.values())

    def add(self, found: Sequence[tuple]) -> None:
        """Groups as ``scan_window`` gives them: ``(period, *dimensions, rows, numbers)``."""
        k = self.measured
        for row in found:
            key, rows, numbers = row[:-2], int(row[-2]), row[-1]
            self.events[key] += rows
            if not k:
                continue
            if isinstance(numbers, bytes):
                numbers = numbers.decode()
            flat = numbers.replace(";", ",").split(",")  # one C-level split per group
            if len(flat) != rows * k:
                raise StoreError(f"a group's values came back cut ({len(flat)} of {rows * k})")
            counters = self.values.get(key)
            if counters is None:
                counters = self.values[key] = [Counter() for _ in range(k)]
            for i, counter in enumerate(counters):
                counter.update(flat[i::k])

    def rows(self) -> list[RollupRow]:
        out = []
        for key, events in self.events.items():
            measures: list[object] = []
            for counter in self.values.get(key, ()):
                measures += _statistics(counter)
            start = key[0] + _PERIOD_TAIL[len(key[0]) :]
            out.append(RollupRow(start, tuple(key[1:]), events, tuple(measures)))
        return out


def _statistics(counter: Counter[str]) -> list[object]:
    """count, p50, p75, p95 of one group's values (given as text: '' is NULL).  Texts of
    one number ('5', '5.0' from two revisions' tables) sort next to each other, which the
    running counts handle like one value counted twice."""
    counter.pop("", None)
    if not counter:
        return [0, *([None] * len(QUANTILES))]
    numbers = list(map(float, counter))
    counts = list(counter.values())
    order = sorted(range(len(numbers)), key=numbers.__getitem__)
    values = [numbers[i] for i in order]
    cumulative = list(accumulate([counts[i] for i in order]))
    return [cumulative[-1], *(percentile(values, cumulative, q) for q in QUANTILES)]


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
