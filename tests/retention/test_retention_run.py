"""An executed run on both engines, against the reference worked out in support: exact rows
deleted and sanitized per table (old revisions no registry lists included), kept columns
intact and every other NULL, hashes equal to HMACs computed here; a second run changes
nothing; extensions honoured, then expiring; the state table; forwarder inserts after the
marker column was added."""

from __future__ import annotations

import datetime

import pytest

from el_monitor.retention.engine import plan_run, run_retention
from el_monitor.retention.extensions import record_extension
from el_monitor.retention.policy import DELETE, SANITIZE
from el_monitor.store import open_store
from el_monitor.store.mapping import RETENTION_MARKER
from el_monitor.store.retention import table_states

from .support import NOW, TABLES, age_days, catalog, expected, plant_salts, rows_of, salts, seed


@pytest.fixture
def seeded(store, tmp_path):
    rows = seed(store)
    return rows, plant_salts(store), catalog(tmp_path)


def run(store, cat, now, execute=True, **options):
    return run_retention(plan_run(store, cat, now, [], execute=execute), batch_size=40, **options)


def assert_as_expected(store, rows, planted, now):
    for table in TABLES:
        want = expected(rows, table, now, planted)
        got = {row["uuid"]: row for row in rows_of(store, table)}
        assert sorted(got) == sorted(want), table
        wrong = [uuid for uuid in want if got[uuid] != want[uuid]]
        assert not wrong, (table, want[wrong[0]], got[wrong[0]])


def test_run_deletes_and_sanitizes_exactly_the_rows_due(store, seeded):
    rows, planted, cat = seeded
    dry = run(store, cat, NOW, execute=False)
    due = {t.plan.table: (t.plan.due(DELETE), t.plan.due(SANITIZE)) for t in dry.tables}
    # 3 rows a day: past 30 days 170 days of rows, past 90 days 110; NavigationTiming's rows
    # past 90 days are sanitized in two stages (to 150 days, then for good).
    assert due == {
        "ServerSideAccountCreation_1_2_0": (0, 510),
        "ServerSideAccountCreation_1_1_0": (0, 510),  # an old revision, not in the registry
        "EditAttemptStep_2_1_0": (0, 330),
        "NavigationTiming_1_7_0": (0, 330),
        "SearchSatisfaction_1_5_0": (330, 0),  # no keep: deleted
        "SearchSatisfaction_1_4_0": (330, 0),
    }
    assert [len(rows_of(store, t)) for t in TABLES] == [600] * 6  # the dry run changed nothing
    assert not any(RETENTION_MARKER in c.name for t in TABLES for c in store.columns(t))

    done = run(store, cat, NOW)
    assert {t.plan.table: (t.deleted, t.sanitized) for t in done.tables} == due
    assert_as_expected(store, rows, planted, NOW)
    # Hashes join within a salt period: one token, one period, one hash.
    tokens = {
        (r["event_token"], r["timestamp"][:6])
        for r in rows_of(store, "ServerSideAccountCreation_1_2_0")
        if r[RETENTION_MARKER]
    }
    assert 7 <= len({t for t, _ in tokens}) <= 7 * 3
    # Salts of periods older than the longest retention (150 days) are forgotten.
    oldest_needed = (NOW - datetime.timedelta(days=150)).date()
    period = (oldest_needed - datetime.date(1970, 1, 1)).days // 90
    assert sorted(salts(store)) == [p for p in sorted(planted) if p >= period]
    assert min(planted) < period

    again = run(store, cat, NOW)
    assert [(t.deleted, t.sanitized) for t in again.tables] == [(0, 0)] * 6
    assert_as_expected(store, rows, planted, NOW)


