"""The drill's hold on a running forwarder: its pid file and its ``--db-file``.

Re-pointing writes the database file whole, then sends SIGHUP (``forward --db-file``); the
forwarder's user, password and database stay, only the server changes.  What the file held
before is kept, so an aborted drill puts it back.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from el_monitor.atomic import write_atomically
from el_monitor.errors import UserError
from el_monitor.ingest.target import parse_target


def moved_url(url: str, server_url: str) -> str:
    """``url`` (user, password, database kept) on the host and port of ``server_url``."""
    parts, server = urlsplit(url), urlsplit(server_url)
    if not server.hostname:
        raise UserError(f"no host in {server_url!r}")
    host = f"[{server.hostname}]" if ":" in server.hostname else server.hostname
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = (userinfo + "@" if userinfo else "") + host
    netloc += f":{server.port}" if server.port else ""
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def server_address(url: str) -> tuple[str, int]:
    """The host and port a URL names (MySQL's 3306 when it names none)."""
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or 3306


def same_server(url: str, other: str) -> bool:
    return server_address(url) == server_address(other)


class ForwarderLink:
    def __init__(self, pid_file: str | os.PathLike, db_file: str | os.PathLike) -> None:
        self.pid_file = Path(pid_file)
        self.db_file = Path(db_file)
        self.original: bytes | None = None  # the file before the drill changed it

    def pid(self) -> int:
        """The forwarder's pid, checked alive; UserError otherwise."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError) as exc:
            raise UserError(
                f"cannot read the forwarder's pid from {self.pid_file}: {exc}"
            ) from None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            raise UserError(
                f"the forwarder of {self.pid_file} (pid {pid}) is not running"
            ) from None
        except PermissionError:
            raise UserError(f"not allowed to signal the forwarder (pid {pid})") from None
        return pid

    def url(self) -> str | None:
        """The URL the database file names now (None: nowhere)."""
        try:
            return parse_target(self.db_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(
                f"cannot read the forwarder's database file {self.db_file}: {exc}"
            ) from None

    def point(self, url: str, note: str) -> None:
        """Write ``url`` (under a ``# note`` line) and SIGHUP the forwarder."""
        pid = self.pid()
        if self.original is None:
            self.original = self.db_file.read_bytes()
        self._write(f"# {note}\n{url}\n".encode())
        os.kill(pid, signal.SIGHUP)

    def restore(self) -> bool:
        """Put the file back as it was before ``point`` and SIGHUP; False if nothing changed."""
        if self.original is None:
            return False
        self._write(self.original)
        self.original = None
        os.kill(self.pid(), signal.SIGHUP)
        return True

    def _write(self, data: bytes) -> None:
        try:
            write_atomically(self.db_file, data)
        except OSError as exc:
            raise UserError(
                f"cannot write the database file {self.db_file}: {exc.strerror}"
            ) from None
