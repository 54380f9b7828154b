"""Counts kept in the store, per UTC hour, instance and schema, for the daily report.

Graphite holds rates for graphs and alerts; the report needs exact daily sums that survive
Graphite's rollups, so the forwarder also adds its counts to ``el_monitor_counts`` (and error
groups, with the first message and example seen, to ``el_monitor_errors``) about once a
minute.  Writes are additive upserts of the difference since the last successful write, so a
failed write is simply carried into the next one and several forwarders share the tables.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from el_monitor.counts.counters import Snapshot
from el_monitor.measures import MEASURES, OVERALL
from el_monitor.store import Store, StoreError, StoreUnavailable
from el_monitor.store.counts import (
    NO_SCHEMA,
    PATH_LENGTH,
    HourCounts,
    HourErrors,
    Measures,
    add_counts,
    create_counts_tables,
    period_of,
)

log = logging.getLogger(__name__)

TEXT_LIMIT = 4096  # characters of a message or raw example kept per error group (TEXT: 64 KB)
ErrorKey = tuple[str, str, str]  # (schema or "-", code, path or "")


class CountsRecorder:
    def __init__(self, store: Store, instance: str) -> None:
        self.store = store
        self.instance = instance
        self._ready = False

    def write(
        self, before: Snapshot, after: Snapshot, examples: Mapping[ErrorKey, tuple[str, str]]
    ) -> bool:
        """Add what changed between the snapshots, in one transaction (a failure leaves
        nothing half added, so the retry adds it once); False (logged) when it failed."""
        period = period_of((before.at + after.at) / 2)
        counts = [
            HourCounts(period, self.instance, schema, Measures(**values))
            for schema, values in _count_deltas(before, after).items()
        ]
        errors = []
        for (schema, code, path), count in _error_deltas(before, after).items():
            message, example = examples.get((schema, code, path), ("", ""))
            errors.append(
                HourErrors(
                    period,
                    self.instance,
                    schema,
                    code,
                    path[:PATH_LENGTH],
                    count,
                    message[:TEXT_LIMIT],
                    example[:TEXT_LIMIT],
                )
            )
        try:
            if not self._ready:
                create_counts_tables(self.store)
                self._ready = True
            add_counts(self.store, counts, errors)
        except (StoreUnavailable, StoreError) as exc:
            log.warning("counts not recorded this time (%s); they will be added next time", exc)
            return False
        return True


def _count_deltas(before: Snapshot, after: Snapshot) -> dict[str, dict[str, int]]:
    """Per schema (and "-" for unattributed lines), the measures that moved."""
    deltas: dict[str, dict[str, int]] = {}
    attributed = dict.fromkeys(MEASURES, 0)
    for scope in after.scopes:
        if scope == OVERALL:
            continue
        delta = {m: after.get(scope, m) - before.get(scope, m) for m in MEASURES}
        for measure in MEASURES:
            attributed[measure] += after.get(scope, measure)
        if any(delta.values()):
            deltas[scope] = delta
    unattributed_before = _unattributed(before)
    unattributed = {
        m: after.get(OVERALL, m) - attributed[m] - unattributed_before[m] for m in MEASURES
    }
    if any(unattributed.values()):
        deltas[NO_SCHEMA] = unattributed
    return deltas


def _unattributed(snapshot: Snapshot) -> dict[str, int]:
    return {
        m: snapshot.get(OVERALL, m)
        - sum(snapshot.get(s, m) for s in snapshot.scopes if s != OVERALL)
        for m in MEASURES
    }


def _error_deltas(before: Snapshot, after: Snapshot) -> dict[ErrorKey, int]:
    deltas: dict[ErrorKey, int] = {}
    attributed: dict[tuple[str, str | None], int] = {}
    attributed_before: dict[tuple[str, str | None], int] = {}
    for scope, errors in after.errors.items():
        if scope == OVERALL:
            continue
        old = before.errors.get(scope, {})
        for (code, path), count in errors.items():
            attributed[(code, path)] = attributed.get((code, path), 0) + count
            attributed_before[(code, path)] = attributed_before.get((code, path), 0) + old.get(
                (code, path), 0
            )
            if count - old.get((code, path), 0):
                deltas[(scope, code, path or "")] = count - old.get((code, path), 0)
    overall_before = before.errors.get(OVERALL, {})
    for (code, path), count in after.errors.get(OVERALL, {}).items():
        grown = (count - attributed.get((code, path), 0)) - (
            overall_before.get((code, path), 0) - attributed_before.get((code, path), 0)
        )
        if grown:
            deltas[(NO_SCHEMA, code, path or "")] = grown
    return deltas
