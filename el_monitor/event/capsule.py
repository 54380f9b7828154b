"""The EventCapsule: which keys it has, how missing ones are filled, its uuid and timestamps.

Every accepted event leaves this module as a plain dict with the keys EventLogging defined:
``schema``, ``revision`` (str), ``wiki``, ``uuid`` (32 hex digits), ``timestamp`` (int, Unix
seconds, UTC) and ``event`` (a dict; from a typed decoder, a ``msgspec.Struct`` of the same
values, which only the store reads: ``ingest.typed_lines``), plus any of ``webHost``,
``recvFrom``, ``seqId``, ``userAgent`` and ``topic``.  Raw client IPs are not capsule fields
and never get this far.
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import re
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime

import msgspec

from el_monitor.event.jsontext import decoded_key
from el_monitor.event.names import REVISION, SCHEMA_NAME, is_schema_name

# The key names as decoded capsules hold them (``decoded_key``): set tests by identity.
REQUIRED = frozenset(map(decoded_key, ("schema", "revision", "wiki", "uuid", "timestamp", "event")))
OPTIONAL = frozenset(map(decoded_key, ("webHost", "recvFrom", "seqId", "userAgent", "topic")))
ALLOWED = REQUIRED | OPTIONAL
# What a producer must send; the forwarder fills uuid and timestamp itself.
PRODUCER_REQUIRED = frozenset(map(decoded_key, ("schema", "revision", "wiki", "event")))
STRING_FIELDS = tuple(map(decoded_key, ("wiki", "webHost", "recvFrom", "userAgent", "topic")))

UUID_HEX = re.compile(r"[0-9a-f]{32}")

# SHA-1 state after uuid5's namespace (NAMESPACE_URL): each id copies it, never updates it,
# and hashes only its own name (a fifth faster than hashing namespace + name afresh).
_URL_NAMESPACE_SHA1 = hashlib.sha1(uuid.NAMESPACE_URL.bytes)
# Unix time bounds we accept: 2000-01-01 .. 2100-01-01.  Anything else is a producer bug.
_MIN_TS = 946684800
_MAX_TS = 4102444800


class CapsuleError(ValueError):
    """The capsule itself is malformed; ``path`` names the offending key."""

    def __init__(self, message: str, path: str = "capsule") -> None:
        super().__init__(message)
        self.path = path
        # The schema the capsule names, when it names a well-formed one (and its revision,
        # when that is a string): lets the error count against the schema whose producer is
        # at fault.
        self.schema: str | None = None
        self.revision: str | None = None
        # The object as parsed, when it is one: a broken event may still show an opted-out
        # user, whose events must not reach even the invalid log.
        self.capsule: dict | None = None


def event_uuid(recv_from: object, seq_id: object, timestamp: object) -> str:
    """EventLogging's deterministic id, so that replays and backfills are idempotent.

    uuid5(NAMESPACE_URL, 'event://%(recvFrom)s/?seqId=%(seqId)s&timestamp=%(timestamp).10s'),
    computed with hashlib directly (three times faster than ``uuid.uuid5``).
    """
    name = f"event://{recv_from}/?seqId={seq_id}&timestamp={str(timestamp)[:10]}"
    return _uuid5_hex(name.encode("utf-8"))


def content_uuid(recv_from: object, raw: bytes) -> str:
    """Id for a line that carries neither uuid nor seqId: derived from its bytes, so a
    replay of the same line maps to the same row."""
    digest = hashlib.sha1(raw).hexdigest()
    return _uuid5_hex(f"event://{recv_from}/?sha1={digest}".encode())


def stream_uuid(stream: str, sequence: int, index: int) -> str:
    """Id for the ``index``-th line of a JetStream message that carries none: the stream and
    the message's sequence in it name the line wherever it is redelivered, so a forwarder
    taking over another's messages stores nothing twice."""
    return _uuid5_hex(f"nats://{stream}/?seq={sequence}&line={index}".encode())


