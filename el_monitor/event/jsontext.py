"""Capsules as JSON text, however deep they nest.

orjson reads 1,024 levels but writes only 254, so a valid event with a deep value where its
schema allows anything (an extra property inside an array item, say) would stop whatever
writes it out.  The standard library writes as deep as Python's recursion limit; past that
the event itself is left out of the text, and the rest of the capsule says which it was.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import orjson

TOO_DEEP = "(event nested too deep to write out)"


def capsule_json(capsule: dict) -> bytes:
    try:
        return orjson.dumps(capsule)
    except TypeError:  # nested too deep for orjson (or a string it will not encode)
        pass
    try:
        return json.dumps(capsule, separators=(",", ":")).encode()
    except (RecursionError, ValueError, TypeError):
        return json.dumps({**capsule, "event": TOO_DEEP}, default=str).encode()


def capsule_lines(capsules: Iterable[dict]) -> bytes:
    """JSON lines of capsules, as the spool and the rescue file hold them."""
    return b"".join(capsule_json(c) + b"\n" for c in capsules)
