"""Per-schema event counts: the observability core.

The forwarder's hot loop only ever does ``counts.valid += 1`` on a ``SchemaCounts`` it already
holds; everything else (overall totals, per-interval deltas, rates) is derived when someone
asks, so counting costs one attribute increment per event.  Counts are cumulative; an
``Interval`` is the difference between two snapshots.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NamedTuple

from el_monitor.measures import MEASURES, NOT_LOGGED, OVERALL, OVERALL_ONLY


class SourceTally(NamedTuple):
    """What a source lost or refused before the pipeline saw it, cumulative: the lines
    received are ``raw`` + ``dropped``.  Fields are named as their measures (``SOURCE_LOSSES``)."""

    dropped: int = 0  # lines received but not queued: the queue was full (UDP, ZeroMQ)
    damaged: int = 0  # stream messages that did not decode, terminated (JetStream)
    refused: int = 0  # requests answered 4xx (HTTP beacon)
    busy: int = 0  # requests answered 503, the queue being full: the clients retry
    kernel_dropped: int = 0  # datagrams the kernel dropped, the socket buffer full (UDP)


NO_LOSSES = SourceTally()


class SchemaCounts:
    """Cumulative counts for one schema (or for lines no schema could be named for)."""

    __slots__ = (*MEASURES, "errors")

    def __init__(self) -> None:
        # Spelt out, one per measure, so the hot loop's ``counts.valid += 1`` is checked.
        self.raw = 0
        self.valid = 0
        self.invalid = 0
        self.sampled_out = 0
        self.opted_out = 0
        self.inserted = 0
        self.duplicate = 0
        self.spooled = 0
        # (code, JSON path of the first validation error or None) → count
        self.errors: Counter[tuple[str, str | None]] = Counter()

    def values(self) -> dict[str, int]:
        return {measure: getattr(self, measure) for measure in MEASURES}


@dataclass(frozen=True)
class Snapshot:
    """Immutable cumulative counts at one moment, per scope (schema name or ``overall``)."""

    at: float
    scopes: Mapping[str, Mapping[str, int]]
    errors: Mapping[str, Mapping[tuple[str, str | None], int]]

    def get(self, scope: str, measure: str) -> int:
        return self.scopes.get(scope, {}).get(measure, 0)


@dataclass(frozen=True)
class Interval:
    """Counts between two snapshots, with the elapsed time to turn them into rates."""

    start: float
    end: float
    counts: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return max(self.end - self.start, 1e-9)

    def rate(self, scope: str, measure: str) -> float:
        return self.counts.get(scope, {}).get(measure, 0) / self.seconds


class Counters:
    """All counts of one forwarder.  Not thread-safe: the pipeline thread owns it."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._schemas: dict[str, SchemaCounts] = {}
        # Lines whose schema is unknown or unreadable: counted overall, never per name, so
        # arbitrary names from the wire cannot grow memory without bound.
        self.unattributed = SchemaCounts()
        self.not_logged = 0  # events the event logs could not hold (they were stored)
        # The source's own tally, read at each snapshot (its receiver threads keep it).
        self.source_tally: Callable[[], SourceTally] = lambda: NO_LOSSES

    def schema(self, name: str) -> SchemaCounts:
        """The counts of a schema known to the registry (created on first use)."""
        counts = self._schemas.get(name)
        if counts is None:
            counts = self._schemas[name] = SchemaCounts()
        return counts

    def known(self, name: str) -> bool:
        """Whether a schema has its own counts (unknown names are counted unattributed)."""
        return name in self._schemas

    def origin(self) -> Snapshot:
        """Nothing counted, as of now: where a feed's first interval starts, so it carries
        what the source lost before the forwarder was made (its receiver starts first)."""
        return Snapshot(self._clock(), MappingProxyType({}), MappingProxyType({}))

    def snapshot(self) -> Snapshot:
        scopes: dict[str, Mapping[str, int]] = {}
        errors: dict[str, Mapping[tuple[str, str | None], int]] = {}
        overall = dict.fromkeys(MEASURES, 0)
        overall_errors: Counter[tuple[str, str | None]] = Counter()
        for name, counts in [*self._schemas.items(), (None, self.unattributed)]:
            values = counts.values()
            for measure, value in values.items():
                overall[measure] += value
            overall_errors.update(counts.errors)
            if name is not None:
                scopes[name] = MappingProxyType(values)
                errors[name] = MappingProxyType(dict(counts.errors))
        overall[NOT_LOGGED] = self.not_logged
        overall.update(self.source_tally()._asdict())
        scopes[OVERALL] = MappingProxyType(overall)
        errors[OVERALL] = MappingProxyType(dict(overall_errors))
        return Snapshot(self._clock(), MappingProxyType(scopes), MappingProxyType(errors))


