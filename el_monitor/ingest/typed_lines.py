"""Capsule JSON decoded in C straight into a checked, row-ready event.

For a schema of flat scalar properties, every keyword translated exactly
(``schema.typed.flat_event``), msgspec decodes a capsule's whole JSON into an envelope whose
event is an ``EventRow`` of the table's columns: the JSON is read once, the event checked as
it is read, and its row is one ``astuple`` away.  On a real NavigationTiming line that is
about half of ``orjson.loads`` and the validator together.  The decoder is chosen by the
schema name and revision found in the line's bytes, so mixed traffic costs one lookup a line;
a short line (``SHORTEST``, ``BYTES_PER_FIELD``) is left to the usual path, faster for it.

Only a capsule msgspec takes whole goes this way: one of another schema or revision, an
invalid event, a null where the schema wants a value, an unknown key, a string longer than
its column — anything else — is decoded again by the usual path (orjson, the capsule checks,
the generated validator), with the same verdicts and messages as ever.  A decoded value is
what orjson gives for the same text: ints beyond an int64 (orjson's floats past 2**64) are
refused.  The pipeline names a schema (``learn``) after a valid event of it, and only when
it neither samples nor checks it for opt-outs: the EventRow is for the store, which alone
reads it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, NamedTuple, Union

import msgspec

from el_monitor.schema.typed import INT64, flat_event
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
_INT = Annotated[int, msgspec.Meta(ge=INT64[0], le=INT64[1])]
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


class _KeyDecoder(NamedTuple):
    decode: Any  # msgspec.json.Decoder(...).decode of the envelope
    schema: str
    revision: str
    shortest: int  # lines shorter than this go the usual way (``BYTES_PER_FIELD``)


# A typed event fills every field of its schema, present or not, where a dict holds only what
# the line has: a line shorter than this many bytes for each field of its schema (a
# NavigationTiming line of a few fields, say) decodes faster the usual way.
BYTES_PER_FIELD = 8
# Nor does any line this short, whatever its schema: the lookup and the capsule's dict cost
# more than a small event's checks.
SHORTEST = 512


class TypedLines:
    """Decoders of capsules by the schema and revision their JSON names; ``decode`` finds the
    two in a line's bytes and tries that decoder.

    ``empty`` is what the store's rows hold where an event has no value (``Store.empty``):
    an EventRow carries it, so its fields are the row's values as they stand.  A line shorter
    than ``shortest`` bytes, or ``bytes_per_field`` for each field of its schema, goes the
    usual way."""

    def __init__(
        self, empty: Value, bytes_per_field: int = BYTES_PER_FIELD, shortest: int = SHORTEST
    ) -> None:
        self.empty = empty
        self.bytes_per_field = bytes_per_field
        self.shortest = shortest
        self._known: set[tuple[str, str]] = set()  # (schema, revision) pairs learnt
        # By the bytes that name a schema and revision where lines usually do (``_spellings``).
        self._decoders: dict[bytes, _KeyDecoder] = {}
        # The decoder of the last line found by its first bytes, and those bytes (ending with
        # a quoted revision): runs of one schema are told at the cost of a ``startswith``.
        self._last: _KeyDecoder | None = None
        self._prefix = b""

    def learn(self, key: tuple[str, str], schema: Mapping[str, Any]) -> None:
        """Decode ``key``'s lines typed from now on, if its schema (``schema``, effective)
        allows; the pipeline says so after a valid event of it."""
        if key in self._known:
            return
        self._known.add(key)
        decoder = self._decoder(key, schema)
        if decoder is not None:
            for spelling in _spellings(*key):
                self._decoders[spelling] = decoder

    def retarget(self, empty: Value) -> None:
        """Make events for a store whose rows hold ``empty`` where an event has no value."""
        if empty is not self.empty:
            self.empty = empty
            self.forget()

    def forget(self) -> None:
        """Decode nothing typed until told again (a new policy may sample or check a schema)."""
        self._known = set()
        self._decoders = {}
        self._last = None

    def decode(self, line: bytes) -> dict | None:
        """The line as a capsule object whose event is an EventRow, or None: decode it the
        usual way.  The schema and revision its bytes seem to name are a guess (they might be
        keys of the event), which the decoded capsule confirms or not."""
        if len(line) < self.shortest:
            return None
        decoder = self._last
        if decoder is None or not line.startswith(self._prefix):
            if not self._decoders:
                return None
            named = _NAMED_FIRST.match(line)
            if named is None:
                at = line.rfind(b'"revision":')
                named = _NAMED_AFTER.match(line, at) if at >= 0 else None
                if named is None:
                    return None
            decoder = self._decoders.get(named[0])
            if decoder is None:
                return None
            if named.start() == 0 and named[0][-1:] == b'"':  # (12 would begin 123 too)
                self._last, self._prefix = decoder, named[0]
        if len(line) < decoder.shortest:
            return None
        try:
            envelope = decoder.decode(line)
        except msgspec.DecodeError:  # (ValidationError is one)
            return None
        revision = envelope.revision
        if envelope.schema != decoder.schema or (
            revision != decoder.revision and str(revision) != decoder.revision
        ):
            return None
        # Written out: a loop over the keys with getattr took half again as long.
        obj = {
            "schema": envelope.schema,
            "revision": revision,
            "wiki": envelope.wiki,
            "event": envelope.event,
        }
        if (value := envelope.webHost) is not UNSET:
            obj["webHost"] = value
        if (value := envelope.timestamp) is not UNSET:
            obj["timestamp"] = value
        if (value := envelope.recvFrom) is not UNSET:
            obj["recvFrom"] = value
        if (value := envelope.seqId) is not UNSET:
            obj["seqId"] = value
        if (value := envelope.userAgent) is not UNSET:
            obj["userAgent"] = value
        if (value := envelope.uuid) is not UNSET:
            obj["uuid"] = value
        if (value := envelope.topic) is not UNSET:
            obj["topic"] = value
        return obj

    def _decoder(self, key: tuple[str, str], schema: Mapping[str, Any]) -> _KeyDecoder | None:
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
        shortest = self.bytes_per_field * len(row_type.columns)
        return _KeyDecoder(msgspec.json.Decoder(envelope).decode, *key, shortest)


# Where producers name the schema and revision: first (compact capsules), or together after
# the event (EventLogging's client: event, revision, schema, webHost, wiki).
_NAMED_FIRST = re.compile(rb'\{"schema": ?"[^"\\]*", ?"revision": ?(?:"[^"\\]*"|-?[0-9]+)')
_NAMED_AFTER = re.compile(rb'"revision": ?(?:"[^"\\]*"|-?[0-9]+), ?"schema": ?"[^"\\]*"')


def _spellings(schema: str, revision: str) -> list[bytes]:
    """The bytes ``_NAMED_FIRST`` and ``_NAMED_AFTER`` find where a line names ``schema`` and
    ``revision``: compact or spaced, the revision a string or (when it is one) an integer."""
    name = b'"' + schema.encode() + b'"'
    revisions = [b'"' + revision.encode() + b'"']
    if revision.isdigit():
        revisions.append(revision.encode())
    out = []
    for colon in (b":", b": "):
        for comma in (b",", b", "):
            for value in revisions:
                named = b'"schema"' + colon + name
                numbered = b'"revision"' + colon + value
                out += [b"{" + named + comma + numbered, numbered + comma + named]
    return out


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
