"""The counting core: per-schema counts, overall totals, intervals, the summary's rows and the
error groups (their text is ``test_table.py``'s)."""

from __future__ import annotations

from el_monitor.counts.counters import (
    OVERALL,
    Counters,
    ErrorGroup,
    SourceTally,
    difference,
    error_groups,
    summary_rows,
)
from el_monitor.measures import SOURCE_LOSSES


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


def test_what_the_source_lost_is_overall_outside_the_books_from_the_origin():
    """A source's tally is read at each snapshot, overall only; feeds start from the origin
    (nothing counted), so what a receiver dropped before the forwarder was made is sent too."""
    counters = make_counts()
    assert SourceTally._fields == SOURCE_LOSSES  # one name per measure
    assert all(counters.snapshot().get(OVERALL, m) == 0 for m in SOURCE_LOSSES)
    tally = SourceTally(dropped=120)
    counters.source_tally = lambda: tally
    first = difference(counters.origin(), counters.snapshot())
    assert first.counts[OVERALL]["dropped"] == 120 and first.counts[OVERALL]["raw"] == 43
    before = counters.snapshot()
    tally = SourceTally(dropped=150, damaged=2)
    after = counters.snapshot()
    assert difference(before, after).counts[OVERALL] == dict.fromkeys(after.scopes[OVERALL], 0) | {
        "dropped": 30,
        "damaged": 2,
    }
    assert "dropped" not in after.scopes["NavigationTiming"]


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


def test_summary_rows_busiest_first_overall_last():
    rows = summary_rows(make_counts().snapshot())
    assert [
        (scope, values["raw"], values["valid"], values["invalid"]) for scope, values in rows
    ] == [
        ("EditAttemptStep", 30, 30, 0),
        ("NavigationTiming", 10, 8, 2),
        ("overall", 43, 38, 5),
    ]


def test_summary_rows_leave_out_schemas_without_traffic():
    counters = make_counts()
    counters.schema("Quiet")
    assert "Quiet" not in [scope for scope, _ in summary_rows(counters.snapshot())]


def test_error_groups_name_schema_code_and_path():
    assert error_groups(make_counts().snapshot()) == [
        ErrorGroup(2, "-", "parse", None),
        ErrorGroup(2, "NavigationTiming", "validation", "$.isAnon"),
        ErrorGroup(1, "-", "unknown-schema", None),
    ]
    assert len(error_groups(make_counts().snapshot(), limit=2)) == 2


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
