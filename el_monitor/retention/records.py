"""Retention of one logged capsule: keep it, remove it, or sanitize it to an allowlist.

The valid log holds one capsule per line, of any schema, so retention is judged record by
record, by the schema's rules (``SchemaRules``, which the caller builds from its policy).
A capsule past a stage of its schema's retention is removed when the stage keeps nothing;
otherwise only ``schema``, ``revision``, ``wiki``, ``uuid``, ``timestamp``, the stage's
``keep`` fields and its ``hash`` fields survive, the latter as ``hasher(value, when)`` (the
record's moment picks the salt, so a rerun writes the same bytes).  Everything else goes:
``userAgent``, ``webHost`` unless kept, ``topic``, ``recvFrom``, ``seqId`` and every event field
not named.  A sanitized capsule carries ``"sanitized": [the fields hashed]`` so that no value
is hashed twice and a second run leaves it as it is.

Raw text (the all log, the invalid log's EventError records, a line that is no capsule)
cannot be trusted to say whose it is or what it holds: it is not analytics data, so it goes
at the policy's shortest retention (``text_cutoff``) and no rule keeps any of it.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple

import orjson

from el_monitor.catalog.model import CAPSULE_FIELDS
from el_monitor.event.capsule import CapsuleError, parse_timestamp
from el_monitor.event.jsontext import capsule_json

__all__ = [
    "ALWAYS_KEPT",
    "DEFAULT_DAYS",
    "KEEP",
    "MARKER",
    "REMOVE",
    "SANITIZE",
    "CapsuleJudge",
    "Hasher",
    "Judged",
    "RulesFor",
    "SchemaRules",
    "Stage",
    "default_rules",
    "field_path",
    "sanitize",
    "text_cutoff",
]

DEFAULT_DAYS = 90  # retention of a schema no rules name, and of raw text at the longest
ALWAYS_KEPT = ("schema", "revision", "wiki", "uuid", "timestamp")
MARKER = "sanitized"  # key a sanitized capsule carries: the fields hashed in it

Hasher = Callable[[str, datetime.datetime], str]  # (value, the record's moment) → hex
HashText = Callable[[str], str]


@dataclass(frozen=True)
class Stage:
    """What happens to a schema's records older than ``before`` (an aware datetime).

    ``keep`` names the fields that survive, as the catalog writes them: capsule fields
    (``webHost``) by name, event fields by dotted path (``performer.user_id``).  With no
    ``keep`` the records are removed; ``hash`` fields survive sanitizing as hashes."""

    before: datetime.datetime
    keep: tuple[str, ...] = ()
    hash: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.before.tzinfo is None:
            raise ValueError("Stage.before must be an aware datetime")


@dataclass(frozen=True)
class SchemaRules:
    """A schema's retention as stages: usually one; an extension that keeps some fields
    longer adds a second (sanitized to keep + those fields at the normal retention, to
    ``keep`` at the extension's).  No stage: the schema's records are left as they are."""

    stages: tuple[Stage, ...]

    def stage_at(self, moment: datetime.datetime) -> Stage | None:
        """The furthest stage a record of ``moment`` is past (the earliest ``before`` after
        it), None when it is within every retention."""
        due = [stage for stage in self.stages if moment < stage.before]
        return min(due, key=lambda stage: stage.before) if due else None


RulesFor = Callable[[str], SchemaRules | None]  # schema name → its rules; None: the default


def default_rules(now: datetime.datetime, days: int = DEFAULT_DAYS) -> SchemaRules:
    """Rules of a schema nobody named: removed after ``days``."""
    return SchemaRules((Stage(now - datetime.timedelta(days=days)),))


def text_cutoff(now: datetime.datetime, shortest_days: int) -> datetime.datetime:
    """Raw text older than this goes: ``shortest_days`` is the policy's shortest retention
    (text may hold any schema's events), never more than the default."""
    return now - datetime.timedelta(days=min(shortest_days, DEFAULT_DAYS))


KEEP, REMOVE, SANITIZE = "keep", "remove", "sanitize"


class Judged(NamedTuple):
    fate: str  # KEEP (the line as it is), REMOVE, SANITIZE (``line`` replaces it)
    line: bytes = b""


class CapsuleJudge:
    """Judges the lines of one valid log, given its day; each schema's rules looked up once."""

    def __init__(
        self,
        rules: RulesFor,
        hasher: Hasher,
        default: SchemaRules,
        text_before: datetime.datetime,
    ) -> None:
        self._rules = rules
        self._hasher = hasher
        self._default = default
        self._text_before = text_before
        self._known: dict[str, SchemaRules] = {}

    def judge(self, line: bytes, start: datetime.datetime, end: datetime.datetime) -> Judged:
        """``line`` (without its newline) of a file of the day from ``start`` to ``end``: a
        capsule's moment is its timestamp, never later than the file's day (a client clock
        far ahead keeps nothing longer); a line that is no capsule is raw text."""
        try:
            capsule = orjson.loads(line)
        except orjson.JSONDecodeError:
            capsule = None
        if not _is_capsule(capsule):
            return Judged(REMOVE if start < self._text_before else KEEP)
        moment = min(_moment(capsule.get("timestamp"), start), end)
        stage = self._schema_rules(capsule["schema"]).stage_at(moment)
        if stage is None:
            return Judged(KEEP)
        if not stage.keep:
            return Judged(REMOVE)
        sanitized = sanitize(capsule, stage, lambda value: self._hasher(value, moment))
        if sanitized == capsule:
            return Judged(KEEP)
        return Judged(SANITIZE, capsule_json(sanitized))

    def _schema_rules(self, schema: str) -> SchemaRules:
        found = self._known.get(schema)
        if found is None:
            found = self._known[schema] = self._rules(schema) or self._default
        return found


def _is_capsule(value: object) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("schema"), str)
        and isinstance(value.get("event"), dict)
    )


