"""The busiest table's rows of the batch being filled, made and sent as its events arrive.

A flush used to build every row and hand them all to the database at once, which then loaded
them while the forwarder waited.  The writer instead picks the table that took the most rows
at the last flush and, from the first event of a new batch on, builds each of its rows as the
event is accepted and gives it to the store's preload (``Store.preload``: on MySQL, a LOAD
the server runs while the next lines are parsed).  At the flush the rows are already built and
mostly loaded; the rest of the batch goes as before.
"""

from __future__ import annotations

from typing import Any

from el_monitor.store import StoreError, TableLayout
from el_monitor.store.base import Preloading
from el_monitor.store.mapping import BuiltRows


class LoadAhead:
    """The rows of schema revision ``key`` (table ``layout``) in the batch, as they come."""

    def __init__(self, key: tuple[str, str], layout: TableLayout, preload: Preloading) -> None:
        self.key = key
        self.layout = layout
        self.preload = preload
        self.kept: list[dict[str, Any]] = []  # the capsules of ``preload.rows``, in order
        self.refused: list[tuple[dict[str, Any], str]] = []  # (capsule, why): store errors
        self.broken = False  # a row could not be built: the flush builds them all itself

    def add(self, capsule: dict[str, Any]) -> None:
        if self.broken or (capsule["schema"], capsule["revision"]) != self.key:
            return
        try:
            row = self.layout.row(capsule)
        except StoreError as exc:
            self.refused.append((capsule, str(exc)))
            return
        except Exception:  # whatever it is, the flush meets it again, where it always did
            self.broken = True
            return
        self.kept.append(capsule)
        self.preload.add(row)

    def built(
        self, key: tuple[str, str], layout: TableLayout, group: list[dict[str, Any]]
    ) -> BuiltRows | None:
        """The rows of ``group`` (the batch's capsules of ``key``), when these are they."""
        if self.broken or key != self.key or layout is not self.layout:
            return None
        if len(group) != len(self.kept) + len(self.refused):
            return None
        return BuiltRows(self.preload.rows, self.kept, self.refused)
