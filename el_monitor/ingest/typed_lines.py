"""JSON lines decoded in C straight into a checked, row-ready event, for runs of one schema.

A line is usually one more event of the schema the line before it had.  For such a schema
(flat scalar properties, every keyword translated exactly: ``schema.typed.flat_event``)
msgspec decodes the whole line into an envelope whose event is an ``EventRow`` of the
table's columns: the JSON is read once, the event checked as it is read, and its row is one
``astuple`` away.  On a real NavigationTiming line that is about half of ``orjson.loads``
and the validator together.

Only a line msgspec takes whole goes this way: one of another schema or revision, an invalid
event, a null where the schema wants a value, an unknown key, a string longer than its
column — anything else — is decoded again by the usual path (orjson, the capsule checks, the
generated validator), with the same verdicts and messages as ever.  A decoded value is what
orjson gives for the same text: ints beyond an int64 (orjson's floats past 2**64) are
refused.  The pipeline says which schema to expect (``expect``) after each valid event it
decoded the usual way, and only for schemas it neither samples nor checks for opt-outs: the
EventRow is for the store, which alone reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, NamedTuple, Union

import msgspec

from el_monitor.schema.typed import flat_event
from el_monitor.store.mapping import (
    VARCHAR,
    VARCHAR_LIMIT,
    EventRow,
    StoreError,
    Value,
    event_columns,
    event_row_type,
)

UNSET = msgspec.UNSET
# The ints orjson decodes as ints, as far as msgspec bounds go (orjson makes larger ones floats).
_INT = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
# The optional capsule keys, each holding what the capsule checks accept but null: a null
# goes the usual way, where it means what it always did.
_OPTIONAL: list[tuple[str, Any, Any]] = [
    ("webHost", str, UNSET),
    ("timestamp", Union[_INT, float, str], UNSET),  # noqa: UP007
    ("recvFrom", str, UNSET),
    ("seqId", Union[_INT, str], UNSET),  # noqa: UP007
    ("userAgent", str, UNSET),
    ("uuid", str, UNSET),
    ("topic", str, UNSET),
]


class _Expected(NamedTuple):
    decode: Any  # msgspec.json.Decoder(...).decode of the envelope
    schema: str
    revision: str


class TypedLines:
    """Decoders of whole lines by (schema, revision); ``decode`` tries the expected one.

    ``empty`` is what the store's rows hold where an event has no value (``Store.empty``):
    an EventRow carries it, so its fields are the row's values as they stand."""

    def __init__(self, empty: Value) -> None:
        self.empty = empty
        self._decoders: dict[tuple[str, str], _Expected | None] = {}
        self._expected: _Expected | None = None

    def expect(self, key: tuple[str, str], schema: Mapping[str, Any]) -> None:
        """Try ``key``'s decoder first from the next line on (``schema``: its effective
        schema, read once)."""
        try:
            expected = self._decoders[key]
        except KeyError:
            expected = self._decoders[key] = self._decoder(key, schema)
        self._expected = expected

    def retarget(self, empty: Value) -> None:
        """Make events for a store whose rows hold ``empty`` where an event has no value."""
        if empty is not self.empty:
            self.empty = empty
            self.forget()

    def forget(self) -> None:
        """Decode nothing typed until told again (a new policy may sample or check a schema)."""
        self._decoders = {}
        self._expected = None

    def decode(self, line: bytes) -> dict | None:
        """The line as a capsule object whose event is an EventRow, or None: decode it the
        usual way."""
        expected = self._expected
        if expected is None:
            return None
        try:
            envelope = expected.decode(line)
        except msgspec.DecodeError:  # (ValidationError is one)
            return None
        revision = envelope.revision
        if envelope.schema != expected.schema or (
            revision != expected.revision and str(revision) != expected.revision
        ):
            return None
        obj = {
            "schema": envelope.schema,
            "revision": revision,
            "wiki": envelope.wiki,
            "event": envelope.event,
        }
        for key in _OPTIONAL_KEYS:
            value = getattr(envelope, key)
            if value is not UNSET:
                obj[key] = value
        return obj

    def _decoder(self, key: tuple[str, str], schema: Mapping[str, Any]) -> _Expected | None:
        row_type = event_row(schema, self.empty)
        if row_type is None:
            return None
        envelope = msgspec.defstruct(
            "Capsule",
            [
                ("schema", str),
                ("revision", Union[str, int]),  # noqa: UP007
                ("wiki", str),
                ("event", row_type),
                *_OPTIONAL,
            ],
            kw_only=True,
            forbid_unknown_fields=True,
            gc=False,
        )
        return _Expected(msgspec.json.Decoder(envelope).decode, *key)


_OPTIONAL_KEYS = tuple(name for name, _, _ in _OPTIONAL)


def event_row(schema: Mapping[str, Any], empty: Value) -> type[EventRow] | None:
    """The EventRow of the columns the forwarder makes for ``schema``, accepting only what
    the schema accepts and those columns store unchanged; None when there is none."""
    try:
        columns = event_columns(schema)
    except StoreError:
        return None
    limits = {c.name[6:]: VARCHAR_LIMIT for c in columns if c.kind == VARCHAR}
    types = flat_event(schema, limits)
    if types is None:
        return None
    return event_row_type(columns, types, empty)
