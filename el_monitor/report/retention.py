"""The daily report's retention section, read with ``retention.status`` (as
``check_el_retention`` reads it): per table the last successful run and what it deleted and
sanitized, the tables past policy, and the extensions that just ended or end soon.

A database retention never ran on has no state table: every table then shows as not run,
which the report says plainly; a store error becomes the section's ``problem``, never a
failed report.
"""

from __future__ import annotations

import datetime

from el_monitor.catalog.model import Catalog
from el_monitor.report.model import RetentionSection, RetentionTable
from el_monitor.retention.status import enforcement
from el_monitor.store import Store, StoreError
from el_monitor.store.retention import FAILED

EXPIRED_DAYS = 30  # extensions that ended within this many days are named
EXPIRING_DAYS = 14  # and those ending within this many


def retention_section(store: Store, catalog: Catalog, now: datetime.datetime) -> RetentionSection:
    """The section as of ``now``; reads only."""
    try:
        status = enforcement(store, catalog, now)
    except StoreError as exc:
        return RetentionSection((), (), (), problem=f"retention state not read: {exc}")
    tables = []
    for table in status.tables:
        state = table.state
        tables.append(
            RetentionTable(
                table=table.table,
                action=table.rules.action,
                retention_days=table.rules.retention_days,
                ran=state is not None,
                last_success=state.last_success if state else None,
                failed=state.error if state and state.status == FAILED else None,
                deleted=int(state.rows_deleted) if state else 0,
                sanitized=int(state.rows_sanitized) if state else 0,
                overdue_days=round(table.overdue_days, 1),
                overdue_after=table.overdue_after,
            )
        )
    return RetentionSection(
        tables=tuple(tables),
        expired=tuple(status.expired(EXPIRED_DAYS)),
        expiring=tuple(status.expiring(EXPIRING_DAYS)),
    )
