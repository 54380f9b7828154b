"""Who a list entry stands for: a user id or a token on one wiki, as a keyed hash.

An entry is ``HMAC-SHA256(secret, "<wiki>\\x1f<kind>\\x1f<value>")`` in hex, ``kind`` being
``user-id`` (value: the decimal id) or ``token``.  Only the hash is ever written: without the
site secret the list says nothing about who opted out, and an id is never stored, logged or
printed.  This module is the one definition of that message, of a canonical user id and of
which field names mean a user id.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from el_monitor.errors import UserError

USER_ID = "user-id"
TOKEN = "token"
KINDS = (USER_ID, TOKEN)
HASH_RE = re.compile(r"[0-9a-f]{64}")  # an entry as the list and `optout list` show it
WIKI_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")  # wiki database names: enwiki, zh_min_nanwiki
_SEP = "\x1f"


def kind_mark(kind: str) -> str:
    """What stands between wiki and value in the hashed message of ``kind``; the matcher
    builds its messages from these so that both ends hash the same text."""
    return f"{_SEP}{kind}{_SEP}"


def identity_hash(secret: bytes, wiki: str, kind: str, value: str | int) -> str:
    """The list entry for one user (``value``: decimal user id or token) on one wiki."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    message = f"{wiki}{kind_mark(kind)}{value}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def canonical_user_id(digits: str) -> str:
    """ASCII digits as ``str(int(digits))`` would give them, at any length (``int()`` refuses
    strings of over 4,300 digits, and one arrives from the wire as easily as any other)."""
    return digits.lstrip("0") or "0"


def names_user_id(path: str) -> bool:
    """Whether a user field's path names a user id, so that a digit string in it is an id
    (``"042"`` is user 42) rather than a token."""
    lower = path.lower()
    return "user_id" in lower or "userid" in lower


def check_identity(wiki: str, kind: str, value: str) -> str:
    """The canonical value text of an identity given on the command line; refuses what
    could never match an event."""
    if not WIKI_RE.fullmatch(wiki):
        raise UserError(f"--wiki {wiki!r} is not a wiki database name (e.g. enwiki)")
    if kind == USER_ID:
        if not (value.isascii() and value.isdigit()):
            raise UserError("--user-id must be a decimal user id (digits only)")
        if canonical_user_id(value) == "0":
            raise UserError("--user-id 0 is every logged-out user, not one user")
        return canonical_user_id(value)
    if kind != TOKEN:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    if not value:
        raise UserError("--token must not be empty")
    return value


def hash_for(secret: bytes, wiki: str, kind: str, value: str) -> str:
    """The entry recorded for an identity given on the command line (checked first)."""
    return identity_hash(secret, wiki, kind, check_identity(wiki, kind, value))
