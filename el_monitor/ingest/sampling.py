"""Per-schema sampling: keep about 1 in N events, decided by a stable hash.

The hash covers the schema's ``sample_key`` fields (falling back to the capsule's uuid), so
one user's or one page view's events are kept or dropped together, and replaying the same
input keeps exactly the same events.  CRC-32 is enough here: the decision needs spread, not
secrecy, and it costs a tenth of a cryptographic hash.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from zlib import crc32

_SEPARATOR = "\x1f"


def field_value(event: dict, path: tuple[str, ...]) -> object:
    """The value at a dotted path inside an event, or None."""
    value: object = event
    for part in path:
        if type(value) is not dict:
            return None
        value = value.get(part)
    return value


class Sampler:
    """Decides whether one event of a schema is in sample: ``keep(capsule) -> bool``."""

    __slots__ = ("rate", "paths", "keep")

    def __init__(self, rate: int, sample_key: Sequence[str] = ()) -> None:
        if rate < 1:
            raise ValueError(f"sample rate must be at least 1, got {rate}")
        self.rate = rate
        self.paths = tuple(tuple(key.split(".")) for key in sample_key)
        # Built once per schema, specialised for the common shapes: no key, one top-level key.
        if not self.paths:
            self.keep = lambda capsule: crc32(capsule["uuid"].encode()) % rate == 0
        elif len(self.paths) == 1 and len(self.paths[0]) == 1:
            self.keep = _keep_by_field(self.paths[0][0], rate)
        else:
            key = self.key
            self.keep = lambda capsule: crc32(key(capsule).encode()) % rate == 0

    def key(self, capsule: dict) -> str:
        """What the decision hashes: the sample_key values, or the uuid when they are absent."""
        if self.paths:
            event = capsule["event"]
            values = [_text(field_value(event, path)) for path in self.paths]
            if any(v is not None for v in values):
                return _SEPARATOR.join("" if v is None else v for v in values)
        return capsule["uuid"]


def _text(value: object) -> str | None:
    """A key value as text; an object or array counts as absent: it is no key, and its text
    would cost a walk of whatever the wire sent (one nested 1,000 deep stops ``str()``)."""
    cls = value.__class__
    if cls is str:
        return value  # type: ignore[return-value]
    if cls is int or cls is float or cls is bool:
        return str(value)
    return None


def _keep_by_field(name: str, rate: int) -> Callable[[dict], bool]:
    def keep(capsule: dict) -> bool:
        value = capsule["event"].get(name)
        if value.__class__ is not str:
            value = _text(value) or capsule["uuid"]
        return crc32(value.encode()) % rate == 0

    return keep
