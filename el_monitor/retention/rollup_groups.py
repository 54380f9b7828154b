"""A rollup's groups as windows of rows arrive: event counts and exact percentiles, in numpy.

Windows' values are kept as they come; when percentiles are asked for, or earlier when the
values kept exceed a budget (a backlog of many periods), they are folded into each group's
distinct values and their counts per measured column: one stable argsort of all the rows
by group, then per group one in-place ``sort`` of all its columns (NULLs as NaN sorting
last) and a few passes over the whole group.  Memory stays bounded by the distinct values,
as a ``Counter`` per column would, at a fraction of its size.

Percentiles are PERCENTILE_CONT's: over the n non-NULL values sorted, the p-quantile is
``v[i] + (h - i) * (v[i+1] - v[i])`` with ``h = p * (n - 1)`` and ``i = floor(h)`` (linear
interpolation between closest ranks, as numpy's default and Hive's ``percentile``), worked
out in Python floats from the two values at those ranks; NULL when n is 0.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from el_monitor.store.rollup_scan import Window

__all__ = ["QUANTILES", "Groups", "percentile"]

QUANTILES = (0.50, 0.75, 0.95)  # the rollup's p50, p75, p95
# Values kept as blocks before they are folded into distinct values (8 bytes each).
BLOCK_BUDGET = 1 << 25  # 256 MiB: a day of 1M rows and 19 fields is one fold

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Folded = list[tuple[Floats, Ints]]  # per measured column: values, counts


def percentile(values: Sequence[float], cumulative: Sequence[int], quantile: float) -> float:
    """The ``quantile`` of sorted distinct ``values`` whose running counts are
    ``cumulative`` (PERCENTILE_CONT's linear interpolation, see the module's docstring)."""
    return _interpolate(
        lambda rank: values[bisect_right(cumulative, rank)], cumulative[-1], quantile
    )


def _interpolate(at_rank: Callable[[int], float], n: int, quantile: float) -> float:
    """The ``quantile`` of n sorted values, ``at_rank(i)`` giving the i-th (from 0)."""
    h = quantile * (n - 1)
    low = math.floor(h)
    below = float(at_rank(low))
    if h == low:
        return below
    above = float(at_rank(low + 1))
    return below + (h - low) * (above - below)


class Groups:
    """Per group (a key such as ``(period, *dimension values)``): its events, and per
    measured column the count and percentiles of its non-NULL values."""

    def __init__(self, measured: int, budget: int = BLOCK_BUDGET) -> None:
        self.measured = measured
        self.budget = budget
        self.keys: list[tuple[Any, ...]] = []
        self._ids: dict[tuple[Any, ...], int] = {}
        self._events = np.zeros(0, dtype=np.int64)
        self._windows: list[tuple[npt.NDArray[np.intp], Floats]] = []  # not folded yet
        self._kept = 0  # values in _windows
        self._folded: dict[int, Folded] = {}

    @property
    def total(self) -> int:
        return int(self._events.sum())

    def group(self, key: tuple[Any, ...]) -> int:
        """The id of ``key``'s group, a new one the first time."""
        found = self._ids.get(key)
        if found is None:
            found = self._ids[key] = len(self.keys)
            self.keys.append(key)
        return found

    def add(self, ids: npt.NDArray[np.intp], window: Window) -> None:
        """A window's rows, ``ids`` giving each row's group."""
        if not window.rows:
            return
        counts = np.bincount(ids, minlength=len(self.keys))
        if len(self._events) < len(counts):
            self._events = np.pad(self._events, (0, len(counts) - len(self._events)))
        self._events[: len(counts)] += counts
        if window.values is None or not self.measured:
            return
        self._windows.append((ids, window.values))
        self._kept += window.values.size
        if self._kept > self.budget:
            self._fold()

    def statistics(self, group: int) -> tuple[int, list[object]]:
        """A group's events and, per measured column, count, p50, p75, p95."""
        events = int(self._events[group])
        if not self.measured:
            return events, []
        self._fold()
        measures: list[object] = []
        for values, counts in self._folded.get(group) or _nothing(self.measured):
            cumulative = np.cumsum(counts)
            n = int(cumulative[-1]) if len(cumulative) else 0
            measures += _statistics(n, _ranked(values, cumulative))
        return events, measures

    def _fold(self) -> None:
        """Move the windows' values into each group's distinct values and their counts:
        one argsort by group of all the rows, then one sort per group of all its columns."""
        if not self._windows:
            return
        ids = np.concatenate([ids for ids, _ in self._windows])
        order = np.argsort(ids, kind="stable")
        ids = ids[order]
        table = np.take(np.concatenate([values for _, values in self._windows]), order, axis=0)
        self._windows, self._kept = [], 0
        starts = np.flatnonzero(np.diff(ids)) + 1
        bounds = [0, *starts.tolist(), len(ids)]
        for low, high in zip(bounds[:-1], bounds[1:], strict=True):
            part = table[low:high]  # the group's rows
            part.sort(axis=0)  # each column; NaN (NULL) last
            folded = _distinct(part)
            group = int(ids[low])
            before = self._folded.get(group)
            if before is not None:
                folded = [_merge(old, new) for old, new in zip(before, folded, strict=True)]
            self._folded[group] = folded


def _distinct(table: Floats) -> Folded:
    """Per column of ``table`` (each sorted, NaN last): its distinct values other than NaN
    and how often each occurs; in a few passes over the whole table, not per column."""
    rows, columns = table.shape
    first = np.empty((columns, rows), dtype=bool)  # where a run of one value starts
    first[:, :1] = True
    np.not_equal(table[1:].T, table[:-1].T, out=first[:, 1:])  # NaN != NaN: each NaN a run
    starts = np.flatnonzero(first)  # column-major positions: column * rows + row
    lengths = np.diff(starts, append=first.size)
    column, row = np.divmod(starts, max(rows, 1))
    values = table[row, column]
    keep = ~np.isnan(values)
    values, lengths, column = values[keep], lengths[keep], column[keep]
    bounds = np.searchsorted(column, np.arange(columns + 1)).tolist()
    return [
        (values[low:high], lengths[low:high])
        for low, high in zip(bounds[:-1], bounds[1:], strict=True)
    ]


def _merge(old: tuple[Floats, Ints], new: tuple[Floats, Ints]) -> tuple[Floats, Ints]:
    """Two columns' distinct values and counts as one's."""
    values = np.concatenate([old[0], new[0]])
    order = np.argsort(values, kind="stable")
    values, counts = values[order], np.concatenate([old[1], new[1]])[order]
    if not len(values):
        return values, counts
    starts = np.flatnonzero(np.concatenate([[True], values[1:] != values[:-1]]))
    return values[starts], np.add.reduceat(counts, starts)


def _nothing(measured: int) -> Folded:
    return [(np.zeros(0), np.zeros(0, dtype=np.int64)) for _ in range(measured)]


def _ranked(values: Floats, cumulative: Ints) -> Callable[[int], float]:
    """The value at a rank of distinct sorted ``values`` with running counts ``cumulative``."""

    def at_rank(rank: int) -> float:
        return float(values[np.searchsorted(cumulative, rank, "right")])

    return at_rank


def _statistics(n: int, at_rank: Callable[[int], Any]) -> list[object]:
    """count, p50, p75, p95 of n sorted values (none: count 0, percentiles NULL)."""
    if not n:
        return [0, *([None] * len(QUANTILES))]
    return [n, *(_interpolate(at_rank, n, q) for q in QUANTILES)]
