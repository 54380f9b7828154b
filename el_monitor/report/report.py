"""The daily validity report: per schema, how many events were valid and invalid on a UTC day.

Invalid data is a bug its owners are expected to fix promptly, and this report is how most of
them learn of it.  The work is split the way nagios-herald splits an alert: ``collect`` reads
the day (and the 29 before it, for the comparisons and the trend) into one immutable
``ReportData``; ``owner_slice`` narrows it to one owner's schemas; ``make_charts`` draws it;
the Jinja2 templates render the same data as HTML and as text; ``report_message`` and
``standalone_html`` package it for mail or a file.  A chart that cannot be drawn is left out
with a note and never stops the report.

The sums are done in SQL (``GROUP BY`` day and schema over the hourly rows), so a month of
hourly rows for dozens of schemas costs one indexed range scan, not a Python loop over rows.

Privacy: the error table keeps raw example events; every example is passed through the
catalog's ``user_fields`` redaction before it reaches a ``ReportData``, and whatever the
redaction removed from the example is also struck from the error message, which may quote it.
"""

from __future__ import annotations

import base64
import datetime
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import unquote_plus, urlsplit

from el_monitor.errors import UserError
from el_monitor.mail.redact import REDACTED, redact_event, safe_text
from el_monitor.store.counts import (
    COUNTS_TABLE,
    ERRORS_TABLE,
    NO_SCHEMA,
    ErrorGroup,
    ErrorKey,
    FirstExample,
    daily_counts,
    day_error_groups,
    first_examples,
)

if TYPE_CHECKING:
    from email.message import EmailMessage

    import jinja2

    from el_monitor.catalog.model import Catalog
    from el_monitor.store import Store

__all__ = [
    "Chart",
    "ErrorSummary",
    "Figures",
    "Named",
    "ReportData",
    "SchemaReport",
    "Tally",
    "Templates",
    "WINDOW_DAYS",
    "collect",
    "make_charts",
    "owner_slice",
    "owner_slices",
    "render_html",
    "render_text",
    "report_message",
    "standalone_html",
]

WINDOW_DAYS = 30  # the trend chart's span; also covers the previous day and the 7-day average
AVERAGE_DAYS = 7
TOP_ERRORS = 5  # most common error groups shown per schema
CHART_ROWS = 25  # schemas drawn in the volume chart; the rest are summed as "others"
MESSAGE_LIMIT = 300
EXAMPLE_LIMIT = 1000
PATH_LIMIT = 191
SCRUB_MIN = 3  # shorter removed values (ids like 7) are too common to strike from a message
NO_SCHEMA_LABEL = "(no schema)"


class Tally(NamedTuple):
    """Counts of one schema (or a total) over one day."""

    valid: int = 0
    invalid: int = 0
    sampled_out: int = 0
    opted_out: int = 0

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


class ErrorSummary(NamedTuple):
    """One group of the day's errors of a schema: same code and JSON path, redacted example."""

    code: str
    path: str
    message: str
    count: int
    example: str | None


class Named(NamedTuple):
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
    unowned: tuple[str, ...]  # schemas seen that day or configured, with no owner
    silent: tuple[Named, ...]  # configured schemas that logged nothing that day
    generated: datetime.datetime
    owner: str | None = None  # set on an owner's slice
    problems: tuple[str, ...] = field(default=())  # what could not be read (shown, not fatal)

    @property
    def has_data(self) -> bool:
        return self.recorded[-1]

    @property
    def subject(self) -> str:
        t = self.totals
        share = _percent(t.invalid_share)
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


class Chart(NamedTuple):
    """A drawn chart (``png``) or why it could not be drawn (``error``)."""

    name: str  # also the stem of its Content-ID
    title: str
    png: bytes | None
    width: int
    height: int
    error: str | None = None


# --- collecting ------------------------------------------------------------------------------


