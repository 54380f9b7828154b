"""The one way a check plugin opens ``--db``: the store, or an UNKNOWN in one line.

Like ``cli/stores.py`` for commands: a SQLite file that does not exist is refused rather than
created empty (``open_existing``), and a server that does not answer, at first or midway, is
a ``CheckError`` saying what to check.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import nagiosplugin

if TYPE_CHECKING:  # the store (its driver, its SQL) is loaded only when a probe runs
    from el_monitor.store import Store


@contextmanager
def opened_database(url: str) -> Iterator[Store]:
    """The store at ``url``, closed after the block; unreachable is a one-line CheckError."""
    from el_monitor.store import StoreUnavailable, open_existing
    from el_monitor.store.base import safe_url

    try:
        store = open_existing(url)
    except StoreUnavailable as exc:
        raise nagiosplugin.CheckError(f"{exc} ({exc.fix})") from None
    try:
        yield store
    except StoreUnavailable as exc:
        raise nagiosplugin.CheckError(f"{safe_url(url)}: {exc}") from None
    finally:
        store.close()
