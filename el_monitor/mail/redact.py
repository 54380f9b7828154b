"""Privacy helpers for everything el-monitor mails: alerts and the daily report.

The rule is that no user id, token, IP address or user agent ever leaves in an email.  Two
kinds of input need it:

* **events** (an invalid event shown as an example): :func:`redact_event` parses the capsule
  and masks by *field name*: the capsule's ``userAgent``, ``recvFrom`` and ``seqId``, every key
  that names an IP, a user agent, a token, a session or a user id, and the catalog's
  ``user_fields`` of the schema.  What cannot be parsed is never echoed: only its length is.
* **free text** (a plugin's status line, perfdata, a validation message): :func:`scrub` masks
  by *shape*: IPv4 and IPv6 addresses, long hex / base64-ish tokens, ``key=value`` pairs whose
  key is sensitive, and browser user-agent strings.  A bare number cannot be told from a count,
  so a user id is only caught when something names it (``user_id=123``, ``"userId": 123``).

HTML escaping is not done here: the templates are autoescaped by Jinja2, so text stays text
until the last moment and is never escaped twice.

Used by ``el_monitor.notify`` (the notification's text) and ``el_monitor.report`` (error
examples and messages); keep the signatures of ``redact_event``, ``scrub`` and ``safe_text`` stable.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from urllib.parse import unquote_plus

from el_monitor.event.ipmask import IPV4, IPV6

__all__ = ["NESTED", "REDACTED", "is_sensitive_key", "redact_event", "safe_text", "scrub"]

REDACTED = "[redacted]"
NESTED = "[nested deeper than shown]"
MAX_DEPTH = 16  # levels of an example shown; deeper ones are replaced by NESTED

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
_SHAPES = re.compile(rf"{IPV4}|{IPV6}|{_TOKEN}")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u2028\u2029\u202a-\u202e]")


def _norm(key: str) -> str:
    return re.sub(r"[_\-.\s]", "", key).lower()


def is_sensitive_key(key: str) -> bool:
    """Whether a field of this name is masked wherever it appears (``clientIp``, ``token``...)."""
    norm = _norm(key)
    return norm in _PRIVATE_EXACT or any(part in norm for part in _PRIVATE_PARTS)


def scrub(text: str) -> str:
    """``text`` with IP addresses, tokens, user agents and named user ids masked.

    Idempotent, so every layer may call it without fear of compounding.
    """
    if not text:
        return text
    text = _USER_AGENT.sub(REDACTED, text)
    text = _PAIR.sub(lambda m: f"{m['key']}{m['sep']}{REDACTED}", text)
    return _SHAPES.sub(REDACTED, text)


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


def redact_event(capsule_or_raw: dict | str | bytes, user_fields: Iterable[str] = ()) -> str:
    """A capsule (or raw event) as compact JSON with everything identifying masked.

    ``user_fields`` are the catalog's dotted paths inside the event (``performer.user_id``);
    they are masked under ``event`` and, for a bare event without a capsule, at the top.  A
    raw EventLogging client line (``?<url-encoded JSON>;...``) is decoded first and only its
    event part kept: what follows it on the line is the client's IP and user agent.  Anything
    that is not a JSON object becomes ``[unparseable event, N bytes]``: never the text itself,
    which may be exactly the user data that failed to parse.
    """
    data: object = capsule_or_raw
    if isinstance(data, bytes):
        size = len(data)
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            return f"[unparseable event, {size} bytes]"
    if isinstance(data, str):
        data = _parse(data)
        if data is None:
            return f"[unparseable event, {len(str(capsule_or_raw).encode())} bytes]"
    if not isinstance(data, dict):
        return f"[unparseable event, {len(json.dumps(data, default=str))} bytes]"
    paths = [tuple(field.split(".")) for field in user_fields if field]
    out = _mask(data, top=True)
    if isinstance(out.get("event"), dict):
        for path in paths:
            _mask_path(out["event"], path)
    if "schema" not in data or "event" not in data:  # a bare event: its own fields at the top
        for path in paths:
            _mask_path(out, path)
    return json.dumps(out, ensure_ascii=False, separators=(",", ":"), default=str)


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


def _mask(value: object, top: bool = False, depth: int = 0) -> dict:
    """A copy of a JSON object with sensitive keys masked and strings scrubbed, recursively."""
    assert isinstance(value, dict)
    out: dict = {}
    for key, item in value.items():
        name = str(key)
        if (top and _norm(name) in _CAPSULE_PRIVATE) or is_sensitive_key(name):
            out[name] = REDACTED
        else:
            out[name] = _copy(item, depth + 1)
    return out


def _copy(item: object, depth: int) -> object:
    if isinstance(item, dict | list) and depth >= MAX_DEPTH:
        return NESTED
    if isinstance(item, dict):
        return _mask(item, depth=depth)
    if isinstance(item, list):
        return [_copy(x, depth + 1) for x in item]
    if isinstance(item, str):
        return scrub(item)
    return item


def _mask_path(target: dict, path: tuple[str, ...]) -> None:
    node: object = target
    for part in path[:-1]:
        if not isinstance(node, dict):
            return
        node = node.get(part)
    if isinstance(node, dict) and path[-1] in node:
        node[path[-1]] = REDACTED
