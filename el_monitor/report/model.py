"""The daily report as typed values: counts per day, the figures a row shows, the report itself,
its charts, and an owner's slice of it.

Everything here is already redacted (``collect`` sees to it); the values are immutable so one
report can be sliced, drawn and rendered any number of times.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import NamedTuple

from el_monitor.retention.extensions import Grant
from el_monitor.store.counts import NO_SCHEMA

__all__ = [
    "AVERAGE_DAYS",
    "NONE_SHOWN",
    "NO_SCHEMA_LABEL",
    "WINDOW_DAYS",
    "Chart",
    "ErrorSummary",
    "Figures",
    "Named",
    "ReportData",
    "RetentionSection",
    "RetentionTable",
    "SchemaReport",
    "Tally",
    "figures",
    "owner_slice",
    "owner_slices",
    "percent",
    "total",
]

WINDOW_DAYS = 30  # the trend chart's span; also covers the previous day and the 7-day average
AVERAGE_DAYS = 7
NO_SCHEMA_LABEL = "(no schema)"
NONE_SHOWN = "–"  # in place of a number there is no basis for


class Tally(NamedTuple):
    """Counts of one schema (or a total) over one day."""

    valid: int = 0
    invalid: int = 0
    sampled_out: int = 0
    opted_out: int = 0
    duplicate: int = 0  # valid events whose uuid was stored already (replays, reused uuids)

    def plus(self, other: Tally) -> Tally:
        return Tally(*(a + b for a, b in zip(self, other, strict=True)))

    @property
    def validated(self) -> int:
        return self.valid + self.invalid


def total(tallies: Iterable[Tally]) -> Tally:
    out = Tally()
    for tally in tallies:
        out = out.plus(tally)
    return out


@dataclass(frozen=True)
class Figures:
    """One day's numbers with the comparisons the report shows.

    ``None`` means "no basis to compare": no counts at all were recorded on the previous day
    (the forwarder was not running), a previous value of zero, or no recorded day in the week.
    """

    today: Tally
    previous: Tally | None  # the day before; None when nothing was recorded that day
    valid_avg7: float | None  # mean over the recorded days among the 7 before
    invalid_avg7: float | None

    @property
    def valid(self) -> int:
        return self.today.valid

    @property
    def invalid(self) -> int:
        return self.today.invalid

    @property
    def sampled_out(self) -> int:
        return self.today.sampled_out

    @property
    def opted_out(self) -> int:
        return self.today.opted_out

    @property
    def duplicate(self) -> int:
        return self.today.duplicate

    @property
    def invalid_share(self) -> float | None:
        """Invalid events as a fraction of the validated ones (0..1)."""
        validated = self.today.validated
        return self.today.invalid / validated if validated else None

    @property
    def valid_change(self) -> float | None:
        """Percent change of valid events against the previous day."""
        return _change(self.today.valid, self.previous.valid if self.previous else None)

    @property
    def invalid_change(self) -> float | None:
        return _change(self.today.invalid, self.previous.invalid if self.previous else None)


def _change(now: int, before: int | None) -> float | None:
    if not before:
        return None
    return (now - before) * 100.0 / before


@dataclass(frozen=True)
class ErrorSummary:
    """One group of the day's errors of a schema: same code and JSON path, redacted example."""

    code: str
    path: str
    message: str
    count: int
    example: str | None


class Named(NamedTuple):
    """A configured schema and its owners (one that logged nothing, say)."""

    name: str
    owners: tuple[str, ...]


@dataclass(frozen=True)
class SchemaReport:
    """One schema's row in the report (``name`` is ``-`` for lines no schema was named for)."""

    name: str
    owners: tuple[str, ...]
    figures: Figures
    errors: tuple[ErrorSummary, ...]
    error_groups: int  # distinct (code, path) that day; ``errors`` holds the top ones
    history: tuple[Tally, ...]  # per day of the report's window, oldest first

    @property
    def label(self) -> str:
        return NO_SCHEMA_LABEL if self.name == NO_SCHEMA else self.name


