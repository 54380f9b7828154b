"""The daily report's content: its numbers on SQLite and on MariaDB (through the ``mysql_url``
fixture) against those computed from the generator, the counts tables' DDL, an owner's slice,
the text and HTML renderings (escaped and redacted), a failed chart, and an empty day.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from el_monitor.report.charts import make_charts
from el_monitor.report.model import ReportData, Tally, owner_slice
from el_monitor.report.render import render_html, render_text, standalone_html
from el_monitor.store import open_store
from el_monitor.store.counts import counts_tables_sql, create_counts_tables, period_of
from el_monitor.store.dialect import MYSQL, SQLITE

from .support import (
    DAY,
    EVIL_SCHEMA,
    FIRST,
    SCHEMAS,
    SCRIPT,
    SECRETS,
    daily,
    expected,
    fill,
    report_from,
)


def check_numbers(report: ReportData) -> None:
    by_name = {s.name: s for s in report.schemas}
    assert set(by_name) == {*SCHEMAS, EVIL_SCHEMA}
    for name in SCHEMAS:
        want, f = expected(name), by_name[name].figures
        assert (f.valid, f.invalid, f.sampled_out, f.opted_out) == (
            want["valid"],
            want["invalid"],
            want["sampled_out"],
            want["opted_out"],
        ), name
        assert f.invalid_share == pytest.approx(want["share"]), name
        for key in ("valid_change", "invalid_change", "valid_avg7", "invalid_avg7"):
            got = getattr(f, key)
            assert got == (None if want[key] is None else pytest.approx(want[key])), (name, key)
    # The day before is in the window; the average covers 6 recorded days (DOWN had none).
    assert report.recorded[-1] and report.recorded[-2] and not report.recorded[-4]
    assert by_name["Orphan"].figures.valid_change is None  # nothing the day before: "new"
    totals = report.totals
    assert totals.valid == sum(daily(s, DAY).valid for s in SCHEMAS) + 1
    assert totals.invalid == sum(daily(s, DAY).invalid for s in SCHEMAS)  # Evil: 1 valid
    first = [daily(s, FIRST) for s in SCHEMAS]
    assert report.trend[0] == Tally(*(sum(v) for v in zip(*first, strict=True)))
    assert len(report.trend) == 30
    # Most invalid first; lines without a schema last.
    assert [s.name for s in report.schemas] == [
        "EditAttemptStep",  # 40 invalid
        "Orphan",  # 2
        "NavigationTiming",  # 1
        "Shared",  # none, 7 valid
        EVIL_SCHEMA,  # none, 1 valid
        "-",
    ]
    edit = by_name["EditAttemptStep"]
    assert edit.error_groups == 6 and len(edit.errors) == 5
    top = edit.errors[0]
    assert (top.path, top.count) == ("event.action", 30)
    assert "later message" not in " ".join(e.message for e in edit.errors)
    assert report.unowned == ("Evil<script>x</script>", "Orphan")
    assert [s.name for s in report.silent] == ["Quiet"]


def test_numbers_on_sqlite(sqlite_url: str, catalog_file: Path) -> None:
    check_numbers(report_from(sqlite_url, catalog_file))


def test_numbers_on_mariadb(mysql_url: str, catalog_file: Path) -> None:
    store = open_store(mysql_url)
    try:
        fill(store)
        create_counts_tables(store)  # idempotent
    finally:
        store.close()
    check_numbers(report_from(mysql_url, catalog_file))


def test_ddl_is_one_layout_for_both_engines() -> None:
    lite = "\n".join(counts_tables_sql(SQLITE))
    my = "\n".join(counts_tables_sql(MYSQL))
    assert '"id" INTEGER PRIMARY KEY' in lite and "AUTO_INCREMENT" not in lite
    assert "`id` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY" in my
    assert "utf8mb4" in my and "utf8mb4" not in lite
    assert 'UNIQUE ("period", "instance", "schema_name", "code", "path")' in lite
    assert period_of(datetime.datetime(2024, 5, 30, 7, 59, tzinfo=datetime.UTC)) == (
        "2024-05-30T07:00:00Z"
    )


def test_owner_slice_holds_only_their_schemas(sqlite_url: str, catalog_file: Path) -> None:
    report = report_from(sqlite_url, catalog_file)
    team = owner_slice(report, "team@example.org")
    assert [s.name for s in team.schemas] == ["EditAttemptStep", "Shared"]
    assert team.totals.valid == daily("EditAttemptStep", DAY).valid + daily("Shared", DAY).valid
    assert team.unowned == () and team.silent == ()
    assert [s.name for s in owner_slice(report, "quiet@example.org").silent] == ["Quiet"]


def test_text_rendering(sqlite_url: str, catalog_file: Path) -> None:
    report = report_from(sqlite_url, catalog_file)
    text = render_text(report, make_charts(report))
    assert f"EventLogging daily report, {DAY} (UTC)" in text
    nav = expected("NavigationTiming")
    line = next(line for line in text.splitlines() if line.startswith("NavigationTiming "))
    assert f"{nav['valid']:,}" in line and f"{nav['valid_change']:+.1f}%" in line
    assert f"{nav['valid_avg7']:,.0f}" in line
    edit_line = next(line for line in text.splitlines() if line.startswith("EditAttemptStep "))
    assert f"{40 / (40 + daily('EditAttemptStep', DAY).valid) * 100:.1f}%" in edit_line
    orphan = next(line for line in text.splitlines() if line.startswith("Orphan "))
    assert " new " in orphan
    assert "(no schema)" in text and "SCHEMAS WITHOUT AN OWNER" in text and "  Orphan" in text
    assert "event.action" in text and "5 of 6 kinds of error shown" in text
    assert SCRIPT in text  # text is text: shown as written, harmless in a text/plain part
    for secret in SECRETS:
        assert secret not in text, secret
    assert "[redacted]" in text


def test_html_escapes_and_redacts(sqlite_url: str, catalog_file: Path) -> None:
    report = report_from(sqlite_url, catalog_file)
    html = standalone_html(report)
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(" in html
    assert "Evil&lt;script&gt;x&lt;/script&gt;" in html
    for secret in SECRETS:
        assert secret not in html, secret
    assert html.count('src="data:image/png;base64,') == 2


def test_a_failed_chart_does_not_stop_the_report(sqlite_url, catalog_file, monkeypatch) -> None:
    from el_monitor.report import charts

    def broken(*_args):
        raise RuntimeError("no renderer")

    monkeypatch.setattr(charts, "trend_chart", broken)
    report = report_from(sqlite_url, catalog_file)
    drawn = make_charts(report)
    assert [c.png is None for c in drawn] == [False, True]
    html = render_html(report, drawn, lambda c: "cid:x")
    assert "could not be drawn (RuntimeError: no renderer)" in html


def test_an_empty_day_says_so(tmp_path: Path, catalog_file: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    store = open_store(url)
    create_counts_tables(store)
    store.close()
    report = report_from(url, catalog_file)
    assert not report.has_data and report.schemas == ()
    assert "No counts were recorded" in render_text(report)
    assert "no counts recorded" in report.subject
    assert standalone_html(report).count("data:image/png") == 2
