"""The daily report's retention section on both engines, text and HTML: before any run it says
retention has not run (no state table, no crash) and names the tables past policy; after a run
it shows each table's last success and what the run deleted and sanitized, a table a backfill
put past policy, an extension that expired (named, with its reason and end date) and one that
ends within 14 days."""

from __future__ import annotations

import datetime

from el_monitor.catalog.load import load_catalog
from el_monitor.report.collect import collect
from el_monitor.report.render import render_html, render_text
from el_monitor.retention.engine import plan_run, run_retention
from el_monitor.retention.extensions import record_extension
from el_monitor.store.counts import create_counts_tables

from .support import NOW, TABLES, backfill, catalog, catalog_file, seed


def report(store, tmp_path):
    data = collect(store, load_catalog(catalog_file(tmp_path)), NOW.date(), now=NOW)
    return data, render_text(data), render_html(data, [], lambda chart: "")


def test_before_any_run_it_says_so(store, tmp_path):
    create_counts_tables(store)
    seed(store)
    data, text, html = report(store, tmp_path)
    section = data.retention
    assert not section.ran and section.problem is None
    assert [t.table for t in section.overdue[:2]] == [
        "ServerSideAccountCreation_1_1_0",
        "ServerSideAccountCreation_1_2_0",
    ]
    assert len(section.overdue) == len(TABLES)
    assert "Retention has not run: no `el-monitor retention run --execute`" in text
    assert (
        "  ServerSideAccountCreation_1_2_0: 169.5 days past its 30-day retention "
        "(retention has never run on it)\n" in text
    )
    assert "<strong>Retention has not run:</strong>" in html
    assert "<strong>EditAttemptStep_2_1_0</strong>: 109.5 days past its 90-day retention" in html
    assert not store.table_exists("el_monitor_retention_state")


def test_after_a_run_with_extensions_ending(store, tmp_path):
    create_counts_tables(store)
    seed(store)
    month_ago = NOW - datetime.timedelta(days=30)
    record_extension(store, "EditAttemptStep", 120, datetime.date(2026, 2, 25),
                     "T9: A/B test <b>", "pm", month_ago)  # fmt: skip
    record_extension(store, "ServerSideAccountCreation", 60, datetime.date(2026, 3, 10),
                     "T10: fraud study", "analyst", NOW)  # fmt: skip
    run_retention(plan_run(store, catalog(tmp_path), NOW, [], execute=True), batch_size=500)
    backfill(store, "SearchSatisfaction_1_5_0", "1.5.0", 100)  # after the run: 10 days late

    data, text, html = report(store, tmp_path)
    section = data.retention
    assert section.ran
    assert [(t.table, t.overdue_days, t.overdue_after) for t in section.overdue] == [
        ("SearchSatisfaction_1_5_0", 10.0, 90)
    ]
    by_table = {t.table: t for t in section.tables}
    assert by_table["SearchSatisfaction_1_4_0"].deleted == 330
    assert by_table["EditAttemptStep_2_1_0"].sanitized == 330
    # 60 days for account creation: 140 days of rows sanitized.
    assert by_table["ServerSideAccountCreation_1_2_0"].sanitized == 420
    assert [(g.schema, g.until) for g in section.expired] == [
        ("EditAttemptStep", datetime.date(2026, 2, 25))
    ]
    assert [(g.schema, g.until) for g in section.expiring] == [
        ("ServerSideAccountCreation", datetime.date(2026, 3, 10))
    ]

    assert "Retention has not run" not in text and "Retention has not run" not in html
    assert "  SearchSatisfaction_1_5_0: 10.0 days past its 90-day retention\n" in text
    assert (
        "  EditAttemptStep: 120 days, ended 2026-02-25 (database, by pm: T9: A/B test <b>)\n"
        in text
    )
    assert (
        "Extensions expiring within 14 days:\n  ServerSideAccountCreation: 60 days until " in text
    )
    table_line = next(
        line for line in text.splitlines() if line.startswith("SearchSatisfaction_1_4_0")
    )
    assert table_line.split() == [
        "SearchSatisfaction_1_4_0", "delete", "90d", "2026-03-01T12:00:00Z", "330", "0",
    ]  # fmt: skip
    assert "<strong>SearchSatisfaction_1_5_0</strong>: 10.0 days past its 90-day retention" in html
    assert (
        "<strong>EditAttemptStep</strong>: 120 days, ended 2026-02-25 (database, by pm: "
        "T9: A/B test &lt;b&gt;)" in html
    )
    assert "<strong>ServerSideAccountCreation</strong>: 60 days until 2026-03-10" in html
