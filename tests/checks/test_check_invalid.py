"""check_el_invalid: the invalid share per schema and overall with the commonest error,
--min-events, the --rate mode and no data."""

from __future__ import annotations

from el_monitor.checks import invalid as check_invalid

from .support import POINTS, Stub, const, metric, put, run, status


def invalid_data(stub: Stub) -> None:
    once = [1.0] + [None] * (POINTS - 1)
    put(
        stub,
        metric("fw1", "overall.valid.count", const(166.0)),
        metric("fw1", "overall.invalid.count", const(34.0)),
        metric("fw1", "overall.valid.rate", const(16.6)),
        metric("fw1", "overall.invalid.rate", const(3.4)),
        metric("fw2", "overall.valid.count", once),
        metric("fw2", "overall.invalid.count", [2.0] + [None] * (POINTS - 1)),
        metric("fw1", "schema.NavigationTiming.valid.count", const(100.0)),
        metric("fw1", "schema.NavigationTiming.invalid.count", const(0.0)),
        metric("fw1", "schema.EditAttemptStep.valid.count", const(66.0)),
        metric("fw1", "schema.EditAttemptStep.invalid.count", const(34.0)),
        metric("fw1", "schema.EditAttemptStep.valid.rate", const(6.6)),
        metric("fw1", "schema.EditAttemptStep.invalid.rate", const(3.4)),
        metric("fw1", "schema.EditAttemptStep.errors.validation.action.count", const(30.0)),
        metric("fw1", "schema.EditAttemptStep.errors.validation.root.count", const(4.0)),
        metric("fw2", "schema.Tiny.valid.count", once),
        metric("fw2", "schema.Tiny.invalid.count", [2.0] + [None] * (POINTS - 1)),
        metric("fw2", "schema.Tiny.errors.validation.root.count", [2.0] + [None] * (POINTS - 1)),
        metric("fw1", "overall.errors.validation.action.count", const(30.0)),
    )


def test_invalid_share_names_worst_schema_and_its_error(graphite: Stub, capsys) -> None:
    invalid_data(graphite)
    code, out = run(check_invalid, graphite, capsys=capsys)
    text, perf = status(out)
    assert code == 2
    assert text == (
        "EL_INVALID CRITICAL - EditAttemptStep 34% invalid (most: validation at $.action); "
        "overall 17.1% of 2003 events over the last 10min (most: validation at $.action)"
    )
    assert perf.split() == [
        "EditAttemptStep=34%;5;20;0;100",
        "NavigationTiming=0%;5;20;0;100",
        "overall=17.074388%;5;20;0;100",
    ]
    assert graphite.requests[0]["target"] == [
        'groupByNodes(eventlogging.*.overall.{valid,invalid}.count,"sum",2,3,4)',
        'groupByNodes(eventlogging.*.schema.*.{valid,invalid}.count,"sum",2,3,4,5)',
        'groupByNodes(eventlogging.*.overall.errors.*.*.count,"sum",2,3,4,5,6)',
        'groupByNodes(eventlogging.*.schema.*.errors.*.*.count,"sum",2,3,4,5,6,7)',
    ]


def test_invalid_min_events_and_ok(graphite: Stub, capsys) -> None:
    invalid_data(graphite)
    # Tiny's 2 of 3 invalid are below --min-events; 40% everywhere else is within the ranges.
    code, out = run(check_invalid, graphite, "-w", "40%", "-c", "50", "-v", capsys=capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith(
        "EL_INVALID OK - overall 17.1% of 2003 events over the last 10min; highest: "
        "EditAttemptStep 34% invalid (most: validation at $.action) | "
    )
    assert "Tiny: 66.7% invalid, 2 of 3 events, not judged, most: validation at $" in lines
    code, out = run(check_invalid, graphite, "--min-events", "3000", capsys=capsys)
    assert code == 0
    assert "not judged" in out.splitlines()[0]


def test_invalid_rate_mode(graphite: Stub, capsys) -> None:
    invalid_data(graphite)
    code, out = run(check_invalid, graphite, "--rate", "-w", "3", "-c", "4", capsys=capsys)
    text, perf = status(out)
    assert code == 1
    assert text == (
        "EL_INVALID WARNING - EditAttemptStep 3.4 invalid/s (most: validation at $.action); "
        "overall 3.4 invalid/s of 2003 events over the last 10min (most: validation at $.action)"
    )
    assert "EditAttemptStep=3.4;3;4;0" in perf.split()


def test_invalid_no_data_is_unknown(graphite: Stub, capsys) -> None:
    code, out = run(check_invalid, graphite, capsys=capsys)
    assert code == 3
    assert out.startswith("EL_INVALID UNKNOWN - no data for eventlogging.*.overall.{valid,invalid}")
