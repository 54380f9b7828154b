"""Capsules as JSON text, however deep they nest; object keys as decoded lines hold them.

orjson reads 1,024 levels but writes only 254, so a valid event with a deep value where its
schema allows anything (an extra property inside an array item, say) would stop whatever
writes it out.  The standard library writes as deep as Python's recursion limit; past that
the event itself is left out of the text, and the rest of the capsule says which it was.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TypeVar, cast

import msgspec
import orjson

TOO_DEEP = "(event nested too deep to write out)"
_Key = TypeVar("_Key")


def capsule_json(capsule: dict) -> bytes:
    """The capsule as JSON; an event a typed line decoded (a ``msgspec.Struct``) is written
    as the object it was."""
    try:
        return orjson.dumps(capsule, default=msgspec.to_builtins)
    except TypeError:  # nested too deep for orjson (or a string it will not encode)
        pass
    try:
        return json.dumps(capsule, separators=(",", ":"), default=msgspec.to_builtins).encode()
    except (RecursionError, ValueError, TypeError):
        return json.dumps({**capsule, "event": TOO_DEEP}, default=str).encode()


def decoded_key(name: _Key) -> _Key:
    """``name`` as the very str object ``orjson.loads`` returns for an object key spelt so.

    orjson keeps one str per key (up to 64 bytes, 2,048 of them: its documented key cache)
    for the life of the process, so a dict decoded from a line holds exactly this object.
    A lookup by it matches by identity, where a lookup by an equal literal compares the
    characters every time: a quarter of validating a wide event.  Only speed depends on it:
    a key pushed out of orjson's cache is still found, by equality.  Anything that cannot be
    a decoded key (not a str, a lone surrogate) is returned as it is.
    """
    if type(name) is not str:
        return name
    try:
        return cast(_Key, next(iter(orjson.loads(orjson.dumps({name: None})))))
    except orjson.JSONEncodeError:
        return name


def capsule_lines(capsules: Iterable[dict]) -> bytes:
    """JSON lines of capsules, as the spool and the rescue file hold them."""
    return b"".join(capsule_json(c) + b"\n" for c in capsules)