def test_state_table_says_what_each_run_did(store, seeded):
    rows, planted, cat = seeded
    run(store, cat, NOW)
    states = table_states(store)
    assert sorted(states) == sorted(TABLES)
    nav = states["NavigationTiming_1_7_0"]
    policy = nav.policy
    assert (policy.schema, policy.revision, policy.action) == (
        "NavigationTiming",
        "1_7_0",
        SANITIZE,
    )
    assert (policy.retention_days, policy.first_days, nav.status) == (150, 90, "done")
    assert policy.cutoff == "20251002120000" and nav.checkpoint is not None
    assert nav.rows_sanitized == nav.total_sanitized == 330 and nav.rows_deleted == 0
    assert nav.last_run == nav.last_success == "2026-03-01T12:00:00Z"
    # What is left: nothing untouched older than 90 days, nothing unfinished past 150.
    assert nav.oldest_untouched > "20251201" and "20250930" < nav.oldest_unfinished < "20251201"
    search = states["SearchSatisfaction_1_4_0"]
    assert (search.policy.action, search.rows_deleted, search.total_deleted) == (DELETE, 330, 330)
    assert search.oldest_untouched == search.oldest_unfinished > "20251201"
    run(store, cat, NOW + datetime.timedelta(days=1))
    search = table_states(store)["SearchSatisfaction_1_4_0"]
    assert (search.rows_deleted, search.total_deleted) == (3, 333)


def test_extensions_are_honoured_then_expire(store, seeded, tmp_path):
    rows, planted, cat = seeded
    record_extension(
        store, "SearchSatisfaction", 365, datetime.date(2026, 3, 10), "T2: study", "pm", NOW
    )
    first = run(store, cat, NOW)
    by_table = {t.plan.table: t for t in first.tables}
    assert by_table["SearchSatisfaction_1_5_0"].deleted == 0  # kept a year: nothing is due
    assert by_table["SearchSatisfaction_1_5_0"].plan.rules.extension.source == "database"
    # Past its end (March 10) the database's extension stops applying by itself.
    mid = datetime.datetime(2026, 6, 30, 12, tzinfo=datetime.UTC)  # the catalog's last day
    second = run(store, cat, mid)
    by_table = {t.plan.table: t for t in second.tables}
    assert by_table["SearchSatisfaction_1_5_0"].plan.rules.extension is None
    assert by_table["SearchSatisfaction_1_5_0"].deleted == 600  # all older than 90 days now
    # The catalog's still applies: rows up to 150 days old keep its fields.
    assert_as_expected_nav(store, rows, mid, extended=True)
    later = datetime.datetime(2026, 7, 1, 12, tzinfo=datetime.UTC)  # and now it expired
    run(store, cat, later)
    assert_as_expected_nav(store, rows, later, extended=False)


def assert_as_expected_nav(store, rows, now, extended):
    nav = {r["uuid"]: r for r in rows_of(store, "NavigationTiming_1_7_0")}
    for uuid, row in rows["NavigationTiming_1_7_0"].items():
        partial = extended and age_days(row["timestamp"], now) <= 150
        got = nav[uuid]
        assert got[RETENTION_MARKER] == (1 if partial else 2)
        assert got["event_responseStart"] == (row["event_responseStart"] if partial else None)
        assert got["event_isAnon"] == row["event_isAnon"] and got["event_gaps"] is None


def test_forwarder_inserts_into_a_table_with_the_marker(store, seeded, db_url):
    rows, planted, cat = seeded
    fresh = open_store(db_url)  # a forwarder that read the layout before the run
    table = "EditAttemptStep_2_1_0"
    schema = {"type": "object", "properties": {"action": {"type": "string"}}}
    before = fresh.layout("EditAttemptStep", "2.1.0", schema)
    run(store, cat, NOW)
    after = open_store(db_url).layout("EditAttemptStep", "2.1.0", schema)  # read after it
    assert RETENTION_MARKER not in after.column_names
    for i, layout in enumerate((before, after)):
        capsule = {"uuid": f"{i:032x}", "timestamp": int(NOW.timestamp()), "wiki": "enwiki",
                   "event": {"action": "init"}}  # fmt: skip
        assert fresh.insert({layout: [layout.row(capsule)]}).inserted[layout] == 1
    new = [r for r in rows_of(store, table) if r["uuid"] in (f"{0:032x}", f"{1:032x}")]
    assert [(r["event_action"], r[RETENTION_MARKER]) for r in new] == [("init", None)] * 2
