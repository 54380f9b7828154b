"""The counting core: per-schema counts, overall totals, intervals and the summary table."""

from __future__ import annotations

from el_monitor.counts.counters import OVERALL, Counters, difference, format_errors, format_table


def make_counts() -> Counters:
    clock = iter(range(100, 1000, 10))
    counters = Counters(clock=lambda: next(clock))
    nav = counters.schema("NavigationTiming")
    nav.raw, nav.valid, nav.invalid, nav.inserted = 10, 8, 2, 8
    nav.errors[("validation", "$.isAnon")] += 2
    edit = counters.schema("EditAttemptStep")
    edit.raw, edit.valid = 30, 30
    counters.unattributed.raw = 3
    counters.unattributed.invalid = 3
    counters.unattributed.errors[("parse", None)] += 2
    counters.unattributed.errors[("unknown-schema", None)] += 1
    return counters


def test_overall_is_the_sum_of_schemas_and_unattributed_lines():
    snap = make_counts().snapshot()
    assert snap.get(OVERALL, "raw") == 43
    assert snap.get(OVERALL, "valid") == 38
    assert snap.get(OVERALL, "invalid") == 5
    assert snap.get("NavigationTiming", "inserted") == 8
    assert snap.errors[OVERALL] == {
        ("validation", "$.isAnon"): 2,
        ("parse", None): 2,
        ("unknown-schema", None): 1,
    }
    assert "unknown-schema" not in snap.scopes  # no scope per unknown name


def test_snapshot_is_immutable_and_detached():
    counters = make_counts()
    snap = counters.snapshot()
    counters.schema("NavigationTiming").raw += 100
    assert snap.get("NavigationTiming", "raw") == 10


def test_interval_counts_and_rates():
    counters = make_counts()
    before = counters.snapshot()  # at t=100
    counters.schema("NavigationTiming").raw += 50
    after = counters.snapshot()  # at t=110
    interval = difference(before, after)
    assert interval.seconds == 10
    assert interval.counts["NavigationTiming"]["raw"] == 50
    assert interval.counts[OVERALL]["raw"] == 50
    assert interval.rate("NavigationTiming", "raw") == 5.0
    assert interval.rate("EditAttemptStep", "raw") == 0.0


def test_new_schema_in_interval_counts_from_zero():
    counters = Counters()
    before = counters.snapshot()
    counters.schema("Fresh").raw += 4
    assert difference(before, counters.snapshot()).counts["Fresh"]["raw"] == 4


def test_summary_table_busiest_first_overall_last():
    table = format_table(make_counts().snapshot(), ["raw", "valid", "invalid"]).splitlines()
    assert table[0].split() == ["schema", "raw", "valid", "invalid"]
    assert table[2].split() == ["EditAttemptStep", "30", "30", "0"]
    assert table[3].split() == ["NavigationTiming", "10", "8", "2"]
    assert table[-1].split() == ["overall", "43", "38", "5"]


def test_error_groups_name_schema_code_and_path():
    lines = [line.split() for line in format_errors(make_counts().snapshot()).splitlines()]
    assert lines == [
        ["2", "-", "parse"],
        ["2", "NavigationTiming", "validation", "$.isAnon"],
        ["1", "-", "unknown-schema"],
    ]


def test_error_difference_reports_only_what_grew():
    from el_monitor.counts.counters import error_difference

    counters = make_counts()
    before = counters.snapshot()
    counters.schema("NavigationTiming").errors[("validation", "$.isAnon")] += 3
    counters.unattributed.errors[("parse", None)] += 1
    grown = error_difference(before, counters.snapshot())
    assert grown == {
        "NavigationTiming": {("validation", "$.isAnon"): 3},
        OVERALL: {("validation", "$.isAnon"): 3, ("parse", None): 1},
    }
