"""Whether retention is enforced, table by table: read by ``check_el_retention``, ``schemas
--db`` and the daily report, so the three agree.

A table is judged against the rules in force *now* (catalog and extensions, as ``retention
run`` would apply them), by its oldest rows as the table is now (one ``MIN`` on an index per
stage, ``store.retention_rows.unhandled``), not as the last run left it: rows backfilled with
old timestamps, or a run that stopped, show at once.  The state table says when a run last
succeeded on it; a table it does not name was never handled.  Nothing here writes.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from el_monitor.catalog.model import Catalog
from el_monitor.retention.extensions import Grant, catalog_grants, database_grants, expired
from el_monitor.retention.plan import store_tables
from el_monitor.retention.policy import DELETE, Rules, row_time, rules_for
from el_monitor.store import Store
from el_monitor.store.mapping import RETENTION_MARKER
from el_monitor.store.retention import TableState, table_states
from el_monitor.store.retention_rows import Unhandled, unhandled

DAY = 86400.0


@dataclass(frozen=True)
class TableStatus:
    """One event table: its rules now, what the last run recorded, and how late it is."""

    table: str
    schema: str
    revision: str
    rules: Rules
    state: TableState | None  # None: no executed run has handled this table
    oldest: Unhandled  # as the table is now
    overdue_days: float  # how far the oldest unhandled row is past its rules (0: none is)
    overdue_after: int  # the retention (days) that row is late for: first or final stage

    @property
    def never_run(self) -> bool:
        return self.state is None

    @property
    def overdue(self) -> bool:
        return self.overdue_days > 0

    @property
    def last_success(self) -> datetime.datetime | None:
        """When a run last left nothing due in the table."""
        if self.state is None or not self.state.last_success:
            return None
        return _iso_time(self.state.last_success)

    def run_age_hours(self, now: datetime.datetime) -> float | None:
        """Hours since the last successful run; None when none ever succeeded."""
        last = self.last_success
        return None if last is None else (now - last).total_seconds() / 3600


@dataclass(frozen=True)
class Enforcement:
    """Every event table's status, and the extensions granted (catalog and database)."""

    now: datetime.datetime
    tables: tuple[TableStatus, ...]
    grants: tuple[Grant, ...]

    @property
    def ran(self) -> bool:
        """Whether any executed run has recorded a table."""
        return any(not t.never_run for t in self.tables)

    def by_table(self) -> dict[str, TableStatus]:
        return {t.table: t for t in self.tables}

    def expired(self, within_days: int) -> list[Grant]:
        """Grants whose last day was within the ``within_days`` before today."""
        today = self.now.astimezone(datetime.UTC).date()
        since = today - datetime.timedelta(days=within_days)
        return [g for g in expired(self.grants, today) if g.until >= since]

    def expiring(self, within_days: int) -> list[Grant]:
        """Grants in force today whose last day is within the next ``within_days``."""
        today = self.now.astimezone(datetime.UTC).date()
        last = today + datetime.timedelta(days=within_days)
        return [g for g in self.grants if g.active(today) and g.until <= last]


def enforcement(
    store: Store, catalog: Catalog, now: datetime.datetime, known_schemas: Iterable[str] = ()
) -> Enforcement:
    """The status of every event table at ``now`` (reads only; no table is created)."""
    states = table_states(store)
    names = {*known_schemas, *catalog.schemas, *(s.policy.schema for s in states.values())}
    tables = store_tables(store, names)
    grants = (
        *catalog_grants(catalog, [*catalog.schemas, *(schema for _, schema, _, _ in tables)]),
        *database_grants(store),
    )
    statuses = []
    for table, schema, revision, columns in tables:
        rules = rules_for(catalog.policy(schema), grants, now)
        delete = rules.action == DELETE
        oldest = unhandled(store, table, RETENTION_MARKER in columns, delete)
        late, after = overdue_days(oldest, rules, now)
        statuses.append(
            TableStatus(table, schema, revision, rules, states.get(table), oldest, late, after)
        )
    return Enforcement(now, tuple(statuses), grants)


def overdue_days(oldest: Unhandled, rules: Rules, now: datetime.datetime) -> tuple[float, int]:
    """Days the oldest row still holding detail it should not is past its stage's retention
    (an untouched row after ``first_days``, an unfinished one after ``retention_days``; 0
    when none is), and that retention."""
    late = [(0.0, rules.retention_days)]
    for timestamp, days in ((oldest.untouched, rules.first_days),
                            (oldest.unfinished, rules.retention_days)):  # fmt: skip
        moment = _row_time(timestamp)
        if moment is not None:
            late.append(((now - moment).total_seconds() / DAY - days, days))
    return max(late)


def worst(statuses: Sequence[TableStatus]) -> TableStatus | None:
    """The most overdue table (the never-run ones first), if any is overdue."""
    late = [s for s in statuses if s.overdue]
    return max(late, key=lambda s: (s.never_run, s.overdue_days), default=None)


def _row_time(timestamp: str | None) -> datetime.datetime | None:
    """An event row's timestamp, None when absent or not ``YYYYMMDDHHMMSS``."""
    if timestamp is None:
        return None
    try:
        return row_time(timestamp)
    except ValueError:
        return None


def _iso_time(text: str) -> datetime.datetime | None:
    try:
        return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)
    except ValueError:
        return None
