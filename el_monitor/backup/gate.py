"""Which logged capsules a backfill may store again: in the window, not of a user who opted
out, not past its schema's retention.

Sampling is not judged again: the valid log holds only the events that were kept.  The
opt-out check is the forwarder's own (``ingest.policy``: the catalog's user fields, the
hashed list and the site secret), so an event dropped live is dropped here too, and so is one
whose user opted out since.  Retention is the table's (``retention.policy.rules_for``, with
the catalog's and the database's extensions): an event older than the point where its rows
first lose anything (deleted, or sanitized) is not stored again, since retention would only
have to take it back, and a record the log retention sanitized already carries a marker and
is past it by definition.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import NamedTuple

from el_monitor.catalog.model import Catalog
from el_monitor.event.capsule import mediawiki_timestamp
from el_monitor.ingest.policy import Policy
from el_monitor.optout.matcher import OptOutCheck
from el_monitor.retention.extensions import Grant
from el_monitor.retention.policy import rules_for
from el_monitor.retention.records import MARKER

OUT_OF_WINDOW, OPTED_OUT, PAST_RETENTION = "out_of_window", "opted_out", "past_retention"


class Window(NamedTuple):
    """``[since, until)`` in Unix seconds, the events' own time."""

    since: int
    until: int

    def holds(self, seconds: int) -> bool:
        return self.since <= seconds < self.until

    @classmethod
    def of(cls, since: datetime.datetime, until: datetime.datetime) -> Window:
        return cls(int(since.timestamp()), int(until.timestamp()))


class Gate:
    """``reason(capsule)``: None when the capsule may be stored, else why it may not.  Each
    schema's opt-out check and retention cutoff are worked out once."""

    def __init__(
        self,
        window: Window,
        policy: Policy,
        catalog: Catalog,
        grants: Iterable[Grant],
        now: datetime.datetime,
    ) -> None:
        self.window = window
        self._policy = policy
        self._catalog = catalog
        self._grants = tuple(grants)
        self._now = now
        self._schemas: dict[str, tuple[OptOutCheck | None, str]] = {}

    def reason(self, capsule: dict) -> str | None:
        seconds = capsule["timestamp"]
        if not self.window.holds(seconds):
            return OUT_OF_WINDOW
        check, cutoff = self._schema(capsule["schema"])
        if MARKER in capsule or mediawiki_timestamp(seconds) < cutoff:
            return PAST_RETENTION
        if check is not None and check(capsule):
            return OPTED_OUT
        return None

    def _schema(self, schema: str) -> tuple[OptOutCheck | None, str]:
        found = self._schemas.get(schema)
        if found is None:
            rules = rules_for(self._catalog.policy(schema), self._grants, self._now)
            found = (self._policy.opt_out_check_for(schema), rules.first_cutoff)
            self._schemas[schema] = found
        return found