def collect(
    store: Store,
    catalog: Catalog,
    day: datetime.date,
    *,
    top_errors: int = TOP_ERRORS,
    now: datetime.datetime | None = None,
) -> ReportData:
    """Read ``day`` and the ``WINDOW_DAYS - 1`` days before it from the counts tables.

    Raises UserError when the store has no counts table at all: that is a wrong ``--db`` or a
    forwarder that never recorded counts, not an empty day.
    """
    tables = {name.lower() for name in store.tables()}
    if COUNTS_TABLE not in tables:
        raise UserError(
            f"{_safe_url(store.url)} has no {COUNTS_TABLE} table: no forwarder has recorded "
            "counts there yet; check --db"
        )
    window = tuple(day - datetime.timedelta(days=WINDOW_DAYS - 1 - i) for i in range(WINDOW_DAYS))
    index = {d.isoformat(): i for i, d in enumerate(window)}
    histories, recorded = _daily_counts(store, window[0], day, index)
    problems: list[str] = []
    errors: dict[str, tuple[list[ErrorSummary], int]] = {}
    if ERRORS_TABLE in tables:
        errors = _day_errors(store, catalog, day, top_errors)
    else:
        problems.append(f"no {ERRORS_TABLE} table: validation errors are not shown")

    active = [
        name
        for name, history in histories.items()
        if any(tally != Tally() for tally in history[-(AVERAGE_DAYS + 1) :])
    ]
    active += [name for name in errors if name not in histories]  # errors without counts
    schemas = []
    for name in dict.fromkeys(active):
        history = histories.get(name) or (Tally(),) * WINDOW_DAYS
        shown, groups = errors.get(name, ([], 0))
        owners = () if name == NO_SCHEMA else catalog.policy(name).owners
        schemas.append(
            SchemaReport(
                name=name,
                owners=owners,
                figures=figures(history, recorded),
                errors=tuple(shown),
                error_groups=groups,
                history=tuple(history),
            )
        )
    schemas.sort(key=_order)
    trend = tuple(total(h[i] for h in histories.values()) for i in range(WINDOW_DAYS))
    seen = [s.name for s in schemas if s.figures.today != Tally() and s.name != NO_SCHEMA]
    unowned = catalog.unowned(sorted({*seen, *catalog.schemas}))
    logged = {s.name for s in schemas if s.figures.today.validated}
    silent = [
        Named(name, policy.owners)
        for name, policy in sorted(catalog.schemas.items())
        if name not in logged
    ]
    return ReportData(
        day=day,
        window=window,
        recorded=tuple(recorded),
        schemas=tuple(schemas),
        totals=figures(trend, recorded),
        trend=trend,
        unowned=tuple(unowned),
        silent=tuple(silent),
        generated=now or datetime.datetime.now(datetime.UTC),
        problems=tuple(problems),
    )


def figures(history: Sequence[Tally], recorded: Sequence[bool]) -> Figures:
    """The last day of ``history`` compared with the day before and the week before."""
    week = [tally for tally, ok in zip(history[-8:-1], recorded[-8:-1], strict=True) if ok]
    return Figures(
        today=history[-1],
        previous=history[-2] if len(history) > 1 and recorded[-2] else None,
        valid_avg7=sum(t.valid for t in week) / len(week) if week else None,
        invalid_avg7=sum(t.invalid for t in week) / len(week) if week else None,
    )


def _order(schema: SchemaReport) -> tuple:
    """Most invalid events first (they need fixing), then busiest; unattributed lines last."""
    f = schema.figures
    return (schema.name == NO_SCHEMA, -f.invalid, -f.valid, schema.name)


def _daily_counts(
    store: Store, first: datetime.date, last: datetime.date, index: Mapping[str, int]
) -> tuple[dict[str, list[Tally]], list[bool]]:
    """Per schema, a Tally per day of the window; and which days have any rows at all."""
    histories: dict[str, list[Tally]] = {}
    recorded = [False] * len(index)
    for row in daily_counts(store, first, last):
        position = index.get(row.day)
        if position is None:  # a malformed period: not this window's
            continue
        recorded[position] = True
        history = histories.setdefault(row.schema, [Tally()] * len(index))
        sums = row.sums
        history[position] = Tally(sums.valid, sums.invalid, sums.sampled_out, sums.opted_out)
    return histories, recorded