@dataclass(frozen=True)
class ReportData:
    """Everything a report shows, already redacted; rendered as HTML and text alike."""

    day: datetime.date
    window: tuple[datetime.date, ...]  # WINDOW_DAYS days ending with ``day``
    recorded: tuple[bool, ...]  # per day of the window: were any counts recorded at all
    schemas: tuple[SchemaReport, ...]  # active on the day or the 7 before, most invalid first
    totals: Figures
    trend: tuple[Tally, ...]  # totals per day of the window
    # Schemas the table lists (active on the day or the 7 before) or the catalog configures,
    # without an owner.
    unowned: tuple[str, ...]
    silent: tuple[Named, ...]  # configured schemas that logged nothing that day
    generated: datetime.datetime
    owner: str | None = None  # set on an owner's slice
    problems: tuple[str, ...] = field(default=())  # what could not be read (shown, not fatal)
    retention: RetentionSection | None = None  # None: not read (shown as such)

    @property
    def schema_count(self) -> int:
        """How many schemas the ownership statement covers: listed here, or configured."""
        listed = {s.name for s in self.schemas if s.name != NO_SCHEMA}
        return len(listed | {s.name for s in self.silent} | set(self.unowned))

    @property
    def has_data(self) -> bool:
        return self.recorded[-1]

    @property
    def subject(self) -> str:
        t = self.totals
        share = percent(t.invalid_share)
        scope = ""
        if self.owner:  # an owner's part names its schemas (the silent ones if none logged)
            names = [s.label for s in self.schemas] or [s.name for s in self.silent]
            scope = f" for {', '.join(names)}" if names else ""
            if len(scope) > 80:
                scope = f" for {len(names)} schemas"
        if not self.has_data:
            return f"EventLogging daily report {self.day}{scope}: no counts recorded"
        return (
            f"EventLogging daily report {self.day}{scope}: {t.valid:,} valid, "
            f"{t.invalid:,} invalid ({share})"
        )


class RetentionTable(NamedTuple):
    """One event table in the retention section: its policy, the last run, how late it is."""

    table: str
    action: str  # delete or sanitize, at the end of retention
    retention_days: int
    ran: bool  # whether an executed run has handled it
    last_success: str | None  # ISO, UTC: when a run last left nothing due in it
    failed: str | None  # why the last run failed on it, if it did
    deleted: int  # by the last run
    sanitized: int
    overdue_days: float  # how far its oldest unhandled row is past policy (0: none is)
    overdue_after: int  # the retention that row is late for


@dataclass(frozen=True)
class RetentionSection:
    """Whether retention is enforced: per table, and the extensions ending or just ended."""

    tables: tuple[RetentionTable, ...]
    expired: tuple[Grant, ...]  # ended within EXPIRED_DAYS: rows they kept are now due
    expiring: tuple[Grant, ...]  # ending within EXPIRING_DAYS: extend them or let them go
    problem: str | None = None  # why it could not be read (shown instead)

    @property
    def ran(self) -> bool:
        return any(t.ran for t in self.tables)

    @property
    def overdue(self) -> tuple[RetentionTable, ...]:
        late = (t for t in self.tables if t.overdue_days > 0)
        return tuple(sorted(late, key=lambda t: (-t.overdue_days, t.table)))


class Chart(NamedTuple):
    """A drawn chart (``png``) or why it could not be drawn (``error``)."""

    name: str  # also the stem of its Content-ID
    title: str
    png: bytes | None
    width: int
    height: int
    error: str | None = None
    text_px: float = 0.0  # the smallest text drawn, in the PNG's own pixels


def figures(history: Sequence[Tally], recorded: Sequence[bool]) -> Figures:
    """The last day of ``history`` compared with the day before and the week before."""
    week = [tally for tally, ok in zip(history[-8:-1], recorded[-8:-1], strict=True) if ok]
    return Figures(
        today=history[-1],
        previous=history[-2] if len(history) > 1 and recorded[-2] else None,
        valid_avg7=sum(t.valid for t in week) / len(week) if week else None,
        invalid_avg7=sum(t.invalid for t in week) / len(week) if week else None,
    )


def owner_slice(report: ReportData, owner: str) -> ReportData:
    """The report narrowed to the schemas ``owner`` owns, with totals and trend of those."""
    mine = tuple(s for s in report.schemas if owner in s.owners)
    trend = tuple(total(s.history[i] for s in mine) for i in range(len(report.window)))
    return replace(
        report,
        owner=owner,
        schemas=mine,
        trend=trend,
        totals=figures(trend, report.recorded),
        unowned=(),
        silent=tuple(s for s in report.silent if owner in s.owners),
    )


def owner_slices(report: ReportData) -> dict[str, ReportData]:
    """One slice per owner address with anything to report, in address order."""
    owners = {o for s in report.schemas for o in s.owners} | {
        o for s in report.silent for o in s.owners
    }
    return {owner: owner_slice(report, owner) for owner in sorted(owners)}


def percent(share: float | None) -> str:
    """A share (0..1) as a percentage with enough digits to tell 0.004% from 0."""
    if share is None:
        return NONE_SHOWN
    value = share * 100
    if value == 0 or value >= 10:
        return f"{value:.0f}%"
    if value >= 0.1:
        return f"{value:.1f}%"
    return "<0.1%" if value < 0.01 else f"{value:.2f}%"
