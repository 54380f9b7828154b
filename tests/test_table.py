"""The command line's one text table, byte for byte as forward, ``schemas`` and purge print it."""

from __future__ import annotations

import pytest
from test_counters import make_counts

from el_monitor.cli.forward import format_errors, summary_table
from el_monitor.cli.table import format_table
from el_monitor.counts.counters import error_groups


def test_summary_table_busiest_first_overall_last():
    table = summary_table(make_counts().snapshot(), ["raw", "valid", "invalid"]).splitlines()
    assert table[0].split() == ["schema", "raw", "valid", "invalid"]
    assert table[2].split() == ["EditAttemptStep", "30", "30", "0"]
    assert table[3].split() == ["NavigationTiming", "10", "8", "2"]
    assert table[-1].split() == ["overall", "43", "38", "5"]


def test_summary_table_has_a_rule_under_the_header_and_before_the_total():
    assert summary_table(make_counts().snapshot(), ["raw", "valid", "invalid"]) == (
        "schema            raw  valid  invalid\n"
        "----------------  ---  -----  -------\n"
        "EditAttemptStep    30     30        0\n"
        "NavigationTiming   10      8        2\n"
        "----------------  ---  -----  -------\n"
        "overall            43     38        5"
    )


def test_error_groups_name_schema_code_and_path():
    text = format_errors(error_groups(make_counts().snapshot()))
    assert [line.split() for line in text.splitlines()] == [
        ["2", "-", "parse"],
        ["2", "NavigationTiming", "validation", "$.isAnon"],
        ["1", "-", "unknown-schema"],
    ]
    assert text.splitlines()[1] == "       2  NavigationTiming  validation  $.isAnon"


def test_names_left_numbers_right_and_no_trailing_blanks():
    header = ["schema", "revision", "1 in N", "sampling"]
    rows = [["NavigationTiming", "1.7.0", "10", "5 CHANGED"], ["Test", "12", "1", "-"]]
    assert format_table(header, rows, numeric=[False, False, True, False]) == (
        "schema            revision  1 in N  sampling\n"
        "----------------  --------  ------  ---------\n"
        "NavigationTiming  1.7.0         10  5 CHANGED\n"
        "Test              12             1  -"
    )


def test_without_rules_the_total_is_the_last_row():
    rows = [("Edit_1", "300", "12"), ("EditAttemptStep_2_1_0", "5", "0")]
    total = ("total", "305", "12")
    assert format_table(("table", "scanned", "deleted"), rows, total=total, rules=False) == (
        "table                  scanned  deleted\n"
        "Edit_1                     300       12\n"
        "EditAttemptStep_2_1_0        5        0\n"
        "total                      305       12"
    )


def test_a_total_alone_still_has_both_rules():
    assert format_table(["schema", "raw"], [], total=["overall", "0"]) == (
        "schema   raw\n-------  ---\n-------  ---\noverall    0"
    )


def test_alignments_must_match_the_columns():
    with pytest.raises(ValueError, match="2 columns but 1 alignments"):
        format_table(["a", "b"], [], numeric=[True])
