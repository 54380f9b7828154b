"""The retention rules in force for one schema at a given moment, as one typed value.

Rows older than the schema's retention (catalog ``retention_days``) are deleted when the
schema has no ``keep`` list, else sanitized: every column but ``keep``, the always-kept
capsule columns and ``hash`` set to NULL, ``hash`` columns replaced by an HMAC.  An active
extension (catalog or database) with a longer retention wins; when several apply, the longest
(whole rows before fields, at equal length).  An extension naming ``fields`` keeps only those
longer: rows are sanitized to ``keep`` + those fields at the normal retention (the *first*
stage) and handled for good at the extension's (the *final* stage).

Everything is computed from the ``now`` passed in, never from the clock.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from el_monitor.catalog.model import SchemaPolicy
from el_monitor.event.capsule import mediawiki_timestamp
from el_monitor.retention.extensions import Grant

DELETE, SANITIZE = "delete", "sanitize"
# Columns no sanitizing touches: the key, the row's identity and time, and where it came from.
ALWAYS_KEPT = ("id", "uuid", "timestamp", "wiki")


def cutoff_of(now: datetime.datetime, days: int, before: datetime.date | None = None) -> str:
    """The ``timestamp`` below which rows are past ``days`` of retention at ``now``, no
    later than the start of ``before`` (UTC) when given."""
    moment = now - datetime.timedelta(days=days)
    if before is not None:
        moment = min(moment, datetime.datetime.combine(before, datetime.time(), datetime.UTC))
    return mediawiki_timestamp(int(moment.timestamp()))


def row_time(timestamp: str) -> datetime.datetime:
    """An event row's ``YYYYMMDDHHMMSS`` as an aware UTC datetime."""
    return datetime.datetime.strptime(timestamp, "%Y%m%d%H%M%S").replace(tzinfo=datetime.UTC)


@dataclass(frozen=True)
class Rules:
    """What happens to one schema's rows, and when."""

    schema: str
    action: str  # DELETE or SANITIZE, at the end of retention
    retention_days: int  # the final retention (an extension's when one applies)
    cutoff: str  # rows older are due for ``action``
    first_days: int  # when rows first lose detail (< retention_days: partly extended)
    first_cutoff: str
    keep: tuple[str, ...]  # fields kept when sanitized, as the catalog names them
    hash: tuple[str, ...]  # fields kept as an HMAC when sanitized
    extended: tuple[str, ...] = ()  # fields kept until the final stage (an extension's)
    extension: Grant | None = None

    @property
    def partial(self) -> bool:
        """Whether rows are sanitized first and handled for good later."""
        return bool(self.extended)

    def describe(self) -> str:
        """One line for the dry run: what happens after how long, and why."""
        if self.action == DELETE:
            final = f"delete after {self.retention_days}d"
        else:
            final = f"sanitize after {self.retention_days}d, keep {', '.join(self.keep)}"
            if self.hash:
                final += f", hash {', '.join(self.hash)}"
        if self.partial:
            first = f"after {self.first_days}d keep only {', '.join((*self.keep, *self.extended))}"
            final = f"{first}; {final}"
        if self.extension is not None:
            final += f" [extension: {self.extension.describe()}]"
        return final


def rules_for(
    policy: SchemaPolicy,
    grants: Iterable[Grant],
    now: datetime.datetime,
    before: datetime.date | None = None,
) -> Rules:
    """The rules for ``policy``'s schema at ``now``; ``grants`` may name other schemas
    (ignored) and expired ones (ignored); ``before`` caps every cutoff."""
    today = now.astimezone(datetime.UTC).date()
    base = policy.retention_days
    longer = [
        g for g in grants if g.schema == policy.name and g.active(today) and g.retention_days > base
    ]
    winner = max(longer, key=lambda g: (g.retention_days, not g.fields), default=None)
    extended: tuple[str, ...] = ()
    if winner is not None and winner.fields:
        extended = tuple(f for f in winner.fields if f not in policy.keep)
        if not extended:  # it keeps longer only what is kept anyway
            winner = None
    final_days = winner.retention_days if winner is not None else base
    first_days = base if extended else final_days
    return Rules(
        schema=policy.name,
        action=SANITIZE if policy.keep else DELETE,
        retention_days=final_days,
        cutoff=cutoff_of(now, final_days, before),
        first_days=first_days,
        first_cutoff=cutoff_of(now, first_days, before),
        keep=policy.keep,
        hash=policy.hash,
        extended=extended,
        extension=winner,
    )