def _uuid5_hex(name: bytes) -> str:
    sha1 = _URL_NAMESPACE_SHA1.copy()
    sha1.update(name)
    digest = bytearray(sha1.digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    return digest.hex()


def parse_timestamp(value: object) -> int:
    """Unix seconds (int or float), ISO 8601, NCSA or MediaWiki ``YYYYMMDDHHMMSS`` → int UTC."""
    if type(value) is int:
        seconds = value
    elif type(value) is float:
        seconds = int(value)
    elif type(value) is str:
        seconds = _parse_timestamp_text(value)
    else:
        raise CapsuleError(
            f"timestamp must be a number or a string, got {_kind(value)}", "capsule.timestamp"
        )
    if not _MIN_TS <= seconds < _MAX_TS:
        raise CapsuleError(f"timestamp {value!r} is outside 2000-2100", "capsule.timestamp")
    return seconds


def _parse_timestamp_text(text: str) -> int:
    try:
        if text.isdigit():
            if len(text) == 14:  # MediaWiki
                return calendar.timegm(time.strptime(text, "%Y%m%d%H%M%S"))
            return int(text)
        if "/" in text:  # NCSA: 28/Nov/2026:05:00:00 +0000, or bare 28/Nov/2026:05:00:00
            fmt = "%d/%b/%Y:%H:%M:%S %z" if " " in text else "%d/%b/%Y:%H:%M:%S"
            parsed = datetime.strptime(text.strip("[]"), fmt)
        else:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CapsuleError(f"unreadable timestamp {text[:40]!r}", "capsule.timestamp") from None
    if parsed.tzinfo is None:  # EventLogging reads naive times as UTC
        return calendar.timegm(parsed.timetuple())
    return int(parsed.timestamp())


def mediawiki_timestamp(seconds: int) -> str:
    """MediaWiki's ``YYYYMMDDHHMMSS`` (UTC), the format of the tables' ``timestamp`` column.

    Built from a cached day and two lookups: ``time.strftime`` costs several microseconds,
    and live traffic asks for a new second every few events."""
    day, second = divmod(int(seconds), _DAY)
    return _mediawiki_day(day) + _HOURS_MINUTES[second // 60] + _SECONDS[second % 60]


_DAY = 86400
_SECONDS = tuple(f"{s:02d}" for s in range(60))
_HOURS_MINUTES = tuple(h + m for h in _SECONDS[:24] for m in _SECONDS)


@functools.lru_cache(maxsize=64)
def _mediawiki_day(day: int) -> str:
    """``YYYYMMDD`` of a day counted from the Unix epoch."""
    return time.strftime("%Y%m%d", time.gmtime(day * _DAY))


_NOTHING = object()
_BAD_SCHEMA = "schema name must match ^[A-Za-z0-9_-]{1,63}$"
_BAD_REVISION = "revision must be an integer or match ^[A-Za-z0-9._-]{1,63}$"


class CapsuleBuilder:
    """``build(obj, raw, defaults)``: check a parsed capsule, fill what the line left out, and
    normalise its values; one per parser (which holds ``build``, a plain method: calling the
    instance itself would cost a trip through C per line).

    ``defaults`` come from the transport (receive host, user agent, a fallback uuid); the
    line's own values win, and so does the uuid of a line's ``seqId``.  ``host`` is this
    forwarder's name, the ``recvFrom`` of lines that name none, and ``clock`` gives the receive
    time of lines without a timestamp.  Raises ``CapsuleError`` naming the first problem,
    carrying the object and the schema it names.  ``typed``: ``obj`` comes from a typed
    decoder (``ingest.typed_lines``), which took only the keys allowed, all those required, an
    object event and strings where strings belong; the rest is checked and filled as ever.

    It remembers the schema name and revision it last found well-formed: lines come in runs
    of a few schemas, and the two pattern checks were a fifth of building a capsule.  The
    checks sit inside ``build``'s ``try`` rather than in a method of their own: a second call
    per line cost 1% of parsing, validating and counting a real-size event.
    """

    def __init__(self, host: str, clock: Callable[[], float] = time.time) -> None:
        self.host = host
        self.clock = clock
        # The schema name and revision last found well-formed (at first: nothing a line holds).
        self._schema: object = _NOTHING
        self._revision: object = _NOTHING
        # The text timestamp last read, and its seconds: lines come in time order, so many in
        # a row carry the same one (parsing it costs more than the rest of the capsule).
        self._timestamp_text: object = _NOTHING
        self._timestamp_seconds = 0

    def build(
        self,
        obj: object,
        raw: bytes,
        defaults: Mapping[str, object] | None,
        typed: bool = False,
    ) -> dict:
        try:
            if type(obj) is not dict:
                raise CapsuleError(f"capsule must be a JSON object, got {_kind(obj)}")
            if not typed:  # (a typed decoder's object has checked keys and kinds already)
                keys = obj.keys()
                if not ALLOWED.issuperset(keys):
                    extra = sorted(k for k in keys if k not in ALLOWED)
                    path = "capsule." + extra[0]
                    raise CapsuleError(f"unexpected capsule key {extra[0]!r}", path)
                if not keys >= PRODUCER_REQUIRED:
                    missing = sorted(PRODUCER_REQUIRED - keys)
                    path = "capsule." + missing[0]
                    raise CapsuleError(f"missing required capsule key {missing[0]!r}", path)
            if defaults:
                # A transport's uuid (``stream_uuid``, the beacon's) is a fallback: the uuid
                # EventLogging derives from a line's seqId is the same whoever forwards it.
                skipped = "uuid" if "seqId" in obj else None
                for key, value in defaults.items():
                    if key not in obj and key in ALLOWED and key != skipped:
                        obj[key] = value

            schema = obj["schema"]
            if schema != self._schema:  # (a value of another type is never equal: checked)
                self._schema = _checked(schema, SCHEMA_NAME, _BAD_SCHEMA, "capsule.schema")
            revision = obj["revision"]
            if type(revision) is int:
                obj["revision"] = revision = str(revision)
            if revision != self._revision:
                self._revision = _checked(revision, REVISION, _BAD_REVISION, "capsule.revision")
            event = obj["event"]
            if not typed and type(event) is not dict and not isinstance(event, msgspec.Struct):
                # (a raw line's typed event: the line's other fields are checked here)
                raise CapsuleError(f"event must be an object, got {_kind(event)}", "capsule.event")
            if not typed or defaults:  # (the transport's values are checked like the line's)
                for key in STRING_FIELDS:
                    value = obj.get(key)
                    if value is not None and type(value) is not str:
                        raise CapsuleError(
                            f"{key} must be a string, got {_kind(value)}", "capsule." + key
                        )
            if not typed and obj["wiki"] is None:
                raise CapsuleError("wiki must be a string, got null", "capsule.wiki")

            timestamp = obj.get("timestamp")
            if timestamp is None:
                obj["timestamp"] = int(self.clock())
            elif type(timestamp) is int and _MIN_TS <= timestamp < _MAX_TS:
                pass  # seconds already
            elif timestamp == self._timestamp_text:
                obj["timestamp"] = self._timestamp_seconds
            else:
                obj["timestamp"] = seconds = parse_timestamp(timestamp)
                if type(timestamp) is str:
                    self._timestamp_text, self._timestamp_seconds = timestamp, seconds
            if "recvFrom" not in obj:
                obj["recvFrom"] = self.host
            uid = obj.get("uuid")
            if uid is None:
                seq_id = obj.get("seqId")
                obj["uuid"] = (
                    content_uuid(obj["recvFrom"], raw)
                    if seq_id is None
                    else event_uuid(obj["recvFrom"], seq_id, obj["timestamp"])
                )
            elif type(uid) is not str:
                raise CapsuleError("uuid must be 32 hexadecimal digits", "capsule.uuid")
            elif not UUID_HEX.fullmatch(uid):  # (most arrive as stored: nothing to change)
                if not UUID_HEX.fullmatch(uid := uid.replace("-", "").lower()):
                    raise CapsuleError("uuid must be 32 hexadecimal digits", "capsule.uuid")
                obj["uuid"] = uid
            return obj
        except CapsuleError as exc:
            if type(obj) is dict:
                _blame(exc, obj)
            raise


def _checked(value: object, pattern: re.Pattern[str], message: str, path: str) -> str:
    """``value`` when it is a str matching ``pattern``, else CapsuleError(message, path)."""
    if type(value) is not str or not pattern.fullmatch(value):
        raise CapsuleError(message, path)
    return value


def _blame(exc: CapsuleError, obj: dict) -> None:
    """Attach the broken object, and the schema (and revision) it names when well-formed."""
    exc.capsule = obj
    schema, revision = obj.get("schema"), obj.get("revision")
    if type(revision) is int:
        revision = str(revision)
    if is_schema_name(schema):  # a known schema's owners (and opt-outs) see it
        exc.schema = schema
        exc.revision = revision if type(revision) is str else None


def _kind(value: object) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number"
    )
