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

from el_monitor.alerts.counts_schema import (
    COUNTS_TABLE,
    ERRORS_TABLE,
    NO_SCHEMA,
    PATH_LENGTH,
    create_counts_tables,
    period_of,
)
from el_monitor.counters import MEASURES, OVERALL, Snapshot
from el_monitor.store import Store, StoreError, StoreUnavailable

log = logging.getLogger(__name__)

EXAMPLE_LIMIT = 4096  # characters of a raw example kept per error group
ErrorKey = tuple[str, str, str]  # (schema or "-", code, path or "")


class CountsRecorder:
    def __init__(self, store: Store, instance: str) -> None:
        self.store = store
        self.instance = instance
        self._ready = False

    def write(
        self, before: Snapshot, after: Snapshot, examples: Mapping[ErrorKey, tuple[str, str]]
    ) -> bool:
        """Add what changed between the snapshots; False (logged) when the store is away."""
        period = period_of((before.at + after.at) / 2)
        try:
            if not self._ready:
                create_counts_tables(self.store)
                self._ready = True
            for schema, values in _count_deltas(before, after).items():
                self._add_counts(period, schema, values)
            for key, count in _error_deltas(before, after).items():
                message, example = examples.get(key, ("", ""))
                self._add_errors(period, key, count, message, example[:EXAMPLE_LIMIT])
        except (StoreUnavailable, StoreError) as exc:
            log.warning("counts not recorded this time (%s); they will be added next time", exc)
            return False
        return True

    def _upsert(self, table: str, keys: dict, additive: dict, first_only: dict) -> None:
        store, mark = self.store, self.store.placeholder
        columns = {**keys, **additive, **first_only}
        names = ", ".join(map(store.quote, columns))
        values = ", ".join([mark] * len(columns))
        if mark == "%s":  # MySQL
            update = ", ".join(
                f"{store.quote(c)} = {store.quote(c)} + VALUES({store.quote(c)})" for c in additive
            )
            conflict = f"ON DUPLICATE KEY UPDATE {update}"
        else:
            update = ", ".join(
                f"{store.quote(c)} = {store.quote(c)} + excluded.{store.quote(c)}" for c in additive
            )
            conflict = f"ON CONFLICT ({', '.join(map(store.quote, keys))}) DO UPDATE SET {update}"
        store.execute(
            f"INSERT INTO {store.quote(table)} ({names}) VALUES ({values}) {conflict}",
            tuple(columns.values()),
        )

    def _add_counts(self, period: str, schema: str, values: Mapping[str, int]) -> None:
        keys = {"period": period, "instance": self.instance, "schema_name": schema}
        self._upsert(COUNTS_TABLE, keys, dict(values), {})

    def _add_errors(
        self, period: str, key: ErrorKey, count: int, message: str, example: str
    ) -> None:
        schema, code, path = key
        keys = {"period": period, "instance": self.instance, "schema_name": schema,
                "code": code, "path": path[:PATH_LENGTH]}  # fmt: skip
        self._upsert(ERRORS_TABLE, keys, {"count": count},
                     {"message": message, "example": example})  # fmt: skip


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
