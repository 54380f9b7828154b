"""Raw lines → capsule dicts: JSON lines and EventLogging format strings.

A format string such as ``'%q %{recvFrom}s %{seqId}d %t %h %{userAgent}i'`` is compiled once
into a single bytes regex; each specifier contributes a named group and a decoder.  Spaces in
the format match ``\\s+``.  The client IP (``%h``) is matched and thrown away here: it never
reaches a capsule or a table, and ``make_line_redactor`` takes it out of the raw lines that
logs keep.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable, Mapping
from typing import NamedTuple
from urllib.parse import unquote_to_bytes

import msgspec
import orjson

from el_monitor.errors import UserError
from el_monitor.event.capsule import (
    ALLOWED,
    STRING_FIELDS,
    CapsuleBuilder,
    CapsuleError,
    parse_timestamp,
)
from el_monitor.event.ipmask import ADDRESS, mask_ips

JSON_FORMAT = "json"
MAX_EVENT_BYTES = 65536
LINE_BREAK = "line holds a line break: one event per line"
"""Why a line with a CR or LF in it (a beacon query with %0A, a rejected POST body, a record
replayed from the all log) is a parse error: it is one line, never two events.  The checks are
written ``10 in line or 13 in line``: a byte value is found with memchr, where a one-byte
``b"\n"`` takes the general substring search, several times slower on this hot path."""


class ParseError(ValueError):
    """The line cannot be read as an event at all."""


LineParser = Callable[[bytes, Mapping[str, object] | None], dict]
_STRUCT = type(msgspec.Struct)  # the class of a typed decoder's event's class


class _Field(NamedTuple):
    group: str  # regex group name
    key: str | None  # capsule key it fills, None for the capsule itself or omitted fields
    pattern: bytes
    decode: Callable[[bytes], object] | None


def _decode_json(value: bytes) -> object:
    return orjson.loads(value)


def _decode_query_json(value: bytes) -> object:
    return orjson.loads(_query_text(value))


def _query_text(value: bytes) -> bytes:
    """``%q``: '?' + URL-encoded JSON + ';' as varnish logs it: the JSON."""
    if value.startswith(b"?"):
        value = value[1:]
    if value.endswith(b";"):
        value = value[:-1]
    return unquote_plus_bytes(value)


def _as_is(value: bytes) -> bytes:
    return value


# The JSON text of each field decoder that reads JSON (``_typed_first``).
_JSON_TEXT: dict[Callable[[bytes], object], Callable[[bytes], bytes]] = {
    _decode_json: _as_is,
    _decode_query_json: _query_text,
}


def _typed_first(
    decode: Callable[[bytes], object], typed: Callable[[bytes], dict | None] | None
) -> Callable[[bytes], object]:
    """``decode``, trying ``typed`` first on the JSON text when it reads JSON."""
    text_of = _JSON_TEXT.get(decode)
    if typed is None or text_of is None:
        return decode
    loads = orjson.loads

    def decode_typed(value: bytes) -> object:
        text = text_of(value)
        return typed(text) or loads(text)

    return decode_typed


def unquote_plus_bytes(value: bytes) -> bytes:
    """``urllib.parse.unquote_plus`` to bytes, four times faster on well-formed input.

    Percent-escapes are quoted-printable escapes with another marker, so C's ``a2b_qp`` decodes
    them once '=' is protected.  Input it would read differently (a stray '%', line breaks,
    which QP treats as soft breaks) takes the stdlib path.

    A stray '%' is told by the length of the result rather than by a regex scan of every
    value (which cost as much as the decoding): each well-formed escape turns three bytes
    into one, and ``a2b_qp`` turns each other '=' it meets into at most one byte fewer (kept
    as '=': none; '==' or a trailing '=': one), so the result is exactly two bytes shorter
    per '%' only when every '%' starts a well-formed escape.
    """
    value = value.replace(b"+", b" ")
    if 37 not in value:  # no '%' (memchr for a byte value: see LINE_BREAK)
        return value
    if 10 in value or 13 in value:
        return unquote_to_bytes(value)
    if 61 not in value:
        # No '=' of its own (the usual case): any '=' decoded is a '%' that began no escape,
        # and a2b_qp drops only a final one.  Two memchr instead of counting every '%' (a
        # kilobyte of event holds a couple of hundred): a twentieth of parsing a raw line.
        decoded = binascii.a2b_qp(value.replace(b"%", b"="))
        return unquote_to_bytes(value) if 61 in decoded or value[-1] == 37 else decoded
    percents = value.count(b"%")
    decoded = binascii.a2b_qp(value.replace(b"=", b"=3D").replace(b"%", b"="))
    if len(decoded) != len(value) - 2 * percents:
        return unquote_to_bytes(value)
    return decoded


def _decode_text(value: bytes) -> str:
    return value.decode("utf-8")


def _decode_timestamp(value: bytes) -> int:
    return parse_timestamp(value.decode("ascii").strip("[]"))


Decoder = Callable[[bytes], object]
_SIMPLE: dict[str, tuple[bytes, Decoder | None]] = {
    "q": (rb"\?\S*", _decode_query_json),
    "j": (rb"\S+", _decode_json),
    "t": (rb"\[[^\]]*\]|\S+", _decode_timestamp),
    # An address (IPv4, IPv6) or "-": a line whose %h is anything else is misaligned, and
    # its client IP may sit in another field, so it must not parse.
    "h": (ADDRESS.encode() + rb"|-", None),
    "o": (rb"\S+", None),
}
_NAMED: dict[str, tuple[bytes, Decoder]] = {
    "d": (rb"-?\d+", int),
    "s": (rb"\S+", _decode_text),
    "i": (rb"[^\t]+", _decode_text),
}
_SPECIFIER = re.compile(r"%(?:\{([A-Za-z_][A-Za-z0-9_]*)\}([dsi])|([qjtho]))")


def compile_format(fmt: str) -> tuple[re.Pattern[bytes], tuple[_Field, ...]]:
    """Compile an EventLogging format string to one anchored bytes regex and its fields."""
    pattern = [b"^"]
    fields: list[_Field] = []
    pos = 0
    specifiers = list(_SPECIFIER.finditer(fmt))
    for index, match in enumerate(specifiers):
        pattern.append(_literal(fmt[pos : match.start()]))
        pos = match.end()
        name, kind, simple = match.groups()
        group = f"f{len(fields)}"
        if simple:
            regex, decode = _SIMPLE[simple]
            key = {"t": "timestamp"}.get(simple)
            if simple in "qj" and any(f.key is None and f.decode for f in fields):
                raise UserError(f"format {fmt!r} has more than one %q/%j: use exactly one")
        else:
            regex, decode = _NAMED[kind]
            key = name
            if name not in ALLOWED or name in ("event", "timestamp"):
                raise UserError(
                    f"format {fmt!r}: %{{{name}}}{kind} is not a capsule field; "
                    f"use one of {', '.join(sorted(ALLOWED - {'event', 'timestamp'}))}"
                )
        fields.append(_Field(group, key, regex, decode))
        pattern.append(b"(?P<" + group.encode() + b">" + regex + b")")
        if simple == "h":
            end = specifiers[index + 1].start() if index + 1 < len(specifiers) else len(fmt)
            pattern.append(_not_another_address(fmt[pos:end]))
    pattern.append(_literal(fmt[pos:]))
    pattern.append(b"$")
    if not any(f.key is None and f.decode for f in fields):
        raise UserError(f"format {fmt!r} has no %q or %j: it must carry the event")
    if "%" in re.sub(_SPECIFIER, "", fmt):
        raise UserError(
            f"format {fmt!r} has an unknown specifier; known: %q %j %t %h %o "
            "%{name}d %{name}s %{name}i"
        )
    return re.compile(b"".join(pattern), re.DOTALL), tuple(fields)


def make_line_redactor(fmt: str) -> Callable[[bytes], bytes] | None:
    """``redact(line)``: a raw line as logs may keep it, its client IP (``%h``) replaced by
    ``-``; a line the format does not match, or holding a line break, has everything
    address-shaped masked instead.
    None when the format carries no client IP (JSON lines): there is nothing to take out."""
    if fmt == JSON_FORMAT:
        return None
    groups = [f"f{i}" for i, m in enumerate(_SPECIFIER.finditer(fmt)) if m.group(3) == "h"]
    if not groups:
        return None
    match_line = compile_format(fmt)[0].match

    def redact(line: bytes) -> bytes:
        # A line holding a line break is a parse error whose second line may carry an address
        # inside another field (``%i`` spans it): masked whole, like a line that does not match.
        match = None if 10 in line or 13 in line else match_line(line)
        if match is None:
            return mask_ips(line)
        pieces: list[bytes] = []
        last = 0
        for group in groups:
            start, end = match.span(group)
            pieces += (line[last:start], b"-")
            last = end
        pieces.append(line[last:])
        return b"".join(pieces)

    return redact


def _not_another_address(separator: str) -> bytes:
    """After %h: the next field must not be an address too (after dashes, if any).  Two
    addresses, or '-' then one, mean the fields shifted and the client's IP sits in the
    next field (a user agent would store it): such a line must not parse."""
    if not separator or separator.strip():  # no separator, or literal text: fields are fixed
        return b""
    # The class first: a user agent's first letter (M of Mozilla) ends the look at once.
    return rb"(?!\s+(?=[-0-9A-Fa-f:\[])(?:-\s+)*" + ADDRESS.encode() + rb"(?!\S))"


def _literal(text: str) -> bytes:
    return rb"\s+".join(re.escape(part.encode()) for part in re.split(r"\s+", text))


def make_parser(
    fmt: str,
    host: str,
    max_event_bytes: int = MAX_EVENT_BYTES,
    typed: Callable[[bytes], dict | None] | None = None,
) -> LineParser:
    """A function ``(line, defaults) -> capsule`` raising ParseError or CapsuleError.

    ``typed`` decodes a capsule's JSON in one go where it can (``ingest.typed_lines``), else
    returns None and the JSON is decoded the usual way."""
    if fmt == JSON_FORMAT:
        return _json_parser(host, max_event_bytes, typed)
    regex, fields = compile_format(fmt)
    return _format_parser(fmt, regex, fields, host, max_event_bytes, typed)


def _json_parser(
    host: str, max_event_bytes: int, typed: Callable[[bytes], dict | None] | None
) -> LineParser:
    loads = orjson.loads
    build_capsule = CapsuleBuilder(host).build

    def parse(line: bytes, defaults: Mapping[str, object] | None) -> dict:
        if len(line) > max_event_bytes:
            raise ParseError(f"event of {len(line)} bytes exceeds the {max_event_bytes} limit")
        if 10 in line or 13 in line:
            raise ParseError(LINE_BREAK)
        obj = None if typed is None else typed(line)
        if obj is not None:
            return build_capsule(obj, line, defaults, True)
        try:
            obj = loads(line)
        except orjson.JSONDecodeError as exc:
            raise ParseError(f"invalid JSON: {exc}") from None
        return build_capsule(obj, line, defaults)

    return parse


def _decoder(
    key: str | None, decode: Decoder, typed: Callable[[bytes], dict | None] | None
) -> Decoder:
    """A field's decoder as the parser calls it: the capsule's JSON (``key`` None) typed
    where it can be, the timestamp remembered."""
    if key is None:
        return _typed_first(decode, typed)
    return _remember_last(decode) if key == "timestamp" else decode


def _remember_last(decode: Callable[[bytes], object]) -> Callable[[bytes], object]:
    """One-entry cache: lines arrive in time order, so most share the previous timestamp."""
    last_raw, last_value = None, None

    def decode_cached(raw: bytes) -> object:
        nonlocal last_raw, last_value
        if raw != last_raw:
            last_value = decode(raw)
            last_raw = raw
        return last_value

    return decode_cached


# A format that opens with its event field and a space, as varnish's client format does.
_LEADING_EVENT = re.compile(r"%([qj])\s")


def _line_matcher(
    fmt: str, regex: re.Pattern[bytes]
) -> Callable[[bytes], tuple[bytes | None, re.Match[bytes] | None]]:
    """``match(line) -> (event field or None, match or None)``: the format's regex, except that
    a leading event field is cut off by ``find`` rather than scanned by the regex.

    The event is most of a line (a kilobyte of URL-encoded JSON), and the regex's ``\\S*``
    tests its bytes one by one, costing more than the rest of the parse.  That group always
    ends at the first whitespace byte (the ``\\s+`` after it must match there), so the rest
    of the pattern, matched from that byte, gives the same groups.  A line holding a tab,
    vertical tab or form feed before its first space (never seen from varnish) takes the
    whole regex.  The event field is None when the whole regex matched: it is then group f0.
    Lines holding a CR or LF never get here (``LINE_BREAK``).
    """
    match_line = regex.match
    leading = _LEADING_EVENT.match(fmt)
    if leading is None:
        return lambda line: (None, match_line(line))
    head = b"^(?P<f0>" + _SIMPLE[leading.group(1)][0] + b")"
    if not regex.pattern.startswith(head):  # not as compile_format writes it: no shortcut
        return lambda line: (None, match_line(line))
    match_rest = re.compile(regex.pattern[len(head) :], re.DOTALL).match
    lead = b"?" if leading.group(1) == "q" else b""  # what the field's pattern starts with

    def match(line: bytes) -> tuple[bytes | None, re.Match[bytes] | None]:
        end = line.find(b" ")
        if (
            end <= 0
            or not line.startswith(lead)
            or line.find(9, 0, end) >= 0  # tab, vertical tab, form feed: \s too
            or line.find(11, 0, end) >= 0
            or line.find(12, 0, end) >= 0
        ):
            return None, match_line(line)
        return line[:end], match_rest(line, end)

    return match


def _format_parser(
    fmt: str,
    regex: re.Pattern[bytes],
    fields: tuple[_Field, ...],
    host: str,
    max_event_bytes: int,
    typed: Callable[[bytes], dict | None] | None,
) -> LineParser:
    match_line = _line_matcher(fmt, regex)
    build_capsule = CapsuleBuilder(host).build
    if any(f.key in ("schema", "revision") for f in fields):
        typed = None  # a typed event is checked against its JSON's schema, which these replace
    # A typed capsule's keys and kinds were checked as it was decoded; the line's own fields
    # add allowed keys only, and strings where strings belong unless one is a %{...}d.
    typed_checked = typed is not None and all(
        f.key not in STRING_FIELDS or f.decode is _decode_text for f in fields if f.key
    )
    # (group, capsule key or None for the event, decoder) of each field that carries a value:
    # plain tuples, unpacked in the loop (a NamedTuple's attributes cost a lookup each).
    decoders = tuple(
        (f.group, f.key, _decoder(f.key, f.decode, typed)) for f in fields if f.decode is not None
    )

    def parse(line: bytes, defaults: Mapping[str, object] | None) -> dict:
        if len(line) > max_event_bytes:
            raise ParseError(f"event of {len(line)} bytes exceeds the {max_event_bytes} limit")
        if 10 in line or 13 in line:
            raise ParseError(LINE_BREAK)
        event, match = match_line(line)
        if match is None:
            raise ParseError("line does not match the input format")
        capsule: object = None
        extra: dict[str, object] = {}
        for group, key, decode in decoders:
            raw = event if key is None and event is not None else match[group]
            try:
                value = decode(raw)
            except (ValueError, UnicodeDecodeError) as exc:
                raise ParseError(f"cannot decode {key or 'event'}: {exc}") from None
            if key is None:
                capsule = value
            else:
                extra[key] = value
        if type(capsule) is not dict:
            raise CapsuleError("capsule must be a JSON object")
        capsule.update(extra)
        checked = typed_checked and capsule.get("event").__class__.__class__ is _STRUCT
        return build_capsule(capsule, line, defaults, checked)

    return parse
