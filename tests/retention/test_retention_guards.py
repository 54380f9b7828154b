"""Every guard stops the run before anything changes: a keep, hash or extension field that
names no column, a hash field on a number column, a retention beyond the policy without an
extension (then with one, then with it expired), and --max-age-gap against a jump of the
cutoff (a clock or configuration error) but not against a day's backlog."""

from __future__ import annotations

import datetime

import pytest

from el_monitor.catalog.load import load_catalog
from el_monitor.retention.engine import RETENTION_JOB, plan_run, run_retention
from el_monitor.retention.extensions import record_extension
from el_monitor.retention.guards import RetentionRefused
from el_monitor.store import JobRunning, open_store

from .support import CATALOG, NOW, TABLES, catalog, catalog_file, rows_of, seed


@pytest.fixture
def seeded(store, tmp_path):
    seed(store)
    return store


def refused(store, cat, now=NOW, **options) -> list[str]:
    plan = plan_run(store, cat, now, [], execute=True)
    before = {t: rows_of(store, t) for t in TABLES}
    with pytest.raises(RetentionRefused) as caught:
        run_retention(plan, **options)
    assert {t: rows_of(store, t) for t in TABLES} == before  # nothing changed
    assert not store.table_exists("el_monitor_retention_state")
    return caught.value.problems


def unchecked(tmp_path, text):
    """A catalog loaded without a registry: its fields checked for syntax only, as when the
    registry lacks the revisions the database holds."""
    return load_catalog(catalog_file(tmp_path, text))


def test_keep_hash_or_extension_field_naming_no_column(seeded, tmp_path):
    text = CATALOG.replace('"isApi", ', '"isApi", "isApy", ').replace(
        'hash = ["token"]', 'hash = ["tokn"]'
    )
    text += """
[schema.SearchSatisfaction]
[[schema.SearchSatisfaction.extensions]]
until = 2026-12-31
reason = "T3"
retention_days = 180
fields = ["querry"]
"""
    problems = refused(seeded, unchecked(tmp_path, text))
    tables = "ServerSideAccountCreation_1_1_0, ServerSideAccountCreation_1_2_0"
    assert problems == [
        "SearchSatisfaction: extension (180d until 2026-12-31 (fields querry; catalog: T3)) "
        "field 'querry' names no column of its tables (SearchSatisfaction_1_4_0, "
        "SearchSatisfaction_1_5_0); fix the catalog or the extension",
        f"ServerSideAccountCreation: keep field 'isApy' names no column of its tables "
        f"({tables}); fix the catalog or the extension",
        f"ServerSideAccountCreation: hash field 'tokn' names no column of its tables "
        f"({tables}); fix the catalog or the extension",
    ]


def test_hash_field_on_a_number_column(seeded, tmp_path):
    problems = refused(seeded, catalog(tmp_path, CATALOG.replace('["token"]', '["userId"]')))
    assert len(problems) == 2 and all("hash field 'userId' is a" in p for p in problems)


def test_retention_beyond_policy_needs_an_unexpired_extension(seeded, tmp_path):
    cat = catalog(tmp_path, CATALOG.replace("retention_days = 30", "retention_days = 120"))
    assert refused(seeded, cat) == [
        "ServerSideAccountCreation: retention_days 120 is longer than the policy's 90 "
        "([defaults] retention_days) and no unexpired extension covers it; record one "
        "(el-monitor retention extend) or shorten it"
    ]
    until = datetime.date(2026, 3, 31)
    record_extension(seeded, "ServerSideAccountCreation", 120, until, "T4", "legal", NOW)
    done = run_retention(plan_run(seeded, cat, NOW, [], execute=True))
    assert sum(t.sanitized for t in done.tables) == 2 * 3 * 80 + 330 + 330
    seeded.execute(
        f"DELETE FROM {seeded.dialect.quote('el_monitor_retention_state')}"
    )  # a fresh start, so only the expired extension can refuse
    later = NOW + datetime.timedelta(days=31)
    problems = refused_after_state(seeded, cat, later)
    assert problems and "no unexpired extension covers it" in problems[0]


def refused_after_state(store, cat, now):
    plan = plan_run(store, cat, now, [], execute=True)
    with pytest.raises(RetentionRefused) as caught:
        run_retention(plan)
    return caught.value.problems


def test_max_age_gap_refuses_a_jump_not_a_backlog(seeded, tmp_path):
    cat = catalog(tmp_path)
    assert run_retention(plan_run(seeded, cat, NOW, [], execute=True), max_age_gap=3).tables
    # A day later: a day's rows due, well within 3 days of where the last run left off.
    tomorrow = NOW + datetime.timedelta(days=1)
    done = run_retention(plan_run(seeded, cat, tomorrow, [], execute=True), max_age_gap=3)
    assert sum(t.deleted for t in done.tables) == 2 * 3
    # A clock a year ahead: refused, naming every table with rows due.
    clock = NOW + datetime.timedelta(days=365)
    problems = refused_after_gap(seeded, cat, clock)
    assert {p.split(":")[0] for p in problems} == set(TABLES)  # every table has rows due
    assert all("more than --max-age-gap 3: a clock or configuration error?" in p for p in problems)
    # A configuration error (90 days become 9): refused too.
    typo = catalog(tmp_path, CATALOG.replace("retention_days = 30", "retention_days = 3"))
    problems = refused_after_gap(seeded, typo, tomorrow)
    assert [p.split(":")[0] for p in problems] == [
        "ServerSideAccountCreation_1_1_0",
        "ServerSideAccountCreation_1_2_0",
    ]
    assert "27.0 days past where the last run (2026-03-02T12:00:00Z) left it" in problems[0]


def refused_after_gap(store, cat, now):
    plan = plan_run(store, cat, now, [], execute=True)
    with pytest.raises(RetentionRefused) as caught:
        run_retention(plan, max_age_gap=3)
    return caught.value.problems


def test_a_run_while_another_holds_the_lock_is_refused_and_changes_nothing(seeded, tmp_path):
    """A timer's run and one started by hand must not overlap: the second is refused at
    once, and goes on once the first has ended."""
    other = open_store(seeded.url)  # another process's store, as far as the lock can tell
    try:
        with other.exclusive(RETENTION_JOB):
            (problem,) = refused(seeded, catalog(tmp_path))
            with pytest.raises(JobRunning):
                seeded.exclusive(RETENTION_JOB).__enter__()
    finally:
        other.close()
    assert problem.startswith("another retention run holds the lock")
    result = run_retention(plan_run(seeded, catalog(tmp_path), NOW, [], execute=True))
    assert sum(t.deleted + t.sanitized for t in result.tables) > 0
