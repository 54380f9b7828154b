"""``--db-file``: the database the forwarder writes to, named in a file it re-reads.

A failover drill (or an operator) re-points a running forwarder by rewriting the file and
sending SIGHUP; a change on disk is noticed too, like the catalog's.  The URL is the file's first
line that is neither blank nor a ``#`` comment; a file without one points the forwarder
nowhere: it keeps accepting and spools (or holds) as when the database is away.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from el_monitor.errors import UserError
from el_monitor.optout.listfile import FileStamp, file_stamp
from el_monitor.store import Store
from el_monitor.store.base import safe_url, url_with_password_file

log = logging.getLogger(__name__)

NOWHERE = "nowhere"  # how logs name an empty target


def describe(url: str | None) -> str:
    """A target for logs: its URL without the password, or ``nowhere``."""
    return safe_url(url) if url else NOWHERE


def parse_target(text: str) -> str | None:
    """The URL in a database file's text: its first line that is not blank or a comment."""
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            return line
    return None


class Retarget(NamedTuple):
    """A new target read from the file: ``store`` is None when it points nowhere."""

    url: str | None
    store: Store | None


class TargetFile:
    """The file and the URL in force (``url``, set by whoever opened the first store);
    ``reload`` opens a new store (with ``opener``: it raises UserError for a bad URL, and
    connects on first use) only when the URL moved."""

    def __init__(
        self,
        path: str | os.PathLike,
        opener: Callable[[str], Store],
        password_file: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.opener = opener
        self.password_file = password_file  # --db-password-file: put in the URL read
        self.url: str | None = None
        self._stamp: FileStamp | None = None
        self._refused = ""  # the last refusal logged: a SIGHUP after the change says it once

    def read(self) -> str | None:
        """The URL the file names now (None: nowhere); UserError when it cannot be read."""
        self._stamp = file_stamp(self.path)  # taken before reading: no change is missed
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise UserError(f"cannot read the database file {self.path}: {reason}") from None
        url = parse_target(text)
        if url is None or self.password_file is None:
            return url
        return url_with_password_file(url, self.password_file)

    def changed(self) -> bool:
        return file_stamp(self.path) != self._stamp

    def reload(self) -> Retarget | None:
        """The new target when the file names another one; None when it names the same, or
        when it cannot be used (said in one log line, once per change of the file)."""
        try:
            url = self.read()
            if url == self.url:
                return None
            store = self.opener(url) if url else None
        except UserError as exc:
            if str(exc) != self._refused:
                self._refused = str(exc)
                log.error("database file %s refused, still writing to %s: %s",
                          self.path, describe(self.url), exc)  # fmt: skip
            return None
        self._refused = ""
        return Retarget(url, store)

    def switched(self, url: str | None) -> None:
        """The forwarder now writes to ``url``."""
        log.warning("database target is now %s (was %s)", describe(url), describe(self.url))
        self.url = url
