"""Privacy helpers for everything el-monitor mails: alerts and the daily report.

The rule is that no user id, token, IP address or user agent ever leaves in an email.  Two
kinds of input need it:

* **events** (an invalid event shown as an example): :func:`redaction` parses the capsule
  and masks values by *field*: the capsule's ``userAgent``, ``recvFrom`` and ``seqId``, every
  key that names an IP, a user agent, a token, a session or a user id, the catalog's
  ``user_fields`` of the schema, and the strings of free-text fields (what the event schema
  does not close with ``enum``/``const``; all event strings when the schema is unknown).
  Numbers, booleans and enum values stay: owners need them.  :func:`strike` then takes the
  masked values out of the event's error message, keeping the validator's own words.  What
  cannot be parsed is never echoed: only its length is.
* **free text** (a plugin's status line, perfdata, a validation message): :func:`scrub` masks
  by *shape*: IPv4 and IPv6 addresses, long hex / base64-ish tokens, ``key=value`` pairs whose
  key is sensitive, and browser user-agent strings.  A bare number cannot be told from a count,
  so a user id is only caught when something names it (``user_id=123``, ``"userId": 123``).

HTML escaping is not done here: the templates are autoescaped by Jinja2, so text stays text
until the last moment and is never escaped twice.

Used by ``el_monitor.notify`` (the notification's text) and ``el_monitor.report`` (error
examples and messages, for the report and ``el-monitor errors`` alike); keep the signatures of
``redact_event``, ``redaction``, ``strike``, ``scrub`` and ``safe_text`` stable.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple
from urllib.parse import unquote_plus

from el_monitor.event.ipmask import IPV4, IPV6
from el_monitor.schema.fields import json_type

__all__ = [
    "NESTED",
    "REDACTED",
    "Redaction",
    "SchemaLookup",
    "is_sensitive_key",
    "redact_event",
    "redaction",
    "safe_text",
    "scrub",
    "strike",
    "strike_quoted_start",
]

REDACTED = "[redacted]"
NESTED = "[nested deeper than shown]"
MAX_DEPTH = 16  # levels of an example shown; deeper ones are replaced by NESTED
SCRUB_MIN = 3  # shorter removed values (ids like 7) are struck only where a validator quotes them
SHOWN_CHARS = 60  # a validator message shows a string up to this long (schema.runtime.show)

# (schema name, revision) -> its event schema, None when unknown.
SchemaLookup = Callable[[str, str], Mapping[str, Any] | None]

# Capsule fields that identify a client, whatever the schema says.
_CAPSULE_PRIVATE = frozenset({"useragent", "recvfrom", "seqid"})
# Keys (lower-cased, without _ - .) that are sensitive wherever they appear.
_PRIVATE_EXACT = frozenset(
    {"ip", "ipaddress", "clientip", "remoteaddr", "xforwardedfor", "useragent", "ua", "userid"}
)
_PRIVATE_PARTS = ("token", "userid", "session", "password", "secret", "useragent", "clientip")

# 16+ hex digits, or 24+ characters of base64/url-safe alphabet mixing letters and digits.
_TOKEN = (
    r"\b[0-9A-Fa-f]{16,}\b|\b(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{24,}\b"
)
# key=value, key: value, "key": "value" where the key is sensitive.
_KEY = (
    r"(?:[A-Za-z_]*(?:token|session|user[_-]?id|password|secret)[A-Za-z_]*"
    r"|user[_-]?agent|client[_-]?ip|ip(?:[_-]?address)?|recv[_-]?from|seq[_-]?id)"
)
_PAIR = re.compile(
    rf"""(?P<key>["']?\b{_KEY}\b["']?)(?P<sep>\s*[=:]\s*)"""
    r"""(?P<value>\[redacted\]|"(?:[^"\\]|\\.)*"|'[^']*'|[^\s,;&|)}\]]+)""",
    re.IGNORECASE,
)
# Browser and tool user agents: Product/version, optionally "(comment)" and more products.
_USER_AGENT = re.compile(
    r"\b(?:Mozilla|Opera|Dalvik|AppleWebKit|curl|Wget|python-requests|okhttp|"
    r"WikipediaApp|Googlebot|bingbot)/[^\s]+(?:\s+(?:\([^)]*\)|[A-Za-z][\w.-]*/[^\s]+))*",
)
# A number standing alone (``1.2345678901234567e+16``, ``12345678901234567890``) is a value
# owners need, never a token: matched first and kept.
_NUMBER = r"(?<![\w.:])-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w.:])"
_SHAPES = re.compile(rf"(?P<number>{_NUMBER})|{IPV4}|{IPV6}|{_TOKEN}")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u2028\u2029\u202a-\u202e]")


def _norm(key: str) -> str:
    return re.sub(r"[_\-.\s]", "", key).lower()


def is_sensitive_key(key: str) -> bool:
    """Whether a field of this name is masked wherever it appears (``clientIp``, ``token``...)."""
    norm = _norm(key)
    return norm in _PRIVATE_EXACT or any(part in norm for part in _PRIVATE_PARTS)


