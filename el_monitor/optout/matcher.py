"""Is this event from an opted-out user?  Asked of every event on the forwarder's hot path.

So it is built for speed: constant-false when the list is empty, each schema's check built once
with its field paths split, and the keyed hash computed from precomputed HMAC states.  The
purge asks the same question of stored values through ``value_lookup``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from el_monitor.optout.identity import TOKEN, USER_ID, canonical_user_id, kind_mark, names_user_id

if TYPE_CHECKING:
    from _hashlib import HASH

    from el_monitor.catalog.model import Catalog

Capsule = dict[str, Any]  # a parsed EventLogging capsule
OptOutCheck = Callable[[Capsule], bool]  # capsule → whether its user opted out
ValueLookup = Callable[[str, object, bool], bool]  # (wiki, value, named like a user id) → listed


def _never(capsule: Capsule) -> bool:
    return False


def _hmac_states(secret: bytes) -> tuple[HASH, HASH]:
    """sha256 states after HMAC's ipad and opad blocks: copying them beats ``hmac.new`` 2x."""
    key = hashlib.sha256(secret).digest() if len(secret) > 64 else secret
    key = key.ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
    return inner, outer


def value_lookup(secret: bytes, hashes: Iterable[str]) -> ValueLookup:
    """``lookup(wiki, value, id_by_name)``: one keyed hash and a set lookup.

    Ints are user ids; so are digit strings in fields named like a user id (``"042"`` and
    ``42`` are one user); other non-empty strings are tokens; integral floats are ids too.
    Booleans, null, lists and objects are nobody.  Nothing is cached: inside the forwarder a
    probe of a large answer cache was measured to cost as much as the HMAC it saves, and
    without one no memory grows with the values the wire sends.
    """
    digests = frozenset(bytes.fromhex(h) for h in hashes)  # no hexdigest per event
    inner0, outer0 = _hmac_states(secret)
    user_id, token = kind_mark(USER_ID), kind_mark(TOKEN)

    def lookup(wiki: str, value: object, id_by_name: bool) -> bool:
        if type(value) is str:
            if id_by_name and value.isascii() and value.isdigit():
                message = f"{wiki}{user_id}{canonical_user_id(value)}"
            elif value:
                message = f"{wiki}{token}{value}"
            else:
                return False
        elif type(value) is int:
            message = f"{wiki}{user_id}{value}"
        elif type(value) is float and value.is_integer():
            message = f"{wiki}{user_id}{int(value)}"
        else:
            return False
        inner = inner0.copy()
        inner.update(message.encode())
        outer = outer0.copy()
        outer.update(inner.digest())
        return outer.digest() in digests

    return lookup


def _check(lookup: ValueLookup, user_fields: Sequence[str]) -> OptOutCheck:
    """One schema's check, its field paths split once."""
    fields = tuple(
        (keys[0], tuple(keys[1:]), names_user_id(path))
        for path in user_fields
        for keys in [path.split(".")]
    )

    def check(capsule: Capsule) -> bool:
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
        self._lookup = value_lookup(secret, self.hashes)

    def check_for(self, user_fields: Sequence[str]) -> OptOutCheck | None:
        """The check for events of a schema with these user fields; None when it has none."""
        if not user_fields:
            return None
        return _check(self._lookup, user_fields) if self.active else _never

    def matches(self, capsule: Capsule) -> bool:
        """The catalog's check for this capsule's schema (the forwarder keeps one per schema)."""
        check = self.check_for(self._catalog.policy(capsule["schema"]).user_fields)
        return check is not None and capsule["event"].__class__ is dict and check(capsule)
