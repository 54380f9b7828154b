"""The opt-out list file: JSON lines of ``{"hash": …, "added": …}``, one per opted-out user.

Readers take the list as it was at one moment (``OptOutList``) and can tell when the file has
been replaced since (``file_stamp``).  Writers add or remove one entry under a lock and replace
the file whole, so concurrent operators never lose an entry and readers never see half a list.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from el_monitor import atomic
from el_monitor.errors import UserError
from el_monitor.optout.identity import HASH_RE, hash_for

if TYPE_CHECKING:
    from el_monitor.catalog.model import Catalog

DEFAULT_OPTOUT_FILE = "el-monitor-optout.jsonl"

FileStamp = tuple[int, int, int]  # inode, mtime in ns, size


class OptOutEntry(NamedTuple):
    hash: str
    added: str  # ISO 8601 UTC, e.g. 2026-11-28T05:00:00Z


def _stamp(st: os.stat_result) -> FileStamp:
    return st.st_ino, st.st_mtime_ns, st.st_size


def file_stamp(path: Path) -> FileStamp | None:
    """What changes whenever the file is rewritten (os.replace gives a new inode); None when
    it is not there."""
    try:
        return _stamp(path.stat())
    except OSError:
        return None


@dataclass(frozen=True)
class OptOutList:
    """The opt-out file as read at one moment.  ``mtime`` is None when the file is missing."""

    path: Path
    entries: tuple[OptOutEntry, ...] = ()
    mtime: float | None = None
    stamp: FileStamp | None = field(default=None, repr=False, compare=False)
    hashes: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "hashes", frozenset(e.hash for e in self.entries))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> OptOutList:
        """Read the list; a missing file is an empty list, a malformed line an error."""
        path = Path(path)
        try:
            with path.open("rb") as file:
                st = os.fstat(file.fileno())
                data = file.read()
        except FileNotFoundError:
            return cls(path)
        except OSError as exc:
            raise UserError(f"opt-out list {path}: {exc.strerror}") from None
        entries: dict[str, OptOutEntry] = {}
        for number, line in enumerate(data.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                entry = OptOutEntry(obj["hash"], obj["added"])
            except (ValueError, TypeError, KeyError):
                raise UserError(
                    f'{path}:{number}: not an opt-out entry {{"hash": …, "added": …}}; '
                    "fix or remove the line"
                ) from None
            if not isinstance(entry.hash, str) or not HASH_RE.fullmatch(entry.hash):
                raise UserError(f"{path}:{number}: hash must be 64 lowercase hex digits")
            if not isinstance(entry.added, str):
                raise UserError(f"{path}:{number}: added must be a date string")
            entries.setdefault(entry.hash, entry)
        return cls(path, tuple(entries.values()), st.st_mtime, _stamp(st))

    def changed(self) -> bool:
        """Whether the file on disk is no longer the one this list was read from."""
        return file_stamp(self.path) != self.stamp

    def save(self) -> OptOutList:
        """Write atomically (readers see the old or the new list, never half of one)."""
        text = "".join(json.dumps({"hash": e.hash, "added": e.added}) + "\n" for e in self.entries)
        replace_file(self.path, text.encode())
        return OptOutList.load(self.path)


def replace_file(path: Path, data: bytes) -> None:
    """``path`` replaced whole (the list, or a purge checkpoint beside it); a failure is a
    one-line UserError."""
    try:
        atomic.write_atomically(path, data)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror}") from None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise read-modify-write of the list, so two operators never lose an entry."""
    lock = path.with_name(f".{path.name}.lock")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)  # the state directory, on first use
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise UserError(f"cannot lock {path} (via {lock}): {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def add_optout(
    path: str | os.PathLike[str], secret: bytes, wiki: str, kind: str, value: str
) -> tuple[str, bool]:
    """Record one user's opt-out; returns (hash, whether it was new).  Idempotent."""
    path = Path(path)
    digest = hash_for(secret, wiki, kind, value)
    with _locked(path):
        current = OptOutList.load(path)
        if digest in current.hashes:
            return digest, False
        entries = (*current.entries, OptOutEntry(digest, _now()))
        OptOutList(path, entries).save()
    return digest, True


def remove_optout(path: str | os.PathLike[str], digest: str) -> bool:
    """Drop one entry by hash; returns whether it was there."""
    path = Path(path)
    if not HASH_RE.fullmatch(digest):
        raise UserError("--hash must be 64 lowercase hex digits, as `optout list` shows")
    with _locked(path):
        current = OptOutList.load(path)
        if digest not in current.hashes:
            return False
        OptOutList(path, tuple(e for e in current.entries if e.hash != digest)).save()
    return True


def resolve_optout_path(
    optout_file: str | os.PathLike[str] | None, catalog: Catalog | None
) -> Path:
    """``--optout-file``, else the catalog's ``optout_file``, else ``DEFAULT_OPTOUT_FILE`` in
    the state directory (``state_directory``): never the working directory, so every command
    of a host, wherever it runs from, reads the same list."""
    if optout_file:
        return Path(optout_file)
    if catalog is not None and catalog.optout_file:
        return Path(catalog.optout_file)  # the catalog made it relative to itself
    return state_directory() / DEFAULT_OPTOUT_FILE


def state_directory() -> Path:
    """Where el-monitor keeps state by default: systemd's ``$STATE_DIRECTORY`` (its first
    entry) for a service, else ``$XDG_STATE_HOME/el-monitor``, else
    ``~/.local/state/el-monitor``."""
    given = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    if given:
        return Path(given)
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "el-monitor"
