"""The database, and all SQL text: schema → table mapping (``mapping``), one dialect per
engine (``dialect``), the SQLite and MySQL stores (``sqlite``, ``mysql``), and what is asked of
them beyond events: the counts tables (``counts``), the sample-rate history (``sampling``),
table stats (``catalogue``), keyed scans and deletes (``rows``)."""

from __future__ import annotations

from urllib.parse import urlsplit

from el_monitor.errors import UserError
from el_monitor.store.base import InsertResult, Rejected, Store, StoreUnavailable
from el_monitor.store.mapping import StoreError, TableLayout, TableMissing

__all__ = [
    "InsertResult",
    "Rejected",
    "Store",
    "StoreError",
    "TableMissing",
    "StoreUnavailable",
    "TableLayout",
    "open_store",
]


def open_store(url: str, connect_now: bool = True) -> Store:
    """``sqlite:///path`` (relative) or ``sqlite:////abs/path``, or ``mysql://user@host/db``.

    Raises StoreUnavailable when a server does not answer (unless ``connect_now`` is False:
    then the first use connects), UserError for a bad URL.
    """
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        from el_monitor.store.sqlite import SQLiteStore

        path = url[len("sqlite:///") :] if url.startswith("sqlite:///") else ""
        if not path:
            raise UserError(
                f"bad database URL {url!r}: use sqlite:///relative.db or sqlite:////abs.db"
            )
        return SQLiteStore(url, path)
    if scheme == "mysql":
        from el_monitor.store.mysql import MySQLStore

        return MySQLStore(url, connect_now=connect_now)
    raise UserError(f"unknown database URL {url!r}: use sqlite:///path or mysql://user@host/db")
