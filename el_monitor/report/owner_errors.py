"""An owner's view of their schema's errors: the forwarders' error groups over a window, and
single records of the invalid log, each redacted exactly as the daily report redacts them.

Owners run ``el-monitor errors`` without access to anyone else's raw data, so nothing leaves
this module unredacted: examples go through the catalog's ``user_fields`` redaction and the
message loses whatever that removed (``collect.error_summary``, the report's own path).
"""

from __future__ import annotations

import datetime
import re
from typing import NamedTuple

from el_monitor.catalog.model import Catalog
from el_monitor.event.names import REVISION
from el_monitor.report.collect import error_summary
from el_monitor.store.base import Store
from el_monitor.store.counts import ErrorKey, FirstExample, first_examples
from el_monitor.store.error_reads import recent_error_groups

__all__ = ["OwnerError", "logged_error", "recent_errors"]

_REVISION = re.compile(r'"revision":\s*"?(' + REVISION.pattern + ")")


class OwnerError(NamedTuple):
    """One error group (or one logged error, ``events`` 1) as an owner may see it."""

    schema: str
    revision: str | None  # the example's; a group sums every revision of its schema
    code: str
    path: str
    events: int
    message: str  # redacted
    example: str | None  # redacted
    first_seen: str  # the hour it was first counted in ('YYYY-MM-DDTHH:00:00Z'), or its time
    last_seen: str

    def as_json(self) -> dict:
        return self._asdict()


def recent_errors(
    store: Store, catalog: Catalog, since: datetime.datetime, schema: str | None, limit: int
) -> list[OwnerError]:
    """The error groups counted since ``since``, most recently seen first."""
    seen = recent_error_groups(store, since, schema, limit)
    firsts = first_examples(store, [s.group for s in seen])
    out = []
    for group, last in seen:
        first = firsts.get(ErrorKey(group.schema, group.code, group.path), FirstExample("", None))
        shown = error_summary(
            group.code,
            group.path,
            group.events,
            first.message,
            first.example,
            catalog.policy(group.schema).user_fields,
        )
        out.append(
            OwnerError(
                group.schema,
                _revision(shown.example),
                shown.code,
                shown.path,
                shown.count,
                shown.message,
                shown.example,
                group.first_period,
                last,
            )
        )
    return out


def logged_error(record: object, catalog: Catalog, when: str) -> OwnerError | None:
    """An EventError record of the invalid log (``{rawEvent, message, code, schema,
    revision}``), redacted; None for a line that is not one.  The log keeps no JSON path."""
    if not isinstance(record, dict) or not isinstance(record.get("code"), str):
        return None
    schema = record.get("schema")
    name = schema if isinstance(schema, str) else "-"
    raw = record.get("rawEvent")
    shown = error_summary(
        record["code"],
        "",
        1,
        str(record.get("message") or ""),
        raw if isinstance(raw, str) else None,
        catalog.policy(name).user_fields,
    )
    revision = record.get("revision")
    return OwnerError(
        name,
        revision if isinstance(revision, str) else _revision(shown.example),
        shown.code,
        shown.path,
        1,
        shown.message,
        shown.example,
        when,
        when,
    )


def _revision(example: str | None) -> str | None:
    """The revision a redacted example names (its text is JSON-like, not always JSON: the
    redaction writes its marks unquoted)."""
    found = _REVISION.search(example or "")
    return found.group(1) if found else None