def _day_errors(
    store: Store, catalog: Catalog, day: datetime.date, top: int
) -> dict[str, tuple[list[ErrorSummary], int]]:
    """The ``top`` error groups of each schema on ``day`` with one redacted example each."""
    by_schema: dict[str, list[ErrorGroup]] = {}
    for group in day_error_groups(store, day):
        by_schema.setdefault(group.schema, []).append(group)
    chosen: list[ErrorGroup] = []
    kinds: dict[str, int] = {}
    for name, found in by_schema.items():
        kinds[name] = len(found)
        found.sort(key=lambda g: (-g.events, g.code, g.path))
        del found[top:]
        chosen += found
    firsts = first_examples(store, chosen)
    out: dict[str, tuple[list[ErrorSummary], int]] = {}
    for name, found in by_schema.items():
        user_fields = catalog.policy(name).user_fields
        shown = []
        for group in found:
            key = ErrorKey(name, group.code, group.path)
            message, example = firsts.get(key, FirstExample("", None))
            shown.append(
                _summary(group.code, group.path, group.events, message, example, user_fields)
            )
        out[name] = (shown, kinds[name])
    return out


def _summary(
    code: str,
    path: str,
    count: int,
    message: str,
    example: str | None,
    user_fields: Sequence[str],
) -> ErrorSummary:
    """An error group as shown: redacted example, message without what the redaction hid."""
    redacted = None
    if example:
        redacted = redact_event(example, user_fields)
        message = _strike(message, example, redacted)
    return ErrorSummary(
        code=safe_text(code, 20),
        path=safe_text(path, PATH_LIMIT),
        message=safe_text(message, MESSAGE_LIMIT),
        count=count,
        example=None if redacted is None else safe_text(redacted, EXAMPLE_LIMIT),
    )


def _strike(message: str, raw: str, redacted: str) -> str:
    """``message`` without the values redaction removed from its event.

    A validation message often quotes the offending value (``987654 is not of type 'string'``)
    and a bare number cannot be recognised as a user id by its shape; but the message and the
    example are of the same event, so any value present in the raw event and gone from the
    redacted one must not appear in the message either.
    """
    before = _leaves(raw)
    if not before:
        return message
    gone = before - _leaves(redacted)
    for value in sorted(gone, key=len, reverse=True):
        if len(value) >= SCRUB_MIN:
            message = re.sub(rf"(?<![\w.]){re.escape(value)}(?![\w.])", REDACTED, message)
    return message


def _leaves(text: str) -> set[str]:
    """The scalar values of an event as text; empty when it holds no JSON object.

    Reads the same shapes as ``redact_event``: a JSON line, a client line (``?<url-encoded
    JSON>;...``) and a server line (``<seqId> EventLogging {json}``).
    """
    stripped = text.strip()
    if stripped.startswith("?"):
        stripped = unquote_plus(stripped[1:].split(";", 1)[0].split(" ", 1)[0])
    elif "{" in stripped:
        stripped = stripped[stripped.index("{") :]
    try:
        document = json.loads(stripped)
    except (ValueError, RecursionError):
        return set()
    out: set[str] = set()
    stack = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif item is not None and not isinstance(item, bool):
            out.add(str(item))
    return out


def _safe_url(url: str) -> str:
    """A database URL without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(":" + parts.password + "@", ":***@", 1)


# --- slicing ---------------------------------------------------------------------------------


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


# --- drawing ---------------------------------------------------------------------------------


def make_charts(report: ReportData) -> tuple[Chart, ...]:
    """The volume-by-schema and 30-day trend charts; a failed one carries its error instead."""
    from el_monitor.report import charts

    rows = [(s.label, s.figures.valid, s.figures.invalid) for s in report.schemas]
    rows = [row for row in rows if row[1] or row[2]]
    if len(rows) > CHART_ROWS:
        rest = rows[CHART_ROWS - 1 :]
        rows = [
            *rows[: CHART_ROWS - 1],
            (f"{len(rest)} others", sum(r[1] for r in rest), sum(r[2] for r in rest)),
        ]
    days = [d for d, ok in zip(report.window, report.recorded, strict=True) if ok]
    series = [t for t, ok in zip(report.trend, report.recorded, strict=True) if ok]
    jobs: list[tuple[str, str, Callable[[], charts.Png]]] = [
        (
            "volume",
            f"Valid and invalid events per schema on {report.day}",
            lambda: charts.volume_chart(rows),
        ),
        (
            "trend",
            f"Valid and invalid events per day, {report.window[0]} to {report.day}",
            lambda: charts.trend_chart(
                days, [t.valid for t in series], [t.invalid for t in series]
            ),
        ),
    ]
    out = []
    for name, title, draw in jobs:
        try:
            png = draw()
        except Exception as exc:  # a chart is never worth losing the report for
            out.append(Chart(name, title, None, 0, 0, f"{type(exc).__name__}: {exc}"))
        else:
            out.append(Chart(name, title, png.data, png.width, png.height))
    return tuple(out)


# --- rendering -------------------------------------------------------------------------------


def _environment(html: bool) -> jinja2.Environment:
    """A Jinja2 environment over the package's templates; autoescaping for HTML only."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("el_monitor", "templates"),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        count=_count,
        average=_average,
        percent=_percent,
        change=_change_text,
        cut=_cut,
    )
    env.globals.update(NO_SCHEMA=NO_SCHEMA)
    return env