def combined(snapshots: Sequence[Snapshot]) -> Snapshot:
    """The sum of several forwarders' snapshots (the workers of ``forward --workers``)."""
    scopes: dict[str, Counter[str]] = {}
    errors: dict[str, Counter[tuple[str, str | None]]] = {}
    for snapshot in snapshots:
        for scope, values in snapshot.scopes.items():
            scopes.setdefault(scope, Counter()).update(values)
        for scope, groups in snapshot.errors.items():
            errors.setdefault(scope, Counter()).update(groups)
    overall = scopes.setdefault(OVERALL, Counter())
    errors.setdefault(OVERALL, Counter())
    for measure in (*MEASURES, *OVERALL_ONLY):
        overall[measure] += 0  # every measure present, as in one forwarder's snapshot
    return Snapshot(
        max((s.at for s in snapshots), default=0.0),
        MappingProxyType({s: MappingProxyType(dict(v)) for s, v in scopes.items()}),
        MappingProxyType({s: MappingProxyType(dict(v)) for s, v in errors.items()}),
    )


def snapshot_record(snapshot: Snapshot) -> dict:
    """A snapshot as JSON-able values (from a worker to its supervisor)."""
    return {
        "at": snapshot.at,
        "scopes": {scope: dict(values) for scope, values in snapshot.scopes.items()},
        "errors": {
            scope: [[code, path, count] for (code, path), count in groups.items()]
            for scope, groups in snapshot.errors.items()
        },
    }


def snapshot_from_record(record: Mapping) -> Snapshot:
    """``snapshot_record``'s inverse."""
    return Snapshot(
        float(record["at"]),
        MappingProxyType({s: MappingProxyType(dict(v)) for s, v in record["scopes"].items()}),
        MappingProxyType(
            {
                scope: MappingProxyType({(code, path): count for code, path, count in groups})
                for scope, groups in record["errors"].items()
            }
        ),
    )


def difference(before: Snapshot, after: Snapshot) -> Interval:
    """Counts between two snapshots: each consumer (stats log, Graphite) keeps its own last."""
    counts = {
        scope: {m: v - before.get(scope, m) for m, v in values.items()}
        for scope, values in after.scopes.items()
    }
    return Interval(before.at, after.at, counts)


def error_difference(
    before: Snapshot, after: Snapshot
) -> dict[str, dict[tuple[str, str | None], int]]:
    """Per scope, the error groups that grew between two snapshots, and by how much."""
    grown: dict[str, dict[tuple[str, str | None], int]] = {}
    for scope, errors in after.errors.items():
        old = before.errors.get(scope, {})
        delta = {key: count - old.get(key, 0) for key, count in errors.items()}
        delta = {key: count for key, count in delta.items() if count}
        if delta:
            grown[scope] = delta
    return grown


def summary_rows(snapshot: Snapshot) -> list[tuple[str, dict[str, int]]]:
    """Scopes with any traffic, busiest first, ``overall`` last: the shape of the summary."""
    rows = [
        (scope, dict(values))
        for scope, values in snapshot.scopes.items()
        if scope != OVERALL and any(values.values())
    ]
    rows.sort(key=lambda row: (-row[1]["raw"], row[0]))
    rows.append((OVERALL, dict(snapshot.scopes[OVERALL])))
    return rows


class ErrorGroup(NamedTuple):
    """Events that failed the same way: code and JSON path, within one schema (``-``: none)."""

    events: int
    scope: str
    code: str
    path: str | None


def error_groups(snapshot: Snapshot, limit: int = 10) -> list[ErrorGroup]:
    """The most common (schema, code, path) error groups, most frequent first.

    Errors of lines no schema could be named for are counted only overall; they appear with
    the scope ``-``, as what the overall counts hold beyond the schemas' own.
    """
    groups = [
        ErrorGroup(count, scope, code, path)
        for scope, errors in snapshot.errors.items()
        if scope != OVERALL
        for (code, path), count in errors.items()
    ]
    unattributed = Counter(snapshot.errors[OVERALL])
    for group in groups:
        unattributed[(group.code, group.path)] -= group.events
    groups += [
        ErrorGroup(count, "-", code, path)
        for (code, path), count in unattributed.items()
        if count > 0
    ]
    groups.sort(key=lambda g: (-g.events, g.scope, g.code, g.path or ""))
    return groups[:limit]
