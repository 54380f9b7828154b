"""The databases of the backup chain, opened for a check: a hop's URL with the password from its
``password_file`` (never written in the catalog), and the store, or why it cannot be had."""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

from el_monitor.catalog.model import BackupHop
from el_monitor.errors import UserError
from el_monitor.store import Store, StoreError, StoreUnavailable, open_existing
from el_monitor.store.base import safe_url


def hop_url(hop: BackupHop) -> str:
    """``hop.db`` with the password of ``hop.password_file`` in it (UserError when the file
    cannot be read)."""
    assert hop.db is not None
    if hop.password_file is None:
        return hop.db
    try:
        with open(hop.password_file, encoding="utf-8") as file:
            password = file.readline().rstrip("\r\n")
    except OSError as exc:
        raise UserError(f"hop {hop.name}: cannot read password_file: {exc}") from None
    parts = urlsplit(hop.db)
    user = parts.username or "root"
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{user}:{quote(password, safe='')}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def open_database(url: str) -> Store | str:
    """The store at ``url``, or one line saying why it cannot be reached."""
    try:
        return open_existing(url)
    except (StoreUnavailable, StoreError, UserError) as exc:
        text = str(exc)
        return text if safe_url(url) in text else f"{safe_url(url)}: {text}"
