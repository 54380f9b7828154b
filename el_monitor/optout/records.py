"""Is this text an opted-out user's event?  For what is kept outside the event tables.

The forwarder's JSON-lines logs and the error examples of ``el_monitor_errors`` hold events
as text: a capsule, an EventError record whose ``rawEvent`` is the raw line, a varnish line
(``?<url-encoded JSON>; …``), a server-side line (``<seqId> EventLogging {…}``), and, where a
size limit cut it, the beginning of any of these.  A record is the user's when its capsule,
checked as the forwarder checks one (the catalog's ``user_fields`` of its schema), names a
listed user.  Text that no longer parses (cut short) is searched field by field: the
capsule's ``schema`` and ``wiki``, and each user field's last key, wherever it appears.  That
may find a listed user's id under a key of the same name elsewhere in the event: the record
goes all the same (privacy first).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

import orjson

from el_monitor.event.formats import unquote_plus_bytes
from el_monitor.event.names import is_schema_name
from el_monitor.event.rawlog import line_of_value
from el_monitor.optout.identity import names_user_id
from el_monitor.optout.matcher import OptOutCheck, OptOutMatcher, value_lookup

if TYPE_CHECKING:
    from el_monitor.catalog.model import Catalog

_STRING = r'"(?:[^"\\]|\\.)*"'
_SCHEMA = re.compile(rf'"schema"\s*:\s*({_STRING})')
_WIKI = re.compile(rf'"wiki"\s*:\s*({_STRING})')
_VALUE = rf"({_STRING}|-?[0-9]+(?:\.[0-9]+)?(?![0-9.]))"


class RecordMatcher:
    """``matches(text)``: whether a logged record or stored example is an opted-out user's.

    Built once per purge from the secret, the list's hashes and the catalog; each schema's
    check and field patterns are made on first use.
    """

    def __init__(self, secret: bytes, hashes: frozenset[str], catalog: Catalog) -> None:
        self._catalog = catalog
        self._matcher = OptOutMatcher(secret, hashes, catalog)
        self._lookup = value_lookup(secret, hashes)
        self._checks: dict[str, OptOutCheck | None] = {}
        self._fields: dict[str, list[tuple[re.Pattern[str], bool]]] = {}

    def matches(self, text: str, schema: str | None = None) -> bool:
        """``schema``: the record's schema when stored beside it (an error row's), used when
        the text itself no longer names one."""
        if not self._matcher.active:
            return False
        whole = False
        for capsule in _capsules(text):
            whole = True
            if self._capsule_matches(capsule):
                return True
        return not whole and self._fragment_matches(text, schema)

    def log_line_matches(self, line: bytes) -> bool:
        """A line of an all/valid/invalid log: a capsule (valid), an EventError record
        (invalid: its ``rawEvent``), an all-log record holding a raw line (``event.rawlog``,
        base64 ones too), or a raw line as logs before records were JSON held it."""
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            return self.matches(line.decode("utf-8", "replace"))
        if isinstance(value, dict) and type(value.get("event")) is dict:
            return self._capsule_matches(value)
        raw = line_of_value(value)
        if raw is not None:
            return self.matches(raw.decode("utf-8", "replace"))
        if isinstance(value, dict) and isinstance(value.get("rawEvent"), str):
            schema = value.get("schema")
            return self.matches(value["rawEvent"], schema if isinstance(schema, str) else None)
        return False

    def _capsule_matches(self, capsule: dict) -> bool:
        schema, wiki, event = capsule.get("schema"), capsule.get("wiki"), capsule.get("event")
        if not isinstance(schema, str) or not isinstance(wiki, str) or type(event) is not dict:
            return False
        if schema not in self._checks:
            fields = self._catalog.policy(schema).user_fields
            self._checks[schema] = self._matcher.check_for(fields)
        check = self._checks[schema]
        return check is not None and check(capsule)

    def _fragment_matches(self, text: str, schema: str | None) -> bool:
        """Text cut short: the schema, the wiki and each user field's values, by pattern."""
        text = _decoded(text)
        named = [_json_string(m) for m in _SCHEMA.findall(text)]
        names = [n for n in named if is_schema_name(n)] or ([schema] if schema else [])
        wikis = [w for w in (_json_string(m) for m in _WIKI.findall(text)) if w]
        if not names or not wikis:
            return False
        for name in dict.fromkeys(names):
            for pattern, by_name in self._field_patterns(name):
                for raw in pattern.findall(text):
                    value = _json_value(raw)
                    if value is not None and any(
                        self._lookup(wiki, value, by_name) for wiki in wikis
                    ):
                        return True
        return False

    def _field_patterns(self, schema: str) -> list[tuple[re.Pattern[str], bool]]:
        found = self._fields.get(schema)
        if found is None:
            found = self._fields[schema] = [
                (re.compile(rf'"{re.escape(path.split(".")[-1])}"\s*:\s*{_VALUE}'), by_name)
                for path in self._catalog.policy(schema).user_fields
                for by_name in [names_user_id(path)]
            ]
        return found


def _capsules(text: str) -> Iterator[dict]:
    """The JSON objects a record's text holds whole: the text itself, a varnish line's
    ``%q`` field, or what follows the first '{' (a server-side line)."""
    stripped = text.strip()
    candidates = [stripped]
    if stripped.startswith("?"):
        candidates.append(_decoded(stripped))
    elif "{" in stripped:
        candidates.append(stripped[stripped.index("{") :])
    for candidate in candidates:
        try:
            value = orjson.loads(candidate)
        except orjson.JSONDecodeError:
            continue
        if isinstance(value, dict):
            yield value
            return


def _decoded(text: str) -> str:
    """A varnish ``%q`` field's JSON as text (its first token), other text as it is."""
    stripped = text.strip()
    if not stripped.startswith("?"):
        return text
    query = (stripped[1:].split(None, 1) or [""])[0].removesuffix(";")
    return unquote_plus_bytes(query.encode()).decode("utf-8", "replace")


def _json_string(literal: str) -> str:
    try:
        value = orjson.loads(literal)
    except orjson.JSONDecodeError:
        return ""
    return value if isinstance(value, str) else ""


def _json_value(literal: str) -> object:
    try:
        return orjson.loads(literal)
    except orjson.JSONDecodeError:
        return None