def _count(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


def _average(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}" if value >= 10 or value == 0 else f"{value:,.1f}"


def _percent(share: float | None) -> str:
    """A share (0..1) as a percentage with enough digits to tell 0.004% from 0."""
    if share is None:
        return "–"
    value = share * 100
    if value == 0 or value >= 10:
        return f"{value:.0f}%"
    if value >= 0.1:
        return f"{value:.1f}%"
    return "<0.1%" if value < 0.01 else f"{value:.2f}%"


def _change_text(figures: Figures, measure: str) -> str:
    """``+12.5%``, ``-3.0%``, ``new`` (from zero) or ``–`` (nothing to compare with)."""
    change = figures.valid_change if measure == "valid" else figures.invalid_change
    if change is not None:
        return f"{change:+.1f}%" if abs(change) < 1000 else f"{change / 100 + 1:.0f}×"
    now = figures.valid if measure == "valid" else figures.invalid
    if figures.previous is not None and now:
        return "new"
    return "–"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


class Templates:
    """The report's two templates, compiled once.

    Compiling costs more than rendering; a run that mails every owner their part renders
    dozens of messages, so the CLI makes one of these and passes it along.
    """

    def __init__(self) -> None:
        self.text = _environment(html=False).get_template("report.txt.j2")
        self.html = _environment(html=True).get_template("report.html.j2")


def render_text(
    report: ReportData, charts: Sequence[Chart] = (), templates: Templates | None = None
) -> str:
    """The plain-text rendering (the email's text part, and stdout without --send)."""
    width = max([len(s.label) for s in report.schemas] + [len("schema"), len("total")])
    template = (templates or Templates()).text
    return template.render(report=report, charts=charts, width=min(width, 40))


def render_html(
    report: ReportData,
    charts: Sequence[Chart],
    src: Callable[[Chart], str],
    templates: Templates | None = None,
) -> str:
    """The HTML rendering; ``src`` gives each drawn chart's image URL (``cid:`` or ``data:``)."""
    images = {chart.name: src(chart) for chart in charts if chart.png is not None}
    template = (templates or Templates()).html
    return template.render(report=report, charts=charts, images=images)


def standalone_html(
    report: ReportData, charts: Sequence[Chart] | None = None, templates: Templates | None = None
) -> str:
    """One self-contained HTML file: charts embedded as ``data:`` URIs, so it opens anywhere."""
    if charts is None:
        charts = make_charts(report)
    return render_html(report, charts, _data_uri, templates)


def _data_uri(chart: Chart) -> str:
    assert chart.png is not None
    return "data:image/png;base64," + base64.b64encode(chart.png).decode("ascii")


def report_message(
    report: ReportData,
    sender: str,
    recipients: Sequence[str],
    charts: Sequence[Chart] | None = None,
    templates: Templates | None = None,
) -> EmailMessage:
    """The report as one email: text part, and HTML with the charts inline by ``cid:``."""
    from el_monitor.mail.smtp import build_message, new_cid

    if charts is None:
        charts = make_charts(report)
    templates = templates or Templates()
    cids = {chart.name: new_cid(f"report-{chart.name}") for chart in charts}
    html = render_html(report, charts, lambda chart: "cid:" + cids[chart.name], templates)
    text = render_text(report, charts, templates)
    images = {cids[c.name]: c.png for c in charts if c.png is not None}
    return build_message(report.subject, sender, list(recipients), text, html, images)
