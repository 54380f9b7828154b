"""An owner's read of the error groups the forwarders recorded: over a time window rather
than one day (the report's ``day_error_groups``), with when each group was first and last seen.

The layout is ``store.counts``'s (one row per hour, instance, schema, code and path); this
only sums it differently, so ``first_examples`` fetches the shown examples as for the report.
"""

from __future__ import annotations

import datetime
from typing import NamedTuple

from el_monitor.store.base import Store
from el_monitor.store.counts import ERRORS_TABLE, ErrorGroup, as_text, period_of

__all__ = ["SeenGroup", "recent_error_groups"]


class SeenGroup(NamedTuple):
    group: ErrorGroup  # summed over instances and hours; first_period is its earliest hour
    last_period: str  # the latest hour it was counted in


def recent_error_groups(
    store: Store, since: datetime.datetime, schema: str | None, limit: int
) -> list[SeenGroup]:
    """The ``limit`` error groups last seen most recently, counted from the hour of ``since``
    on, of one schema or of all; none when no forwarder has written errors here."""
    if not store.table_exists(ERRORS_TABLE):
        return []
    q, mark = store.dialect.quote, store.dialect.mark
    where = f"{q('period')} >= {mark}"
    params: list[object] = [period_of(since)]
    if schema is not None:
        where += f" AND {q('schema_name')} = {mark}"
        params.append(schema)
    params.append(limit)
    rows = store.query(
        f"SELECT {q('schema_name')}, {q('code')}, {q('path')}, SUM({q('count')}), "
        f"MIN({q('period')}), MAX({q('period')}) FROM {q(ERRORS_TABLE)} WHERE {where} "
        f"GROUP BY {q('schema_name')}, {q('code')}, {q('path')} "
        f"ORDER BY MAX({q('period')}) DESC, SUM({q('count')}) DESC, {q('schema_name')}, "
        f"{q('code')}, {q('path')} LIMIT {mark}",
        params,
    )
    return [
        SeenGroup(
            ErrorGroup(as_text(name), as_text(code), as_text(path), int(count or 0), as_text(a)),
            as_text(b),
        )
        for name, code, path, count, a, b in rows
    ]
