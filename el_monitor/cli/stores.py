"""The one way a command opens ``--db``: the store, or one line saying what to fix.

Every command that reads the database (``schemas --db``, ``report daily``, ``optout purge``)
refuses a SQLite file that does not exist, since opening it would create an empty database and
the command would then report nothing instead of saying ``--db`` is wrong; only the forwarder
creates its database.  A server that does not answer is an error, unless the forwarder has a
spool to keep batches in until it does.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from el_monitor.errors import UserError

if TYPE_CHECKING:  # the store (orjson, its SQL) is loaded only by commands that open it
    from el_monitor.store import Store, StoreUnavailable

log = logging.getLogger(__name__)


@contextmanager
def opened_store(
    url: str,
    *,
    doing: str,
    create: bool = False,
    spool_dir: str | None = None,
    hint: str = "",
) -> Iterator[Store]:
    """The store at ``url``, closed after the ``with`` block; every store failure one line.

    ``doing`` names the work for a store error that escapes the block ("cannot {doing}: …");
    a command that words its own catches it inside.  ``create`` lets a missing SQLite file be
    created.  With ``spool_dir`` an unreachable server is only warned about: the store connects
    on first use.  ``hint`` is the command's own advice for an unreachable server.
    """
    store = open_or_fail(url, create=create, spool_dir=spool_dir, hint=hint)
    try:
        with store_errors(doing=doing, hint=hint):
            yield store
    finally:
        store.close()


@contextmanager
def store_errors(*, doing: str, hint: str = "") -> Iterator[None]:
    """Store failures escaping the block as one line (``opened_store``'s wording), for a
    command that opens and closes its stores itself (the forwarder re-points its own)."""
    from el_monitor.store import StoreError, StoreUnavailable

    try:
        yield
    except StoreUnavailable as exc:
        raise UserError(_unreachable(exc, hint)) from None
    except StoreError as exc:
        raise UserError(f"cannot {doing}: {exc}") from None


def _unreachable(exc: StoreUnavailable, hint: str = "") -> str:
    """The one line for a database that does not answer: the driver's words, then the fix
    (the command's ``hint`` only when the server may be down: the fix is then to wait)."""
    from el_monitor.store.base import SERVER_DOWN

    extra = f"; {hint}" if hint and exc.fix == SERVER_DOWN else ""
    return f"{exc} ({exc.fix}{extra})"


def open_or_fail(url: str, *, create: bool, spool_dir: str | None, hint: str) -> Store:
    """``url`` opened (made, with ``create``); unreachable is a UserError without a spool."""
    from el_monitor.store import StoreUnavailable, open_existing, open_store

    try:
        return open_store(url) if create else open_existing(url)
    except StoreUnavailable as exc:
        if spool_dir is None:
            raise UserError(_unreachable(exc, hint)) from None
        log.warning("%s: starting anyway, spooling to %s until it answers", exc, spool_dir)
        return open_store(url, connect_now=False)


def open_later(url: str) -> Store:
    """The store at ``url``, connecting on first use (a forwarder's new target: its flushes
    say when it does not answer).  A bad URL is a UserError."""
    from el_monitor.store import open_store

    return open_store(url, connect_now=False)
