"""The per-event path: parse → capsule → opt-out → sample → validate → count → sinks.

This loop is the forwarder's hot path, so it keeps to local variables, caches each schema's
validator, counters and sampler together, and turns every failure into an EventError value
without ever letting one escape: a bad line costs a count and a log line, nothing more.
Opted-out events are counted and nothing else: not stored, not logged, not even as raw lines.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import NamedTuple

from el_monitor.counts.counters import Counters, SchemaCounts
from el_monitor.counts.hourly import HourBook, ScopeHours
from el_monitor.errors import PARSE, UNKNOWN_SCHEMA, VALIDATION, EventError, SchemaError
from el_monitor.event.capsule import CapsuleError, parse_timestamp
from el_monitor.event.formats import LineParser, ParseError
from el_monitor.ingest.policy import Policy
from el_monitor.ingest.sampling import Sampler
from el_monitor.ingest.sources.base import OPTOUT_FLAG, Chunk
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
    hours: ScopeHours  # by the event's own hour, for the report
    sampler: Sampler | None
    opted_out: OptOutCheck | None


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
        self._schemas: dict[tuple[str, str], _Entry] = {}  # (schema, revision) → entry
        self._unknown: set[tuple[str, str]] = set()  # pairs the registry does not have

    def set_policy(self, policy: Policy) -> None:
        """Take a new catalog's decisions from the next event on."""
        self.policy = policy
        self._schemas = {}
        self._unknown = set()

    def process(self, chunk: Chunk) -> None:
        defaults = chunk.defaults
        if defaults is not None and defaults.get(OPTOUT_FLAG):
            self._opted_out_chunk(chunk)
            return
        parse = self.parser
        schemas = self._schemas
        unknown = self._unknown
        accept = self.accept
        log_raw = self.log_raw
        for line in chunk.lines:
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
                    self._unknown_schema(line, key, capsule["timestamp"])
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
            failure = entry.compiled.validate(capsule["event"])
            if failure is None:
                counts.valid += 1
                accept(capsule)
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
            entry = None
            seconds = None
            try:
                capsule = self.parser(line, chunk.defaults)
                seconds = capsule["timestamp"]
                entry = self._entry((capsule["schema"], capsule["revision"]))
            except (ParseError, CapsuleError):
                pass
            counts = entry.counts if entry else self.counters.unattributed
            counts.raw += 1
            counts.opted_out += 1
            hours = entry.hours if entry else self.book.scope(NO_SCHEMA)
            hours.at(self.book.now() if seconds is None else seconds).opted_out += 1

    def _opted_out_broken(self, exc: CapsuleError) -> bool:
        """Whether a broken capsule still shows an opted-out user (a known schema, a string
        wiki and an event object are enough to tell): counted, and logged nowhere."""
        capsule = exc.capsule
        if exc.schema is None or exc.revision is None or capsule is None:
            return False
        if type(capsule.get("wiki")) is not str or type(capsule.get("event")) is not dict:
            return False
        entry = self._entry((exc.schema, exc.revision))
        if entry is None or entry.opted_out is None or not entry.opted_out(capsule):
            return False
        entry.counts.raw += 1
        entry.counts.opted_out += 1
        seconds = _seconds_of(capsule)
        entry.hours.at(self.book.now() if seconds is None else seconds).opted_out += 1
        return True

    def _entry(self, key: tuple[str, str]) -> _Entry | None:
        """The cached entry of a (schema, revision), looked up on first sight; None: unknown.
        (``process`` inlines this for the hot path.)"""
        entry = self._schemas.get(key)
        if entry is None and key not in self._unknown:
            entry = self._lookup(key)
        return entry

    def _lookup(self, key: tuple[str, str]) -> _Entry | None:
        try:
            compiled = self.registry.get(*key)
        except SchemaError as exc:
            log.error("schema %s/%s cannot be used: %s", key[0], key[1], exc)
            compiled = None
        if compiled is None:
            if len(self._unknown) >= _UNKNOWN_CACHE_LIMIT:  # names from the wire: bounded
                self._unknown.clear()  # in place: process() holds it in a local for the chunk
            self._unknown.add(key)
            return None
        policy = self.policy
        entry = self._schemas[key] = _Entry(
            compiled,
            self.counters.schema(key[0]),
            self.book.scope(key[0]),
            policy.sampler_for(key[0]),
            policy.opt_out_check_for(key[0]),
        )
        return entry

    def _unknown_schema(self, line: bytes, key: tuple[str, str], seconds: int) -> None:
        """Counted overall only: arbitrary names from the wire must not grow the counters."""
        if self.log_raw is not None:
            self.log_raw(line)
        counts = self.counters.unattributed
        counts.raw += 1
        counts.invalid += 1
        counts.errors[(UNKNOWN_SCHEMA, None)] += 1
        message = f"unknown schema {key[0]} revision {key[1]}"
        error = EventError(self._raw_text(line), message, UNKNOWN_SCHEMA, key[0], key[1])
        self.book.invalid(NO_SCHEMA, seconds, error)
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
        entry = self._entry((schema, revision)) if schema and revision is not None else None
        counts = entry.counts if entry else self.counters.unattributed
        counts.raw += 1
        counts.invalid += 1
        counts.errors[(code, path)] += 1
        error = EventError(self._raw_text(line), message, code, schema, revision, path)
        self.book.invalid(schema if entry and schema else NO_SCHEMA, seconds, error)
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
