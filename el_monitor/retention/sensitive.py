"""Which event fields look like personal data, and why: the schema review's heuristics.

A reviewer reads field names, so this does too: a name is split into words (``mwSessionId`` →
mw, session, id) and matched against short word sequences (``user id``, ``session``,
``title``), after the property's ``format`` (``ipv4``, ``email``, ``uri``), which says it
outright.  Only fields that can carry such a value are considered: an enum, a boolean or a
number cannot hold a token or a search query (a user id may be an integer).  Each match names
the kind of data, the words that matched, and what a reviewer asks for, so a finding explains
itself; the lists are short on purpose, to stay explainable rather than clever.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from el_monitor.schema.fields import json_type

__all__ = ["ERROR", "KINDS", "WARNING", "Kind", "Sensitive", "name_words", "sensitive"]

ERROR, WARNING = "error", "warning"


class Kind(NamedTuple):
    """A kind of personal data: what it is, how bad keeping it is, and what to do about it."""

    id: str
    what: str
    severity: str
    advice: str


class Sensitive(NamedTuple):
    """Why one field looks like personal data."""

    kind: Kind
    because: str  # 'its name has "user id"', 'its format is ipv4', ...


_DECLARE = "list it in user_fields to declare it personal"
KINDS = {
    kind.id: kind
    for kind in (
        Kind("email", "an email address", ERROR, f"do not collect it; if unavoidable, {_DECLARE}"),
        Kind("ip", "an IP address", ERROR, f"do not collect it; if unavoidable, {_DECLARE}"),
        Kind("user-agent", "a user agent", WARNING, f"log a browser family instead, or {_DECLARE}"),
        Kind(
            "user-name", "a user or account name", ERROR, f"log the user id instead and {_DECLARE}"
        ),
        Kind("user-id", "a user or account id", ERROR, f"{_DECLARE}, or hash it"),
        Kind(
            "device-id", "a persistent app-install or device id", ERROR, f"{_DECLARE}, or hash it"
        ),
        Kind(
            "session-token",
            "a session or user token that links one person's events",
            ERROR,
            f"{_DECLARE}, or hash it (joins within a salt period still work)",
        ),
        Kind(
            "page-token",
            "a per-page-view or per-request token",
            WARNING,
            "hash it (joins within a salt period still work); user_fields is for what a user "
            "can opt out as",
        ),
        Kind(
            "url-title",
            "a URL or page title (a user page or a draft can name its reader)",
            WARNING,
            f"log a namespace or page id instead, or {_DECLARE}",
        ),
        Kind(
            "free-text",
            "free text a person typed (it can hold names, emails, anything)",
            ERROR,
            f"collect a category instead; if unavoidable, bound it with maxLength and {_DECLARE}",
        ),
    )
}

_FORMATS = {
    "email": "email",
    "idn-email": "email",
    "ipv4": "ip",
    "ipv6": "ip",
    "uri": "url-title",
    "uri-reference": "url-title",
    "iri": "url-title",
    "iri-reference": "url-title",
}
# (kind, consecutive words of the field's path, whether a number can be it); first match wins.
_RULES: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    *(("email", w, False) for w in (("email",), ("mail", "address"))),
    *(
        ("ip", w, False)
        for w in (("ip",), ("ipaddress",), ("remote", "addr"), ("forwarded", "for"))
    ),
    *(("user-agent", w, False) for w in (("user", "agent"), ("useragent",))),
    *(
        ("user-name", w, False)
        for w in (
            ("user", "name"),
            ("username",),
            ("account", "name"),
            ("performer", "name"),
            ("actor", "name"),
            ("user", "text"),
        )
    ),
    *(
        ("user-id", (who, "id"), True)
        for who in ("user", "account", "actor", "performer", "contact", "central", "donor")
    ),
    ("user-id", ("userid",), True),
    *(("device-id", (what, "id"), True) for what in ("install", "installation", "device", "app")),
    *(("page-token", w, False) for w in (("pageview", "id"), ("page", "view", "id"))),
    *(("session-token", (w,), False) for w in ("session", "sessionid", "token", "cookie")),
    *(
        ("url-title", w, False)
        for w in (
            ("url",),
            ("uri",),
            ("href",),
            ("referer",),
            ("referrer",),
            ("title",),
            ("destination",),
            ("return", "to"),
            ("landingpage",),
        )
    ),
    *(
        ("free-text", w, False)
        for w in (
            ("query",),
            ("search", "term"),
            ("searchterm",),
            ("feedback",),
            ("comment",),
            ("comments",),
            ("summary",),
            ("text",),
            ("freetext",),
            ("note",),
            ("notes",),
        )
    ),
)
# A token or id scoped to one page view, request, search or task is a smaller risk than one
# that follows a person through a session.
_PAGE_SCOPE = frozenset({"page", "pageview", "view", "request", "search", "task", "impression"})
_FREE_TEXT_DESCRIPTION = re.compile(
    r"free[- ]?(?:form|text)|(?:written|typed|entered) by the user", re.IGNORECASE
)
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


def name_words(path: str) -> list[str]:
    """A field path's words, lower-cased: ``performer.userID`` → performer, user, id."""
    return [word.lower() for word in _WORD.findall(path)]


def sensitive(path: str, spec: Mapping[str, Any]) -> Sensitive | None:
    """Why the field at ``path`` (its property schema ``spec``) looks like personal data, or
    None when it does not or cannot hold such a value."""
    kind = json_type(spec)
    if "enum" in spec or "const" in spec or kind == "boolean":
        return None
    if kind in ("array", "object") and spec.get("properties"):
        return None  # its nested fields are judged one by one
    text = kind in (None, "string", "array", "object")
    number = kind in ("integer", "number")
    shape = spec.get("format")
    if text and isinstance(shape, str) and shape in _FORMATS:
        return Sensitive(KINDS[_FORMATS[shape]], f"its format is {shape}")
    words = name_words(path)
    for kind_id, wanted, numeric in _RULES:
        if (text or (numeric and number)) and _has_run(words, wanted):
            if kind_id == "session-token" and "session" not in words and _PAGE_SCOPE & set(words):
                kind_id = "page-token"
            return Sensitive(KINDS[kind_id], f'its name has "{" ".join(wanted)}"')
    description = spec.get("description")
    if text and isinstance(description, str):
        found = _FREE_TEXT_DESCRIPTION.search(description)
        if found:
            return Sensitive(KINDS["free-text"], f'its description says "{found[0]}"')
    return None


def _has_run(words: list[str], run: tuple[str, ...]) -> bool:
    """Whether ``run`` occurs in ``words`` as consecutive words."""
    width = len(run)
    return any(tuple(words[i : i + width]) == run for i in range(len(words) - width + 1))