def _moment(timestamp: object, unknown: datetime.datetime) -> datetime.datetime:
    """A capsule's timestamp as an aware datetime; ``unknown`` when it has none readable."""
    try:
        seconds = parse_timestamp(timestamp)
    except CapsuleError:
        return unknown
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC)


FieldPath = tuple[str, ...]


def field_path(name: str) -> FieldPath:
    """Where a field the catalog names lives in a capsule: capsule fields at its top."""
    return (name,) if name in CAPSULE_FIELDS or name in ALWAYS_KEPT else ("event", *name.split("."))


def sanitize(capsule: dict, stage: Stage, hash_text: HashText) -> dict:
    """The capsule reduced to what ``stage`` keeps; a capsule sanitized before keeps its
    hashes as they are and has only the fields hashed since added to them."""
    done = capsule.get(MARKER)
    hashed_before = {str(name) for name in done} if isinstance(done, list) else set()
    to_hash = [name for name in stage.hash if name not in hashed_before]
    hashed = _with_hashes(capsule, [field_path(name) for name in to_hash], hash_text)
    kept: list[FieldPath] = [(name,) for name in ALWAYS_KEPT]
    kept += [field_path(name) for name in (*stage.keep, *stage.hash)]
    out = _project(hashed, _tree(kept))
    out.setdefault("event", {})  # still a capsule, however little of its event is kept
    out[MARKER] = sorted(hashed_before | set(to_hash))
    return out


def _with_hashes(capsule: dict, paths: Iterable[FieldPath], hash_text: HashText) -> dict:
    """A copy of ``capsule`` with the values at ``paths`` hashed (JSON text when not a
    string; null stays null); the input is not changed."""
    out = dict(capsule)
    for path in paths:
        if path[0] in ALWAYS_KEPT:
            continue  # what identifies the record is never hashed
        node = out
        for key in path[:-1]:
            inner = node.get(key)
            if not isinstance(inner, dict):
                break
            node[key] = node = dict(inner)
        else:
            value = node.get(path[-1])
            if value is not None:
                text = value if isinstance(value, str) else orjson.dumps(value).decode()
                node[path[-1]] = hash_text(text)
    return out


_WHOLE = None  # a tree leaf: the value there is kept whole


def _tree(paths: Iterable[FieldPath]) -> dict:
    """Paths as a nested dict; a path kept whole covers every deeper one."""
    root: dict = {}
    for path in paths:
        node = root
        for key in path[:-1]:
            child = node.setdefault(key, {})
            if child is _WHOLE:
                break
            node = child
        else:
            node[path[-1]] = _WHOLE
    return root


def _project(value: dict, tree: dict) -> dict:
    """``value`` with only the keys of ``tree``, in its own key order."""
    out = {}
    for key, item in value.items():
        if key not in tree:
            continue
        sub = tree[key]
        if sub is _WHOLE:
            out[key] = item
        elif isinstance(item, dict):
            out[key] = _project(item, sub)
    return out
