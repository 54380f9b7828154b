"""Longer retention for a stated reason, until a date: from the catalog or the database.

The catalog's ``extensions`` are reviewed with the catalog; ``el-monitor retention extend``
records one in the database instead (who, why, when, until when), so that every host and
report sees it without a deploy.  Both become a ``Grant``.  A grant applies through its
``until`` day (UTC) and stops by itself the day after: expired grants stay listed (the daily
report names them) and are never deleted.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from el_monitor.catalog.checker import FIELD_PATH_RE
from el_monitor.catalog.model import Catalog
from el_monitor.errors import UserError
from el_monitor.event.names import SCHEMA_NAME
from el_monitor.store import Store
from el_monitor.store.retention import StoredExtension, add_extension, iso_time, stored_extensions

CATALOG, DATABASE = "catalog", "database"


@dataclass(frozen=True)
class Grant:
    """One extension, wherever it was written."""

    schema: str
    retention_days: int
    until: datetime.date
    reason: str
    fields: tuple[str, ...] = ()  # only these fields are kept longer; () whole rows
    source: str = CATALOG
    created_by: str = ""  # database grants: who recorded it, and when (ISO, UTC)
    created_at: str = ""

    def active(self, today: datetime.date) -> bool:
        return self.until >= today

    def describe(self) -> str:
        what = f"fields {', '.join(self.fields)}" if self.fields else "whole rows"
        who = f", by {self.created_by}" if self.created_by else ""
        return (
            f"{self.retention_days}d until {self.until.isoformat()} ({what}; {self.source}"
            f"{who}: {self.reason})"
        )


def record_extension(
    store: Store,
    schema: str,
    retention_days: int,
    until: datetime.date,
    reason: str,
    created_by: str,
    now: datetime.datetime,
    fields: Sequence[str] = (),
) -> Grant:
    """Record an extension in the database; UserError for one that could never apply."""
    if not SCHEMA_NAME.fullmatch(schema):
        raise UserError(f"retention extend: {schema!r} is not a schema name")
    if retention_days < 1:
        raise UserError("retention extend: --days must be at least 1")
    if until < now.date():
        raise UserError(f"retention extend: --until {until.isoformat()} is already past")
    if not reason.strip() or not created_by.strip():
        raise UserError("retention extend: --reason and --by must say why and who")
    bad = [field for field in fields if not FIELD_PATH_RE.fullmatch(field)]
    if bad:
        raise UserError(f"retention extend: {bad[0]!r} is not a field path such as page.id")
    stored = StoredExtension(
        schema,
        retention_days,
        until,
        tuple(fields),
        reason.strip(),
        created_by.strip(),
        iso_time(now),
    )
    add_extension(store, stored)
    return _grant(stored)


def database_grants(store: Store) -> list[Grant]:
    """Every extension recorded in the database, in the order granted."""
    return [_grant(stored) for stored in stored_extensions(store)]


def catalog_grants(catalog: Catalog, schemas: Iterable[str]) -> list[Grant]:
    """The catalog's extensions of these schemas (its defaults' for schemas it omits)."""
    return [
        Grant(name, e.retention_days, e.until, e.reason, e.fields)
        for name in dict.fromkeys(schemas)
        for e in catalog.policy(name).extensions
    ]


def expired(grants: Iterable[Grant], today: datetime.date) -> list[Grant]:
    """The grants that no longer apply."""
    return [grant for grant in grants if not grant.active(today)]


def _grant(stored: StoredExtension) -> Grant:
    return Grant(
        stored.schema,
        stored.retention_days,
        stored.until,
        stored.reason,
        stored.fields,
        DATABASE,
        stored.created_by,
        stored.created_at,
    )
