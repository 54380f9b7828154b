"""User opt-out: a list of keyed hashes, the forwarder's matcher, and the purge of stored rows.

An entry is ``HMAC-SHA256(secret, "<wiki>\\x1f<kind>\\x1f<value>")`` in hex, ``kind`` being
``user-id`` (value: the decimal id) or ``token``.  Only the hash is ever written: without the
site secret the list says nothing about who opted out, and an id is never stored, logged or
printed.  The matcher answers "is this capsule from an opted-out user?" for every event before
anything is stored or logged, so it is built for the hot path: constant-false when the list is
empty, per-schema checks built once, precomputed HMAC states.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import logging
import os
import re
import stat
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from el_monitor import atomic
from el_monitor.errors import UserError

if TYPE_CHECKING:
    from el_monitor.catalog.model import Catalog

__all__ = [
    "DEFAULT_OPTOUT_FILE",
    "SECRET_ENV",
    "USER_ID",
    "TOKEN",
    "OptOutEntry",
    "OptOutList",
    "OptOutMatcher",
    "add_optout",
    "hash_for",
    "identity_hash",
    "read_secret_file",
    "remove_optout",
    "resolve_optout_path",
    "resolve_secret",
]

log = logging.getLogger(__name__)

USER_ID = "user-id"
TOKEN = "token"
KINDS = (USER_ID, TOKEN)
SECRET_ENV = "EL_MONITOR_SECRET"
DEFAULT_OPTOUT_FILE = "el-monitor-optout.jsonl"
HASH_RE = re.compile(r"[0-9a-f]{64}")
WIKI_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")  # wiki database names: enwiki, zh_min_nanwiki
_SEP = "\x1f"


# --- identity ------------------------------------------------------------------------------


def identity_hash(secret: bytes, wiki: str, kind: str, value: str | int) -> str:
    """The list entry for one user (``value``: decimal user id or token) on one wiki."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    message = f"{wiki}{_SEP}{kind}{_SEP}{value}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def _decimal(digits: str) -> str:
    """ASCII digits as ``str(int(digits))`` would give them, at any length (``int()`` refuses
    strings of over 4,300 digits, and one arrives from the wire as easily as any other)."""
    return digits.lstrip("0") or "0"


def names_user_id(path: str) -> bool:
    lower = path.lower()
    return "user_id" in lower or "userid" in lower


def _hmac_states(secret: bytes) -> tuple[Any, Any]:
    """sha256 states after HMAC's ipad and opad blocks: copying them beats ``hmac.new`` 2x."""
    key = hashlib.sha256(secret).digest() if len(secret) > 64 else secret
    key = key.ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
    return inner, outer


# --- secret and file locations -------------------------------------------------------------


def read_secret_file(path: str | os.PathLike) -> bytes:
    """The secret in ``path`` without its trailing newline; warns when others can read it."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            mode = os.fstat(file.fileno()).st_mode
            data = file.read()
    except OSError as exc:
        raise UserError(f"secret file {path}: {exc.strerror}") from None
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        log.warning("secret file %s is readable by group or others: chmod 600 it", path)
    if data.endswith(b"\n"):
        data = data[:-2] if data.endswith(b"\r\n") else data[:-1]
    if not data:
        raise UserError(f"secret file {path} is empty: put the site secret in it")
    return data


def resolve_secret(
    secret_file: str | os.PathLike | None,
    catalog: Catalog | None = None,
    environ: Mapping[str, str] | None = None,
) -> bytes:
    """The site secret: ``--secret-file``, else the catalog's ``secret_file``, else
    ``$EL_MONITOR_SECRET``.  Without one no hash can be computed, so it is an error."""
    if secret_file:
        return read_secret_file(secret_file)
    if catalog is not None and catalog.secret_file:
        return read_secret_file(catalog.secret_file)
    value = (os.environ if environ is None else environ).get(SECRET_ENV)
    if value:
        return value.encode()
    raise UserError(
        "no opt-out secret: pass --secret-file FILE, set secret_file in the catalog "
        f"(--config), or set the {SECRET_ENV} environment variable"
    )


def resolve_optout_path(optout_file: str | os.PathLike | None, catalog: Catalog | None) -> Path:
    """``--optout-file``, else the catalog's ``optout_file``, else ./el-monitor-optout.jsonl."""
    if optout_file:
        return Path(optout_file)
    if catalog is not None and catalog.optout_file:
        return Path(catalog.optout_file)  # the catalog made it relative to itself
    return Path(DEFAULT_OPTOUT_FILE)


# --- the list ------------------------------------------------------------------------------


class OptOutEntry(NamedTuple):
    hash: str
    added: str  # ISO 8601 UTC, e.g. 2026-11-28T05:00:00Z


