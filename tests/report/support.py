"""What the ``el-monitor report daily`` tests share: thirty days of synthetic counts and errors,
the numbers the report must show for them, and ways to build the report and run the command.

Thirty days of synthetic hourly counts for a handful of schemas are written into the counts
tables.  Expected numbers are computed here from the same generator, independently of the
report's SQL.  One schema has no owner; EditAttemptStep's errors carry a planted ``<script>``
and a user id, token, IP and user agent, which must reach no output unescaped or at all.  The
fixtures (``catalog_file``, ``sqlite_url``) are in this directory's conftest.py.
"""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path
from urllib.parse import quote

import pytest

from el_monitor.catalog.load import load_catalog
from el_monitor.cli import main as cli
from el_monitor.cli import report as cli_report
from el_monitor.report.collect import collect, schema_lookup
from el_monitor.report.model import ReportData, Tally
from el_monitor.schema.registry import DirectoryRegistry
from el_monitor.store import Store, open_store
from el_monitor.store.counts import (
    COUNTS_TABLE,
    ERRORS_TABLE,
    MEASURES,
    create_counts_tables,
    period_of,
)

DAY = datetime.date(2024, 5, 30)
DOWN = DAY - datetime.timedelta(days=3)  # no forwarder ran: no rows at all that day
FIRST = DAY - datetime.timedelta(days=29)

# What must never appear in any output.
USER_ID = "987654321"
TOKEN = "Zq8Xw2Lk9Vb4Nm7Pc1Rt6Ys3"
IP = "203.0.113.77"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0"
SECRETS = (USER_ID, TOKEN, IP, "Firefox/126.0", "Gecko/20100101")
SCRIPT = "<script>alert('owned')</script>"
EVIL_SCHEMA = "Evil<script>x</script>"

CATALOG = """
ops = ["ops@example.org"]

[schema.NavigationTiming]
owners = ["nav@example.org"]

[schema.EditAttemptStep]
owners = ["edit@example.org", "team@example.org"]
user_fields = ["user_id"]

[schema.Shared]
owners = ["team@example.org"]

[schema.Quiet]
owners = ["quiet@example.org"]
"""
SCHEMAS = ("NavigationTiming", "EditAttemptStep", "Orphan", "Shared", "-")
# The registry beside the catalog (``schemas_dir``): what redaction learns of EditAttemptStep's
# fields.  ``action`` is an enum (its wrong values are shown), ``user_id`` an integer (and a
# user field), ``note`` free text; ``token`` and ``ip`` are undeclared (free text too).
EDIT_SCHEMA = {
    "type": "object",
    "properties": {
        "action": {"type": "string", "enum": ["init", "ready"]},
        "user_id": {"type": "integer"},
        "note": {"type": "string"},
        "count": {"type": "integer", "maximum": 10},
    },
}


def schemas_dir(catalog_file: Path) -> Path:
    """The schema registry the tests keep beside their catalog file, written on first use."""
    path = catalog_file.parent / "schemas"
    (path / "EditAttemptStep").mkdir(parents=True, exist_ok=True)
    (path / "EditAttemptStep" / "1.json").write_text(json.dumps(EDIT_SCHEMA))
    return path


def daily(schema: str, day: datetime.date) -> Tally:
    """The synthetic day total of a schema; zeros on DOWN and outside the window."""
    if day == DOWN or not FIRST <= day <= DAY:
        return Tally()
    i = (day - FIRST).days
    if schema == "NavigationTiming":
        return Tally(5000 + 37 * i + (i % 5) * 11, i % 4, 120 + i, 3)
    if schema == "EditAttemptStep":
        invalid = 40 if day == DAY else 10 + i % 6
        return Tally(900 + (i * 13) % 70, invalid, 0, i % 2)
    if schema == "Orphan":  # silent the day before: its change is "new"
        return Tally(0 if i == 28 else 30 + i, 2 if day == DAY else 0, 0, 0)
    if schema == "Shared":
        return Tally(7, 0, 1, 0)
    if schema == "-":  # lines no schema could be named for: always invalid
        return Tally(0, 4, 0, 0)
    raise KeyError(schema)


def expected(schema: str) -> dict:
    """The report's numbers for ``schema`` on DAY, computed the obvious way."""
    days = [DAY - datetime.timedelta(days=n) for n in range(8)]
    today, before = daily(schema, days[0]), daily(schema, days[1])
    week = [daily(schema, d) for d in days[1:] if d != DOWN]  # DOWN has no data at all
    return {
        "valid": today.valid,
        "invalid": today.invalid,
        "sampled_out": today.sampled_out,
        "opted_out": today.opted_out,
        "share": today.invalid / (today.valid + today.invalid),
        "valid_change": (today.valid - before.valid) * 100 / before.valid if before.valid else None,
        "invalid_change": (today.invalid - before.invalid) * 100 / before.invalid
        if before.invalid
        else None,
        "valid_avg7": sum(t.valid for t in week) / len(week),
        "invalid_avg7": sum(t.invalid for t in week) / len(week),
    }


