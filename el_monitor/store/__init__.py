"""The database, and all SQL text: schema → table mapping (``mapping``), one dialect per
engine (``dialect``), the SQLite and MySQL stores (``sqlite``, ``mysql``: its LOAD DATA from
memory in ``mysql_load``, its rows sent while a batch fills in ``mysql_preload``), and what
is asked of them beyond events: the counts tables (``counts``, read over a window by
``error_reads``), the sample-rate history (``sampling``), table stats (``catalogue``), keyed
scans and deletes (``rows``)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from el_monitor.errors import UserError
from el_monitor.store.base import InsertResult, JobRunning, Rejected, Store, StoreUnavailable
from el_monitor.store.mapping import StoreError, TableLayout, TableMissing

_SQLITE = "sqlite:///"

__all__ = [
    "InsertResult",
    "JobRunning",
    "Rejected",
    "Store",
    "StoreError",
    "TableMissing",
    "StoreUnavailable",
    "TableLayout",
    "open_existing",
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

        path = url[len(_SQLITE) :] if url.startswith(_SQLITE) else ""
        if not path:
            raise UserError(
                f"bad database URL {url!r}: use sqlite:///relative.db or sqlite:////abs.db"
            )
        return SQLiteStore(url, path)
    if scheme == "mysql":
        from el_monitor.store.mysql import MySQLStore

        return MySQLStore(url, connect_now=connect_now)
    raise UserError(f"unknown database URL {url!r}: use sqlite:///path or mysql://user@host/db")


def open_existing(url: str) -> Store:
    """``open_store`` for a reader: a SQLite file that does not exist is refused (UserError),
    since opening it would create an empty database and the reader would then report
    nothing instead of saying ``--db`` is wrong."""
    path = url[len(_SQLITE) :] if url.startswith(_SQLITE) else ""
    if path not in ("", ":memory:") and not Path(path).is_file():
        raise UserError(f"database {path} does not exist; check --db")
    return open_store(url)
