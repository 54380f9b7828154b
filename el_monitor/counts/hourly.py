"""Counts for the daily report by the hour the event happened, kept until the next flush.

The report wants exact sums per day of the events' own time (a backfill of yesterday belongs to
yesterday), and they must be as durable as the rows: so they are written in the transaction
of the batch they go with (or spooled with it), never on a clock of their own.  What the store
writer sees itself (valid, inserted, duplicate, spooled, store errors) it counts from the batch
at commit (``batch_rows``); this book holds what only the pipeline sees between two flushes:
invalid, sampled out and opted out events, and the error groups with their first example.
``raw`` is never kept: every event lands in exactly one of valid, invalid, sampled_out and
opted_out, so it is their sum.

The hot path touches this only for events that are not stored (``tally.sampled_out += 1`` on
the tally ``ScopeHours.at`` finds with one dict lookup).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any, NamedTuple

from el_monitor.errors import DUPLICATE, EventError
from el_monitor.measures import MEASURES
from el_monitor.store.counts import PATH_LENGTH, HourCounts, HourErrors, Measures, period_of

HOUR = 3600
TEXT_LIMIT = 4096  # characters of a message or raw example kept per error group (TEXT: 64 KB)
MAX_EXAMPLES = 10_000  # error groups whose example is kept between two flushes

_TIMESTAMP = itemgetter("timestamp")
HourKey = tuple[int, str]  # (hour: Unix seconds // 3600, schema or NO_SCHEMA)
ErrorKey = tuple[int, str, str, str]  # (hour, schema, code, path or "")
ValidCounts = dict[HourKey, int]  # valid events of a batch by (hour, schema)


class HourTally:
    """What the pipeline counted of one schema in one hour since the last flush."""

    __slots__ = ("invalid", "sampled_out", "opted_out")

    def __init__(self) -> None:
        self.invalid = 0
        self.sampled_out = 0
        self.opted_out = 0


class ScopeHours:
    """One schema's tallies by hour; the pipeline keeps one per schema with its validator."""

    __slots__ = ("_book", "_hours")

    def __init__(self, book: HourBook) -> None:
        self._book = book
        self._hours: dict[int, HourTally] = {}

    def at(self, seconds: int) -> HourTally:
        """The tally of the hour ``seconds`` (Unix time) falls in."""
        tally = self._hours.get(seconds // HOUR)
        if tally is None:
            tally = self._hours[seconds // HOUR] = HourTally()
            self._book.touched()
        return tally


class ErrorTally(NamedTuple):
    events: int
    message: str  # of the first error of the group (not redacted: redact before showing)
    example: str


class Pending(NamedTuple):
    """What the book held at a flush: immutable, written with the batch or spooled with it."""

    counts: Mapping[HourKey, tuple[int, int, int]]  # (invalid, sampled_out, opted_out)
    errors: Mapping[ErrorKey, ErrorTally]

    def __bool__(self) -> bool:
        return bool(self.counts or self.errors)

    def to_record(self) -> dict[str, list]:
        """As JSON-ready lists, for the spool file of the batch."""
        return {
            "counts": [[h, s, *values] for (h, s), values in self.counts.items()],
            "errors": [[*key, *tally] for key, tally in self.errors.items()],
        }

    @classmethod
    def from_record(cls, record: Any) -> Pending:
        """The inverse of ``to_record``; ValueError when the record is not one."""
        try:
            counts = {}
            for h, s, invalid, sampled_out, opted_out in record["counts"]:
                _check(h, int, s, str, invalid, int, sampled_out, int, opted_out, int)
                counts[(h, s)] = (invalid, sampled_out, opted_out)
            errors = {}
            for h, s, code, path, count, message, example in record["errors"]:
                _check(h, int, s, str, code, str, path, str, count, int, message, str, example, str)
                errors[(h, s, code, path)] = ErrorTally(count, message, example)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a counts record: {exc}") from None
        return cls(counts, errors)


def _check(*pairs: Any) -> None:
    for value, kind in zip(pairs[::2], pairs[1::2], strict=True):
        if type(value) is not kind:
            raise ValueError(f"{value!r} is not {kind.__name__}")


NOTHING = Pending({}, {})


class HourBook:
    """The pipeline's counts by (event hour, schema) since the last flush.  Not thread-safe:
    the forwarder's thread owns it, like the Counters."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._scopes: dict[str, ScopeHours] = {}
        self._errors: dict[ErrorKey, list] = {}  # key → [count, message, example]
        self.since: float | None = None  # monotonic time of the first count since the flush

    def scope(self, name: str) -> ScopeHours:
        """The tallies of a schema (or NO_SCHEMA), created on first use and kept."""
        hours = self._scopes.get(name)
        if hours is None:
            hours = self._scopes[name] = ScopeHours(self)
        return hours

    def now(self) -> int:
        """Processing time: the hour of an event whose line carries no readable timestamp."""
        return int(self.clock())

    def touched(self) -> None:
        if self.since is None:
            self.since = time.monotonic()

    def invalid(self, scope: str, seconds: int | None, error: EventError) -> None:
        """Count an invalid event and its error group (its first message and raw event kept)."""
        when = self.now() if seconds is None else seconds
        self.scope(scope).at(when).invalid += 1
        key = (when // HOUR, scope, error.code, (error.path or "")[:PATH_LENGTH])
        group = self._errors.get(key)
        if group is not None:
            group[0] += 1
        elif len(self._errors) < MAX_EXAMPLES:
            self._errors[key] = [1, error.message[:TEXT_LIMIT], error.raw_event[:TEXT_LIMIT]]
        else:  # past the limit a new group keeps its count, not its example
            self._errors[key] = [1, "", ""]

    def take(self) -> Pending:
        """Everything counted since the last take, and an empty book."""
        counts = {}
        for name, hours in self._scopes.items():
            for hour, tally in hours._hours.items():
                counts[(hour, name)] = (tally.invalid, tally.sampled_out, tally.opted_out)
            hours._hours.clear()  # in place: the pipeline holds the ScopeHours
        errors = {key: ErrorTally(*group) for key, group in self._errors.items()}
        self._errors = {}
        self.since = None
        return Pending(counts, errors)

    def give_back(self, pending: Pending) -> None:
        """Put back what a flush could neither write nor spool, for the next one."""
        for (hour, name), values in pending.counts.items():
            tally = self.scope(name).at(hour * HOUR)
            tally.invalid += values[0]
            tally.sampled_out += values[1]
            tally.opted_out += values[2]
        for key, old in pending.errors.items():
            group = self._errors.get(key)
            if group is None:
                self._errors[key] = [old.events, old.message, old.example]
            else:
                group[0] += old.events
                group[1:] = [old.message, old.example]  # the older example is the first


class Outcome(NamedTuple):
    """A stored-side event that is not simply inserted: a duplicate, or a store error."""

    capsule: Mapping[str, Any]
    error: EventError | None  # None: an identical replay (counted duplicate only)

    @property
    def duplicate(self) -> bool:
        """A replay, or another event holding a stored uuid (rather than a store error)."""
        return self.error is None or self.error.code == DUPLICATE


def valid_by_hour(groups: Iterable[tuple[str, Sequence[Mapping[str, Any]]]]) -> ValidCounts:
    """Events per (hour, schema) of ``(schema, capsules)`` groups.  A live batch spans a second
    or two, so a group all in one hour is counted by its length; a backfill's one by one."""
    valid: ValidCounts = {}
    for schema, capsules in groups:
        if not capsules:
            continue
        hour = min(map(_TIMESTAMP, capsules)) // HOUR
        if max(map(_TIMESTAMP, capsules)) // HOUR == hour:
            valid[(hour, schema)] = valid.get((hour, schema), 0) + len(capsules)
            continue
        for capsule in capsules:
            key = (capsule["timestamp"] // HOUR, schema)
            valid[key] = valid.get(key, 0) + 1
    return valid


def without_duplicates(
    valid: ValidCounts, outcomes: Sequence[Outcome]
) -> tuple[ValidCounts, list[Outcome]]:
    """``valid`` and ``outcomes`` without the events whose uuid was stored already: a backfill
    counts only what it adds, since what was stored was counted when it was."""
    left = dict(valid)
    kept = []
    for outcome in outcomes:
        if outcome.duplicate:
            key = (outcome.capsule["timestamp"] // HOUR, outcome.capsule["schema"])
            left[key] -= 1
        else:
            kept.append(outcome)
    return {key: count for key, count in left.items() if count}, kept


def batch_rows(
    instance: str,
    pending: Pending,
    valid: ValidCounts,
    outcomes: Sequence[Outcome],
    spooled: bool,
) -> tuple[list[HourCounts], list[HourErrors]]:
    """The hour rows a committed batch adds: its ``valid`` events (each ``inserted`` unless an
    outcome says ``duplicate`` or a store error), ``spooled`` when it came from the spool, and
    what the pipeline counted since the last flush (``pending``)."""
    measures: dict[HourKey, dict[str, int]] = {}

    def row(key: HourKey) -> dict[str, int]:
        values = measures.get(key)
        if values is None:
            values = measures[key] = dict.fromkeys(MEASURES, 0)
        return values

    for key, count in valid.items():
        values = row(key)
        values["valid"] = values["inserted"] = count
        if spooled:
            values["spooled"] = count
    errors: dict[ErrorKey, list] = {k: list(v) for k, v in pending.errors.items()}
    for outcome in outcomes:
        capsule, error = outcome.capsule, outcome.error
        hour, schema = capsule["timestamp"] // HOUR, capsule["schema"]
        values = row((hour, schema))
        values["inserted"] -= 1
        if outcome.duplicate:
            values["duplicate"] += 1
        if error is not None:
            group_key = (hour, schema, error.code, "")
            group = errors.get(group_key)
            if group is None:
                errors[group_key] = [1, error.message[:TEXT_LIMIT], error.raw_event[:TEXT_LIMIT]]
            else:
                group[0] += 1
    for key, (invalid, sampled_out, opted_out) in pending.counts.items():
        values = row(key)
        values["invalid"] += invalid
        values["sampled_out"] += sampled_out
        values["opted_out"] += opted_out
    for values in measures.values():
        values["raw"] = (
            values["valid"] + values["invalid"] + values["sampled_out"] + values["opted_out"]
        )
    counts = [
        HourCounts(period_of(hour * HOUR), instance, schema, Measures(**values))
        for (hour, schema), values in measures.items()
    ]
    groups = [
        HourErrors(period_of(hour * HOUR), instance, schema, code, path, *group)
        for (hour, schema, code, path), group in errors.items()
    ]
    return counts, groups
