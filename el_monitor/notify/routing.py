"""Who gets which mail: one group per distinct set of recipients, unowned schemas to ops."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from el_monitor.catalog.model import Catalog
from el_monitor.notify.notification import SERVICE_LEVEL

__all__ = ["Group", "route"]


@dataclass(frozen=True)
class Group:
    """One mail: its recipients, the schemas it covers, and which of them have no owner (and
    so reach these recipients as ops)."""

    recipients: tuple[str, ...]
    schemas: tuple[str, ...]
    unowned: tuple[str, ...] = ()


def route(
    schemas: Sequence[str], catalog: Catalog, ops: Sequence[str] = ()
) -> tuple[list[Group], list[str]]:
    """One group per distinct set of recipients (schemas kept in order), and the schemas
    nobody can be mailed about.

    A schema without owners, and a service-level alert (``*``), goes to ``ops`` (the flag)
    or else the catalog's ``ops``.  Owners who are also ops get one mail, not two.
    """
    fallback = tuple(ops) or catalog.ops
    groups: dict[tuple[str, ...], tuple[list[str], list[str]]] = {}
    unrouted: list[str] = []
    for schema in dict.fromkeys(schemas):
        owners = () if schema == SERVICE_LEVEL else catalog.policy(schema).owners
        unowned = not owners
        if unowned:
            owners = fallback
        if not owners:
            unrouted.append(schema)
            continue
        key = tuple(sorted(set(owners), key=str.lower))
        names, orphans = groups.setdefault(key, ([], []))
        names.append(schema)
        if unowned:
            orphans.append(schema)
    out = [Group(key, tuple(names), tuple(orphans)) for key, (names, orphans) in groups.items()]
    return out, unrouted
