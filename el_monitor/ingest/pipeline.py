"""The per-event path: parse → capsule → opt-out → sample → validate → count → sinks.

This loop is the forwarder's hot path, so it keeps to local variables, caches each schema's
validator, counters and sampler together, and turns every failure into an EventError value
without ever letting one escape: a bad line costs a count and a log line, nothing more.
Opted-out events are counted and nothing else: not stored, not logged, not even as raw lines.

An event naming a revision the registry lacks, of a schema it knows, is counted under that
schema (its owners must see it) and passes the schema's opt-out check like any other; an
unknown schema name is counted overall only, so names from the wire never grow the counters.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import NamedTuple

from el_monitor.counts.counters import Counters, SchemaCounts
from el_monitor.counts.hourly import HourBook, ScopeHours
from el_monitor.errors import (
    PARSE,
    UNKNOWN_SCHEMA,
    VALIDATION,
    EventError,
    SchemaError,
    UserError,
)
from el_monitor.event.capsule import CapsuleError, parse_timestamp
from el_monitor.event.formats import LineParser, ParseError
from el_monitor.ingest.policy import Policy
from el_monitor.ingest.sampling import Sampler
from el_monitor.ingest.sources.base import OPTOUT_FLAG, Chunk
from el_monitor.ingest.typed_lines import TypedLines
from el_monitor.optout.matcher import OptOutCheck
from el_monitor.schema.compiled import CompiledSchema
from el_monitor.schema.registry import SchemaRegistry
from el_monitor.store.counts import NO_SCHEMA

log = logging.getLogger(__name__)

RAW_EVENT_LIMIT = 65536  # longest rawEvent kept in an EventError
_UNKNOWN_CACHE_LIMIT = 10_000


class _Entry(NamedTuple):
    compiled: CompiledSchema
    counts: SchemaCounts
    sampler: Sampler | None
    opted_out: OptOutCheck | None
    hours: ScopeHours  # by the event's own hour, for the report
    typed: bool  # whether its lines may be decoded typed: neither sampled nor opt-out checked


class _Owner(NamedTuple):
    """Who answers for an event whose revision cannot be used: the schema it names."""

    counts: SchemaCounts
    opted_out: OptOutCheck | None
    hours: ScopeHours


class Pipeline:
    """Validates and counts; hands valid capsules to ``accept`` and errors to ``reject``."""

    def __init__(
        self,
        parser: LineParser,
        registry: SchemaRegistry,
        counters: Counters,
        accept: Callable[[dict], None],
        reject: Callable[[EventError], None],
        log_raw: Callable[[bytes], None] | None = None,
        policy: Policy | None = None,
        redact_line: Callable[[bytes], bytes] | None = None,
        book: HourBook | None = None,
        typed: TypedLines | None = None,
    ) -> None:
        self.parser = parser
        self.registry = registry
        self.counters = counters
        self.accept = accept
        self.reject = reject
        # Raw lines reach logs and error records only redacted (client IPs taken out).
        self.redact_line = redact_line
        if log_raw is not None and redact_line is not None:
            self.log_raw: Callable[[bytes], None] | None = lambda line: log_raw(redact_line(line))
        else:
            self.log_raw = log_raw
        self.policy = policy or Policy()
        self.book = book or HourBook()
        # The parser's typed decoding, told which schemas to decode so (``typed_lines``).
        self.typed = typed
        self._schemas: dict[tuple[str, str], _Entry] = {}  # (schema, revision) → entry
        # Pairs the registry does not have → their known schema's owner, or None (unknown name).
        self._unknown: dict[tuple[str, str | None], _Owner | None] = {}
        self._known_names: frozenset[str] | None = None  # schema names the registry lists

    def set_policy(self, policy: Policy) -> None:
        """Take a new catalog's decisions from the next event on."""
        self.policy = policy
        if self.typed is not None:
            self.typed.forget()  # a schema typed so far may now be sampled or checked
        self._schemas = {}
        self._unknown = {}
        self._known_names = None  # listed again: a reload also picks up new schemas

    def process(self, chunk: Chunk) -> None:
        defaults = chunk.defaults
        if defaults is not None and defaults.get(OPTOUT_FLAG):
            self._opted_out_chunk(chunk)
        elif chunk.uuids is None:
            self._take(chunk.lines, defaults)
        else:  # a request's events, each with the uuid its transport gave it
            take = self._take
            for line, line_defaults in chunk.each_line():
                take((line,), line_defaults)

    def _take(self, lines: Iterable[bytes], defaults: Mapping[str, object] | None) -> None:
        """Parse, check, count and hand on ``lines``, which share ``defaults``."""
        parse = self.parser
        schemas = self._schemas
        unknown = self._unknown
        accept = self.accept
        log_raw = self.log_raw
        learn = None if self.typed is None else self.typed.learn
        for line in lines:
            try:
                capsule = parse(line, defaults)
            except ParseError as exc:
                self._invalid(line, str(exc), PARSE, None, None, None, None)
                continue
            except CapsuleError as exc:
                if not self._opted_out_broken(exc):
                    seconds = _seconds_of(exc.capsule)
                    self._invalid(
                        line, str(exc), VALIDATION, exc.schema, exc.revision, exc.path, seconds
                    )
                continue
            key = (capsule["schema"], capsule["revision"])
            entry = schemas.get(key)
            if entry is None:
                entry = None if key in unknown else self._lookup(key)
                if entry is None:
                    self._unknown_schema(line, key, capsule)
                    continue
            counts = entry.counts
            counts.raw += 1
            opted_out = entry.opted_out
            if opted_out is not None and opted_out(capsule):
                counts.opted_out += 1
                entry.hours.at(capsule["timestamp"]).opted_out += 1
                continue
            if log_raw is not None:
                log_raw(line)
            sampler = entry.sampler
            if sampler is not None and not sampler.keep(capsule):
                counts.sampled_out += 1
                entry.hours.at(capsule["timestamp"]).sampled_out += 1
                continue
            event = capsule["event"]
            # (An event of another class is a typed line's: checked as it was decoded.)
            failure = entry.compiled.validate(event) if event.__class__ is dict else None
            if failure is None:
                counts.valid += 1
                accept(capsule)
                if entry.typed and learn is not None and event.__class__ is dict:
                    learn(key, entry.compiled.schema)
            else:
                counts.invalid += 1
                counts.errors[(VALIDATION, failure.path)] += 1
                error = EventError(
                    self._raw_text(line), failure.message, VALIDATION, *key, failure.path
                )
                self.book.invalid(key[0], capsule["timestamp"], error)
                self.reject(error)

    def _opted_out_chunk(self, chunk: Chunk) -> None:
        """The sender asked not to be tracked: count each event, keep nothing of it."""
        for line in chunk.lines:
            owner = None
            seconds = None
            try:
                capsule = self.parser(line, chunk.defaults)
                seconds = capsule["timestamp"]
                owner = self._owner(capsule["schema"], capsule["revision"])
            except ParseError:
                pass
            except CapsuleError as exc:
                seconds = _seconds_of(exc.capsule)
                owner = self._owner(exc.schema, exc.revision)
            counts = owner.counts if owner else self.counters.unattributed
            counts.raw += 1
            counts.opted_out += 1
            hours = owner.hours if owner else self.book.scope(NO_SCHEMA)
            hours.at(self.book.now() if seconds is None else seconds).opted_out += 1

    def _opted_out_broken(self, exc: CapsuleError) -> bool:
        """Whether a broken capsule still shows an opted-out user (a known schema, a string
        wiki and an event object are enough to tell, whatever its revision): counted, and
        logged nowhere."""
        capsule = exc.capsule
        if capsule is None or type(capsule.get("wiki")) is not str:
            return False
        if type(capsule.get("event")) is not dict:
            return False
        owner = self._owner(exc.schema, exc.revision)
        if owner is None or owner.opted_out is None or not owner.opted_out(capsule):
            return False
        owner.counts.raw += 1
        owner.counts.opted_out += 1
        seconds = _seconds_of(capsule)
        owner.hours.at(self.book.now() if seconds is None else seconds).opted_out += 1
        return True

    def _owner(self, schema: str | None, revision: str | None) -> _Entry | _Owner | None:
        """Counts and opt-out check for an event naming this schema and revision (None: not
        readable): the revision's entry, else its schema's owner; None when the schema is
        unknown.  (``process`` inlines the first lookup for the hot path.)"""
        if schema is None:
            return None
        key = (schema, revision)
        if revision is not None:
            entry = self._schemas.get((schema, revision))
            if entry is not None:
                return entry
            if key not in self._unknown:
                entry = self._lookup((schema, revision))
                if entry is not None:
                    return entry
        elif key not in self._unknown:
            self._remember_unknown(key)
        return self._unknown.get(key)

    def _lookup(self, key: tuple[str, str]) -> _Entry | None:
        try:
            compiled = self.registry.get(*key)
        except SchemaError as exc:
            log.error("schema %s/%s cannot be used: %s", key[0], key[1], exc)
            compiled = None
        if compiled is None:
            self._remember_unknown(key)
            return None
        policy = self.policy
        sampler = policy.sampler_for(key[0])
        opted_out = policy.opt_out_check_for(key[0])
        entry = self._schemas[key] = _Entry(
            compiled,
            self.counters.schema(key[0]),
            sampler,
            opted_out,
            self.book.scope(key[0]),
            sampler is None and opted_out is None,
        )
        return entry

    def _remember_unknown(self, key: tuple[str, str | None]) -> None:
        """Note a pair the registry lacks, with its schema's owner when the name is known."""
        if len(self._unknown) >= _UNKNOWN_CACHE_LIMIT:  # names from the wire: bounded
            self._unknown.clear()  # in place: process() holds it in a local for the chunk
        name = key[0]
        if self._known_names is None:
            try:
                self._known_names = frozenset(s for s, _ in self.registry.revisions())
            except UserError as exc:  # the directory became unreadable: a bad day, no crash
                log.error("cannot list the schema registry: %s", exc)
                self._known_names = frozenset()
        if name in self._known_names or self.counters.known(name):
            owner = _Owner(
                self.counters.schema(name),
                self.policy.opt_out_check_for(name),
                self.book.scope(name),
            )
            self._unknown[key] = owner
        else:
            self._unknown[key] = None

    def _unknown_schema(self, line: bytes, key: tuple[str, str], capsule: dict) -> None:
        """An unknown revision of a known schema counts under that schema, after its opt-out
        check; an unknown name is counted overall only: names from the wire must not grow
        the counters."""
        owner = self._unknown.get(key)
        if owner is None:
            counts = self.counters.unattributed
            message = f"unknown schema {key[0]} revision {key[1]}"
        else:
            counts = owner.counts
            if owner.opted_out is not None and owner.opted_out(capsule):
                counts.raw += 1
                counts.opted_out += 1
                owner.hours.at(capsule["timestamp"]).opted_out += 1
                return
            message = f"schema {key[0]} has no revision {key[1]} in the registry"
        if self.log_raw is not None:
            self.log_raw(line)
        counts.raw += 1
        counts.invalid += 1
        counts.errors[(UNKNOWN_SCHEMA, None)] += 1
        error = EventError(self._raw_text(line), message, UNKNOWN_SCHEMA, key[0], key[1])
        self.book.invalid(key[0] if owner else NO_SCHEMA, capsule["timestamp"], error)
        self.reject(error)

    def _invalid(
        self,
        line: bytes,
        message: str,
        code: str,
        schema: str | None,
        revision: str | None,
        path: str | None,
        seconds: int | None,
    ) -> None:
        """Count an event that failed before schema validation, against its schema if known
        (and its hour, when it has a readable timestamp)."""
        if self.log_raw is not None:
            self.log_raw(line)
        owner = self._owner(schema, revision)
        counts = owner.counts if owner else self.counters.unattributed
        counts.raw += 1
        counts.invalid += 1
        counts.errors[(code, path)] += 1
        error = EventError(self._raw_text(line), message, code, schema, revision, path)
        self.book.invalid(schema if owner and schema else NO_SCHEMA, seconds, error)
        self.reject(error)

    def _raw_text(self, line: bytes) -> str:
        """The line as text for the invalid log: redacted, undecodable bytes replaced, size
        bounded."""
        if self.redact_line is not None:
            line = self.redact_line(line)
        text = line[:RAW_EVENT_LIMIT].decode("utf-8", "replace")
        return text if len(line) <= RAW_EVENT_LIMIT else text + "…[truncated]"


def _seconds_of(capsule: dict | None) -> int | None:
    """A broken capsule's own timestamp, when it has a readable one (None: use processing
    time)."""
    if capsule is None or capsule.get("timestamp") is None:
        return None
    try:
        return parse_timestamp(capsule["timestamp"])
    except CapsuleError:
        return None