def file_stamp(path: Path) -> tuple[int, int, int] | None:
    """What changes whenever the file is rewritten (os.replace gives a new inode); None when
    it is not there."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


@dataclass(frozen=True)
class OptOutList:
    """The opt-out file as read at one moment.  ``mtime`` is None when the file is missing."""

    path: Path
    entries: tuple[OptOutEntry, ...] = ()
    mtime: float | None = None
    stamp: tuple[int, int, int] | None = field(default=None, repr=False, compare=False)
    hashes: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "hashes", frozenset(e.hash for e in self.entries))

    @classmethod
    def load(cls, path: str | os.PathLike) -> OptOutList:
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
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        return cls(path, tuple(entries.values()), st.st_mtime, stamp)

    def changed(self) -> bool:
        """Whether the file on disk is no longer the one this list was read from."""
        return file_stamp(self.path) != self.stamp

    def save(self) -> OptOutList:
        """Write atomically (readers see the old or the new list, never half of one)."""
        text = "".join(json.dumps({"hash": e.hash, "added": e.added}) + "\n" for e in self.entries)
        write_atomically(self.path, text.encode())
        return OptOutList.load(self.path)


def write_atomically(path: Path, data: bytes) -> None:
    """The list (or a purge checkpoint) replaced whole; a failure is a one-line UserError."""
    try:
        atomic.write_atomically(path, data)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror}") from None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise read-modify-write of the list, so two operators never lose an entry."""
    lock = path.with_name(f".{path.name}.lock")
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise UserError(f"cannot lock {path} (via {lock}): {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _check_identity(wiki: str, kind: str, value: str) -> str:
    """The canonical value text; refuses what could never match an event."""
    if not WIKI_RE.fullmatch(wiki):
        raise UserError(f"--wiki {wiki!r} is not a wiki database name (e.g. enwiki)")
    if kind == USER_ID:
        if not (value.isascii() and value.isdigit()):
            raise UserError("--user-id must be a decimal user id (digits only)")
        if _decimal(value) == "0":
            raise UserError("--user-id 0 is every logged-out user, not one user")
        return _decimal(value)
    if kind != TOKEN:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    if not value:
        raise UserError("--token must not be empty")
    return value


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def add_optout(
    path: str | os.PathLike, secret: bytes, wiki: str, kind: str, value: str
) -> tuple[str, bool]:
    """Record one user's opt-out; returns (hash, whether it was new).  Idempotent."""
    path = Path(path)
    digest = identity_hash(secret, wiki, kind, _check_identity(wiki, kind, value))
    with _locked(path):
        current = OptOutList.load(path)
        if digest in current.hashes:
            return digest, False
        entries = (*current.entries, OptOutEntry(digest, _now()))
        OptOutList(path, entries).save()
    return digest, True


def remove_optout(path: str | os.PathLike, digest: str) -> bool:
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


def hash_for(secret: bytes, wiki: str, kind: str, value: str) -> str:
    """The entry ``add_optout`` would record (for ``remove`` by id or token)."""
    return identity_hash(secret, wiki, kind, _check_identity(wiki, kind, value))


# --- the matcher ---------------------------------------------------------------------------

OptOutCheck = Callable[[dict], bool]  # capsule → whether its user opted out
Lookup = Callable[[str, object, bool], bool]  # (wiki, value, named like a user id) → on list


def _never(capsule: dict) -> bool:
    return False


def _lookup(secret: bytes, digests: frozenset[bytes]) -> Lookup:
    """``lookup(wiki, value, id_by_name)``: one keyed hash and a set lookup.

    Ints are user ids; so are digit strings in fields named like a user id (``"042"`` and
    ``42`` are one user); other non-empty strings are tokens; integral floats are ids too.
    Booleans, null, lists and objects are nobody.  Nothing is cached: inside the forwarder a
    probe of a large answer cache was measured to cost as much as the HMAC it saves, and
    without one no memory grows with the values the wire sends.
    """
    inner0, outer0 = _hmac_states(secret)

    def lookup(wiki: str, value: object, id_by_name: bool) -> bool:
        cls = value.__class__
        if cls is str:
            if id_by_name and value.isascii() and value.isdigit():  # type: ignore[attr-defined]
                message = f"{wiki}\x1fuser-id\x1f{_decimal(value)}"  # type: ignore[arg-type]
            elif value:
                message = f"{wiki}\x1ftoken\x1f{value}"
            else:
                return False
        elif cls is int or (cls is float and value.is_integer()):  # type: ignore[attr-defined]
            message = f"{wiki}\x1fuser-id\x1f{int(value)}"  # type: ignore[call-overload]
        else:
            return False
        inner = inner0.copy()
        inner.update(message.encode())
        outer = outer0.copy()
        outer.update(inner.digest())
        return outer.digest() in digests

    return lookup


def _check(lookup: Lookup, user_fields: Sequence[str]) -> OptOutCheck:
    """One schema's check, its field paths split once."""
    fields = tuple(
        (keys[0], tuple(keys[1:]), names_user_id(path))
        for path in user_fields
        for keys in [path.split(".")]
    )

    def check(capsule: dict) -> bool:
        event = capsule["event"]
        for first, rest, id_by_name in fields:
            value = event.get(first)
            for key in rest:
                value = value.get(key) if value.__class__ is dict else None
            if value is not None and lookup(capsule["wiki"], value, id_by_name):
                return True
        return False

    return check


class OptOutMatcher:
    """Is this event from a user on the list?  Built for the forwarder's hot path.

    ``check_for(user_fields)`` gives one schema's check, its field paths split once; a list
    with no entries gives checks that cost one call.  Build a new matcher when the list, the
    secret or the catalog changes.
    """

    def __init__(self, secret: bytes, hashes: frozenset[str], catalog: Catalog) -> None:
        self.hashes = frozenset(hashes)
        self.active = bool(self.hashes)  # False: callers may skip the check altogether
        self._catalog = catalog
        digests = frozenset(bytes.fromhex(h) for h in self.hashes)  # no hexdigest per event
        self.value_matches = _lookup(secret, digests)

    def check_for(self, user_fields: Sequence[str]) -> OptOutCheck | None:
        """The check for events of a schema with these user fields; None when it has none."""
        if not user_fields:
            return None
        return _check(self.value_matches, user_fields) if self.active else _never

    def matches(self, capsule: dict) -> bool:
        """The catalog's check for this capsule's schema (the forwarder keeps one per schema)."""
        check = self.check_for(self._catalog.policy(capsule["schema"]).user_fields)
        return check is not None and capsule["event"].__class__ is dict and check(capsule)
