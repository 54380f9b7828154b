"""The databases of the backup chain, opened for a check: a hop's URL with the password from its
``password_file`` (never written in the catalog), and the store, or why it cannot be had."""

from __future__ import annotations

from el_monitor.catalog.model import BackupHop
from el_monitor.errors import UserError
from el_monitor.store import Store, StoreError, StoreUnavailable, open_existing
from el_monitor.store.base import safe_url, url_with_password_file


def hop_url(hop: BackupHop) -> str:
    """``hop.db`` with the password of ``hop.password_file`` in it (UserError when the file
    cannot be read)."""
    assert hop.db is not None
    if hop.password_file is None:
        return hop.db
    try:
        return url_with_password_file(hop.db, hop.password_file)
    except UserError as exc:
        raise UserError(f"hop {hop.name}: {exc}") from None


def open_database(url: str) -> Store | str:
    """The store at ``url``, or one line saying why it cannot be reached."""
    try:
        return open_existing(url)
    except (StoreUnavailable, StoreError, UserError) as exc:
        text = str(exc)
        return text if safe_url(url) in text else f"{safe_url(url)}: {text}"
