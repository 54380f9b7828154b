"""Reading one day's report from the store: per schema, counts for the day and the 29 before it,
and the day's most common validation errors with a redacted example each.

The sums are done in SQL (``el_monitor.store.counts``: ``GROUP BY`` day and schema over the
hourly rows), so a month of hourly rows for dozens of schemas costs one indexed range scan, not
a Python loop over rows.

Privacy: the error table keeps raw example events; every example is passed through the
catalog's ``user_fields`` redaction before it reaches a ``ReportData``, and whatever the
redaction removed from the example is also struck from the error message, which may quote it.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Mapping, Sequence
from urllib.parse import unquote_plus

from el_monitor.catalog.model import Catalog
from el_monitor.errors import UserError
from el_monitor.mail.redact import REDACTED, redact_event, safe_text
from el_monitor.report.model import (
    AVERAGE_DAYS,
    WINDOW_DAYS,
    ErrorSummary,
    Named,
    ReportData,
    SchemaReport,
    Tally,
    figures,
    total,
)
from el_monitor.report.retention import retention_section
from el_monitor.store.base import Store, safe_url
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

__all__ = ["TOP_ERRORS", "collect", "error_summary"]

TOP_ERRORS = 5  # most common error groups shown per schema
MESSAGE_LIMIT = 300
EXAMPLE_LIMIT = 1000
PATH_LIMIT = 191
SCRUB_MIN = 3  # shorter removed values (ids like 7) are too common to strike from a message


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
            f"{safe_url(store.url)} has no {COUNTS_TABLE} table: no forwarder has recorded "
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
    generated = now or datetime.datetime.now(datetime.UTC)
    return ReportData(
        day=day,
        window=window,
        recorded=tuple(recorded),
        schemas=tuple(schemas),
        totals=figures(trend, recorded),
        trend=trend,
        unowned=tuple(unowned),
        silent=tuple(silent),
        generated=generated,
        problems=tuple(problems),
        retention=retention_section(store, catalog, generated),
    )


def _order(schema: SchemaReport) -> tuple[bool, int, int, str]:
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
        history[position] = Tally(
            sums.valid, sums.invalid, sums.sampled_out, sums.opted_out, sums.duplicate
        )
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
                error_summary(group.code, group.path, group.events, message, example, user_fields)
            )
        out[name] = (shown, kinds[name])
    return out


def error_summary(
    code: str,
    path: str,
    count: int,
    message: str,
    example: str | None,
    user_fields: Sequence[str],
) -> ErrorSummary:
    """An error group as shown (here and by ``el-monitor errors``): redacted example, message
    without what the redaction hid."""
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