def _raw_client_line(event: dict) -> str:
    """An EventLogging client line: %q %{recvFrom}s %{seqId}d %t %h %{userAgent}i."""
    capsule = {"schema": "EditAttemptStep", "revision": 1, "wiki": "enwiki", "event": event}
    q = "?" + quote(json.dumps(capsule), safe="") + ";"
    return f"{q} cp3001 12345 2024-05-30T03:00:00 {IP} {USER_AGENT}"


def _errors() -> list[tuple]:
    """(period, instance, schema, code, path, count, message, example) rows, with plants."""
    at = f"{DAY}T03:00:00Z"
    later = f"{DAY}T07:00:00Z"
    capsule = {
        "schema": "EditAttemptStep",
        "revision": 1,
        "wiki": "enwiki",
        "userAgent": USER_AGENT,
        "event": {"action": SCRIPT, "user_id": int(USER_ID), "token": TOKEN, "ip": IP},
    }
    rows = [
        # The first of the day for its group: its message and example are the ones shown.
        (at, "fw1", "EditAttemptStep", "validation", "event.action", 20,
         f"{SCRIPT!r} is not one of ['init', 'ready']", json.dumps(capsule)),
        (later, "fw2", "EditAttemptStep", "validation", "event.action", 10,
         "a later message, not shown", '{"later": true}'),
        # The message quotes the user id: a bare number only the redaction can tell apart.
        (at, "fw1", "EditAttemptStep", "validation", "event.user_id", 5,
         f"{USER_ID} is not of type 'string'",
         _raw_client_line({"action": "init", "user_id": int(USER_ID)})),
        (at, "fw1", "Orphan", "validation", "", 2, "'wiki' is a required property", "{}"),
        (at, "fw1", "-", "parse", "", 4, "Expecting value: line 1 column 1 (char 0)",
         f"garbage from {IP} {TOKEN}"),
    ]  # fmt: skip
    # Four smaller groups: six kinds of error in all, the top five shown.
    for n, path in enumerate(("event.a", "event.b", "event.c", "event.d")):
        rows.append(
            (at, "fw2", "EditAttemptStep", "validation", path, 1 + n, f"{path} is wrong", "{}")
        )
    return rows


def fill(store: Store) -> None:
    """Thirty days (and one day either side) of hourly rows from two forwarders, and errors."""
    create_counts_tables(store)
    rows = []
    day = FIRST - datetime.timedelta(days=1)
    while day <= DAY + datetime.timedelta(days=1):
        outside = not FIRST <= day <= DAY
        for schema in SCHEMAS:
            tally = Tally(50, 50, 50, 50) if outside else daily(schema, day)
            if tally == Tally() and day == DOWN:
                continue
            # Split over three hours and two instances; the parts sum to the day's tally.
            third = Tally(*(v // 3 for v in tally))
            last = Tally(*(v - 2 * t for v, t in zip(tally, third, strict=True)))
            for hour, instance, part in ((0, "fw1", third), (11, "fw2", third), (23, "fw1", last)):
                when = datetime.datetime(day.year, day.month, day.day, hour, 17, 5)
                counts = {"raw": part.valid + part.invalid, **part._asdict(), "inserted": 0}
                rows.append(
                    (period_of(when), instance, schema, *(counts.get(m, 0) for m in MEASURES))
                )
        day += datetime.timedelta(days=1)
    rows.append((f"{DAY}T05:00:00Z", "fw1", EVIL_SCHEMA, 1, 1, 0, 0, 0, 1, 0, 0))  # fmt: skip
    _insert(store, COUNTS_TABLE, ("period", "instance", "schema_name", *MEASURES), rows)
    columns = ("period", "instance", "schema_name", "code", "path", "count", "message", "example")
    _insert(store, ERRORS_TABLE, columns, _errors())


def _insert(store: Store, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    marks = "(" + ", ".join([store.dialect.mark] * len(columns)) + ")"
    names = ", ".join(map(store.dialect.quote, columns))
    for start in range(0, len(rows), 300):
        part = rows[start : start + 300]
        store.execute(
            f"INSERT INTO {store.dialect.quote(table)} ({names}) VALUES "
            + ", ".join([marks] * len(part)),
            [value for row in part for value in row],
        )


def report_from(url: str, catalog_file: Path, day: datetime.date = DAY) -> ReportData:
    """The report of ``day``, redacted with the registry of ``schemas_dir``."""
    lookup = schema_lookup(DirectoryRegistry(schemas_dir(catalog_file)))
    store = open_store(url)
    try:
        return collect(store, load_catalog(catalog_file), day, event_schemas=lookup)
    finally:
        store.close()


def run_cli(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    """``el-monitor ARGS`` in-process, with ``report`` registered if cli.py does not yet."""
    build = cli.build_parser

    def with_report():
        parser = build()
        commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        if "report" not in commands.choices:
            cli_report.register(commands)
        return parser

    monkeypatch.setattr(cli, "build_parser", with_report)
    return cli.main(list(args))