def scrub(text: str) -> str:
    """``text`` with IP addresses, tokens, user agents and named user ids masked; a number
    standing alone (``1.8014398509481984e+16``, ``12345678901234567``) is a value, kept.

    Idempotent, so every layer may call it without fear of compounding.
    """
    if not text:
        return text
    text = _USER_AGENT.sub(REDACTED, text)
    text = _PAIR.sub(lambda m: f"{m['key']}{m['sep']}{REDACTED}", text)
    return _SHAPES.sub(lambda m: m[0] if m["number"] else REDACTED, text)


def safe_text(text: object, limit: int = 500, *, redact: bool = True) -> str:
    """One bounded line for a mail: control characters dropped, scrubbed, cut at ``limit``.

    Newlines and tabs become spaces: a plugin's or producer's text must not shape the mail.
    """
    out = " ".join(_CONTROL.sub("", str(text)).split())
    if redact:
        out = scrub(out)
    if limit > 0 and len(out) > limit:
        out = out[: max(limit - 1, 0)].rstrip() + "…"
    return out


def redact_event(
    capsule_or_raw: dict | str | bytes,
    user_fields: Iterable[str] = (),
    schemas: SchemaLookup | None = None,
) -> str:
    """A capsule (or raw event) as compact JSON with everything identifying masked
    (``redaction(...).text``)."""
    return redaction(capsule_or_raw, user_fields, schemas).text


def redaction(
    capsule_or_raw: dict | str | bytes,
    user_fields: Iterable[str] = (),
    schemas: SchemaLookup | None = None,
) -> Redaction:
    """A capsule (or raw event) redacted by its schema's fields, and the values it lost.

    Values are masked by what their field is, never by how they look alone:

    * the capsule's ``userAgent``, ``recvFrom`` and ``seqId``, and any key naming an IP, a
      user agent, a token, a session or a user id, wherever it is;
    * the catalog's ``user_fields`` (dotted paths inside the event: ``performer.user_id``),
      whatever their values;
    * strings of free-text fields: an event field the schema (``schemas(name, revision)``,
      the event schema) declares as a string without ``enum``/``const``, or does not declare
      at all, or every event string when the schema is unknown.  A search query is a string.

    Numbers, booleans and strings of closed fields (``enum``, or a field of another type that
    got a string) stay, shape-scrubbed (IPs, tokens, user agents): owners need them to see
    what failed.  A raw EventLogging client line (``?<url-encoded JSON>;...``) is decoded
    first and only its event part kept: what follows it is the client's IP and user agent.
    Anything that is not a JSON object becomes ``[unparseable event, N bytes]``: never the
    text itself, which may be exactly the user data that failed to parse.
    """
    data: object = capsule_or_raw
    if isinstance(data, bytes):
        size = len(data)
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            return Redaction(f"[unparseable event, {size} bytes]", (), parsed=False)
    if isinstance(data, str):
        data = _parse(data)
        if data is None:
            size = len(str(capsule_or_raw).encode())
            return Redaction(f"[unparseable event, {size} bytes]", (), parsed=False)
    if not isinstance(data, dict):
        size = len(json.dumps(data, default=str))
        return Redaction(f"[unparseable event, {size} bytes]", (), parsed=False)
    masker = _Masker({tuple(field.split(".")) for field in user_fields if field})
    out: object
    if "schema" in data or "event" in data:
        out = masker.capsule(data, schemas)
    else:  # a bare event: its own fields at the top, its schema unknown
        out = masker.value(data, None, (), 0)
    text = json.dumps(out, ensure_ascii=False, separators=(",", ":"), default=str)
    return Redaction(text, tuple(masker.removed))


class Redaction(NamedTuple):
    """An example as shown (``text``) and the values redaction took out of it (``removed``,
    the original scalars), which must not reappear in its error message (:func:`strike`)."""

    text: str
    removed: tuple[object, ...]
    parsed: bool = True  # False: the example was not a JSON object, only its size is shown


# Capsule fields kept (shape-scrubbed): they say where and when, never who.
_CAPSULE_KEPT = frozenset({"schema", "revision", "wiki", "webhost", "uuid", "timestamp", "topic"})


class _Masker:
    """One example's walk: masks by field, remembers what it masked."""

    def __init__(self, user_paths: set[tuple[str, ...]]) -> None:
        self.user_paths = user_paths
        self.removed: list[object] = []

    def hide(self, value: object) -> str:
        stack = [value]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
            elif item is not None and not isinstance(item, bool) and item != "":
                self.removed.append(item)
        return REDACTED

    def capsule(self, data: dict, schemas: SchemaLookup | None) -> dict:
        name, revision = data.get("schema"), data.get("revision")
        spec = None
        if schemas is not None and isinstance(name, str) and isinstance(revision, str | int):
            spec = schemas(name, str(revision))
        out: dict = {}
        for key, item in data.items():
            norm = _norm(str(key))
            if norm in _CAPSULE_PRIVATE or is_sensitive_key(str(key)):
                out[scrub(str(key))] = self.hide(item)
            elif key == "event":
                out["event"] = self.value(item, spec, (), 1)
            elif norm in _CAPSULE_KEPT and not isinstance(item, dict | list):
                out[str(key)] = scrub(item) if isinstance(item, str) else item
            else:  # not a capsule field: nothing says what it holds (and no user path is here)
                out[scrub(str(key))] = self.value(item, None, ("",), 1)
        return out

    def value(
        self, item: object, spec: Mapping | None, path: tuple[str, ...], depth: int
    ) -> object:
        """``item`` at ``path`` of the event, ``spec`` its schema (None: undeclared)."""
        if path in self.user_paths:
            return self.hide(item)
        if isinstance(item, dict | list) and depth >= MAX_DEPTH:
            return NESTED
        if isinstance(item, dict):
            out: dict = {}
            for key, sub in item.items():
                name = str(key)
                if is_sensitive_key(name):
                    out[scrub(name)] = self.hide(sub)
                else:
                    out[scrub(name)] = self.value(
                        sub, _property(spec, name), (*path, name), depth + 1
                    )
            return out
        if isinstance(item, list):
            items = spec.get("items") if spec is not None else None
            inner = items if isinstance(items, Mapping) else None
            return [self.value(sub, inner, (*path, "[]"), depth + 1) for sub in item]
        if isinstance(item, str):
            return self.hide(item) if _free_text(spec) else scrub(item)
        return item  # numbers, booleans, null


def _property(spec: Mapping | None, name: str) -> Mapping | None:
    """The schema of property ``name`` under ``spec``: declared, in a branch of allOf/anyOf/
    oneOf, or by additionalProperties; None when nothing declares it."""
    if spec is None:
        return None
    properties = spec.get("properties")
    if isinstance(properties, Mapping) and isinstance(properties.get(name), Mapping):
        return properties[name]
    for key in ("allOf", "anyOf", "oneOf"):
        branches = spec.get(key)
        for branch in branches if isinstance(branches, list) else ():
            found = _property(branch, name) if isinstance(branch, Mapping) else None
            if found is not None:
                return found
    extra = spec.get("additionalProperties")
    return extra if isinstance(extra, Mapping) else None


def _free_text(spec: Mapping | None) -> bool:
    """Whether a string in a field of this schema may be anything a person typed: any string
    field without ``enum``/``const``, an untyped or undeclared one.  A string in a number or
    boolean field is a type error owners must see, not free text."""
    if spec is None or "enum" in spec or "const" in spec:
        return spec is None
    kind = json_type(spec)
    return kind is None or kind == "string"


def strike(message: str, removed: Iterable[object]) -> str:
    """``message`` without the values redaction removed from its event.

    A validation message quotes the offending value (``'what they typed' is not of type
    'integer'``, ``987654 is not of type 'string'``), and a user id cannot be told from a
    count by its shape; but message and example are of the same event, so a value masked in
    the example is struck from the message: quoted as the validator quotes it, at the start
    where it puts the value, and anywhere as a whole word when long enough not to be a common
    word or number (``SCRUB_MIN``).
    """
    forms: set[str] = set()
    leading: set[str] = set()
    for value in removed:
        if isinstance(value, str):
            forms.update({repr(value), json.dumps(value, ensure_ascii=False)})
            if len(value) > SHOWN_CHARS:  # the validator shows long strings cut, then "..."
                forms.add(repr(value[: SHOWN_CHARS - 3]))
        text = str(value)
        (forms if len(text) >= SCRUB_MIN else leading).add(text)
    for form in sorted(forms, key=len, reverse=True):
        message = re.sub(rf"(?<![\w.]){re.escape(form)}(?![\w])", REDACTED, message)
    for form in leading:
        message = re.sub(rf"\A{re.escape(form)}(?= )", REDACTED, message)
    return message


def strike_quoted_start(message: str) -> str:
    """``message`` without the quoted string a validator puts first (``'...' is not ...``):
    for a message whose event is gone, where no one can say what field that string was in."""
    return _QUOTED_START.sub(REDACTED, message)


_QUOTED_START = re.compile(r"""\A(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")(?:\.\.\.)?(?= )""")


def _parse(text: str) -> object | None:
    stripped = text.strip()
    if stripped.startswith("?"):  # varnish's %q: ?<url-encoded JSON>; then recvFrom, IP, UA
        stripped = unquote_plus(stripped[1:].split(";", 1)[0].split(" ", 1)[0])
    else:
        start = stripped.find("{")  # server-side: '<seqId> EventLogging {json}'
        if start > 0 and not stripped.startswith(("[", '"')):
            stripped = stripped[start:]
    try:
        return json.loads(stripped)
    except (ValueError, RecursionError):  # an example cut mid-way, or nested past the stack
        return None
