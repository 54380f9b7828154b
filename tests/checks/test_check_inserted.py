"""check_el_inserted: the share of valid events stored (inserted or duplicate), a stall of
inserts while events arrive, replays and backfills that only find duplicates, forwarders that
send no duplicate counts, missing insert counts, and the stall helper on its own."""

from __future__ import annotations

import pytest

from el_monitor.checks import inserted as check_inserted

from .support import Stub, Values, const, metric, put, run, status


def test_inserted_ok_and_warning(graphite: Stub, capsys) -> None:
    put(
        graphite,
        metric("fw1", "overall.valid.count", [100.0] * 9 + [None]),
        metric("fw1", "overall.inserted.count", [98.0] * 9 + [None]),
        metric("fw1", "overall.spooled.count", const(0.0)),
    )
    code, out = run(check_inserted, graphite, capsys=capsys)
    assert code == 0
    assert out == (
        "EL_INSERTED OK - 98% of valid events inserted over the last 10min (882 of 900) "
        "| duplicate=0;;;0 inserted=882;;;0 ratio=0.98;0.9:;0.5:;0 spooled=0;;;0 stalled=0s;;60;0 "
        "valid=900;;;0\n"
    )
    graphite.data["eventlogging.fw1.overall.inserted.count"] = [70.0] * 9 + [None]
    code, out = run(check_inserted, graphite, capsys=capsys)
    assert code == 1
    assert out.startswith(
        "EL_INSERTED WARNING - 70% of valid events inserted over the last 10min (630 of 900), "
        "ratio 0.7 < 0.9 | "
    )


def test_inserted_stall_is_critical(graphite: Stub, capsys) -> None:
    put(
        graphite,
        metric("fw1", "overall.valid.count", const(100.0)),
        metric("fw1", "overall.inserted.count", [100.0] * 4 + [0.0] * 6),
        metric("fw1", "overall.spooled.count", [0.0] * 4 + [100.0] * 6),
    )
    # 40% inserted is only a warning; the stall makes it critical.
    code, out = run(check_inserted, graphite, "-c", "0.3:", capsys=capsys)
    text, perf = status(out)
    assert code == 2
    assert text == (
        "EL_INSERTED CRITICAL - nothing inserted for the last 60 s while 600 valid events "
        "arrived: the forwarder stopped writing or the database is stuck (600 spooled); "
        "40% of valid events inserted over the last 10min (400 of 1000), 600 spooled"
    )
    assert "stalled=60s;;60;0" in perf.split()
    # A shorter run is the ordinary lag of batched inserts.
    code, out = run(check_inserted, graphite, "-c", "0.3:", "--stalled", "70", capsys=capsys)
    assert code == 1


def test_inserted_without_insert_counts_is_unknown(graphite: Stub, capsys) -> None:
    put(graphite, metric("fw1", "overall.valid.count", const(100.0)))
    code, out = run(check_inserted, graphite, capsys=capsys)
    assert code == 3
    assert "no eventlogging.*.overall.inserted.count" in out
    graphite.data.clear()
    code, out = run(check_inserted, graphite, capsys=capsys)
    assert code == 3
    assert out.startswith("EL_INSERTED UNKNOWN - no data for eventlogging.*.overall.valid.count")


def test_stall_helper_ignores_idle_and_unflushed_points() -> None:
    from el_monitor.graphite.render import Series

    def series(values: Values) -> Series:
        return Series("x", tuple((v, 100 + 10 * i) for i, v in enumerate(values)))

    valid = series([5, 5, 0, 0, 5, 5, None])
    inserted = series([5, 5, 0, 0, 0, 0, None])
    assert check_inserted.stall(valid, inserted, None, None) == check_inserted.Stall(20, 10, 0)
    assert check_inserted.stall(valid, series([5] * 6 + [None]), None, None).seconds == 0


def test_stall_helper_counts_duplicates_as_stored() -> None:
    """A point whose events were all found already stored ends a stall like an insert; a null
    duplicate count, or none at all, is nothing stored."""
    from el_monitor.graphite.render import Series

    def series(values: Values) -> Series:
        return Series("x", tuple((v, 100 + 10 * i) for i, v in enumerate(values)))

    valid = series([5, 5, 5, 5, None])
    inserted = series([5, 0, 0, 0, None])
    stall = check_inserted.stall
    assert stall(valid, inserted, None, None) == check_inserted.Stall(30, 15, 0)
    assert stall(valid, inserted, series([0, 0, 0, 5, None]), None).seconds == 0
    assert stall(valid, inserted, series([0, 5, None, None, None]), None).seconds == 20
    assert stall(valid, series([0, 0, 0, 0, None]), series([5] * 4 + [None]), None).seconds == 0


def all_stored(graphite: Stub, *health: tuple[str, Values]) -> None:
    """900 valid events over the window, every one inserted, and ``health`` counts besides."""
    put(
        graphite,
        metric("fw1", "overall.valid.count", [100.0] * 9 + [None]),
        metric("fw1", "overall.inserted.count", [100.0] * 9 + [None]),
        metric("fw1", "overall.spooled.count", const(0.0)),
        *health,
    )


NOT_LOGGED_TEXT = (
    "140 events not written to the forwarders' event logs (full or read-only --log-dir?)"
)
DROPPED_TEXT = "1234 lines dropped by the forwarders' sources, their queue full (raise --queue-mb?)"
DAMAGED_TEXT = "2 damaged stream messages terminated by the forwarders' sources"


@pytest.mark.parametrize(
    ("health", "warning", "perfdata"),
    [
        (
            [metric("fw1", "overall.not_logged.count", [None] * 6 + [40.0, 100.0, None, None])],
            NOT_LOGGED_TEXT,
            ["not_logged=140;0;;0"],
        ),
        (
            [
                metric("fw1", "overall.dropped.count", [None] * 7 + [1200.0, None, None]),
                metric("fw2", "overall.dropped.count", [34.0] + [None] * 9),
            ],
            DROPPED_TEXT,
            ["dropped=1234;0;;0"],
        ),
        (
            [
                metric("fw1", "overall.dropped.count", [None] * 7 + [1234.0, None, None]),
                metric("fw2", "overall.damaged.count", [None] * 8 + [2.0, None]),
            ],
            f"{DROPPED_TEXT}; {DAMAGED_TEXT}",
            ["dropped=1234;0;;0", "damaged=2;0;;0"],
        ),
    ],
    ids=["not_logged", "dropped", "dropped and damaged"],
)
def test_health_counts_outside_the_ratio_are_a_warning(
    graphite: Stub, capsys, health: list[tuple[str, Values]], warning: str, perfdata: list[str]
) -> None:
    """Every valid event inserted, but some missing from the event logs (a full or read-only
    --log-dir: ``overall.not_logged``), or lost by a source before the pipeline saw them (lines
    dropped while its queue was full: ``overall.dropped``; damaged stream messages terminated:
    ``overall.damaged``).  The ratio cannot see them (the books start at raw), so each is a
    WARNING saying so; they are sent only where they grew, summed over instances."""
    all_stored(graphite, *health)
    code, out = run(check_inserted, graphite, capsys=capsys)
    text, perf = status(out)
    assert code == 1
    assert text == (
        f"EL_INSERTED WARNING - {warning}; 100% of valid events inserted over the last 10min "
        "(900 of 900)"
    )
    assert set(perfdata) <= set(perf.split())
    for name, _ in health:
        graphite.data[name] = [None] * 10
    code, out = run(check_inserted, graphite, capsys=capsys)
    assert code == 0
    assert all(p.split("=")[0] + "=0;0;;0" in out for p in perfdata)


def test_a_replay_of_stored_events_is_ok(graphite: Stub, capsys) -> None:
    """A restart replaying from its checkpoint (or a backfill): every valid event is a
    duplicate, nothing new is inserted.  Their rows are in the database: OK, not a stall."""
    put(
        graphite,
        metric("fw1", "overall.valid.count", const(100.0)),
        metric("fw1", "overall.inserted.count", const(0.0)),
        metric("fw1", "overall.duplicate.count", const(100.0)),
        metric("fw1", "overall.spooled.count", const(0.0)),
    )
    code, out = run(check_inserted, graphite, capsys=capsys)
    text, perf = status(out)
    assert code == 0, out
    assert text == (
        "EL_INSERTED OK - 100% of valid events inserted or already stored over the last 10min "
        "(1000 of 1000, 1000 of them duplicates)"
    )
    assert sorted(perf.split()) == [
        "duplicate=1000;;;0",
        "inserted=0;;;0",
        "ratio=1;0.9:;0.5:;0",
        "spooled=0;;;0",
        "stalled=0s;;60;0",
        "valid=1000;;;0",
    ]
    code, out = run(check_inserted, graphite, "-v", capsys=capsys)
    assert code == 0
    assert "duplicate: 1000 events" in out.splitlines()


def test_replay_then_live_inserts_and_a_real_shortfall(graphite: Stub, capsys) -> None:
    """A mix: a replay's duplicates, then live inserts, both count as stored; what neither
    inserted nor found stored is still judged, and a stall after a replay is still a stall."""
    put(
        graphite,
        metric("fw1", "overall.valid.count", [100.0] * 9 + [None]),
        metric("fw1", "overall.inserted.count", [0.0] * 5 + [100.0] * 4 + [None]),
        metric("fw1", "overall.duplicate.count", [100.0] * 5 + [0.0] * 4 + [None]),
        metric("fw1", "overall.spooled.count", const(0.0)),
    )
    code, out = run(check_inserted, graphite, capsys=capsys)
    text, perf = status(out)
    assert code == 0, out
    assert text == (
        "EL_INSERTED OK - 100% of valid events inserted or already stored over the last 10min "
        "(900 of 900, 500 of them duplicates)"
    )
    assert {"duplicate=500;;;0", "inserted=400;;;0", "stalled=0s;;60;0"} <= set(perf.split())

    # 40 inserted + 30 duplicate of every 100: 30% lost, a WARNING.
    graphite.data["eventlogging.fw1.overall.inserted.count"] = [40.0] * 9 + [None]
    graphite.data["eventlogging.fw1.overall.duplicate.count"] = [30.0] * 9 + [None]
    code, out = run(check_inserted, graphite, capsys=capsys)
    assert code == 1, out
    assert status(out)[0] == (
        "EL_INSERTED WARNING - 70% of valid events inserted or already stored over the last "
        "10min (630 of 900, 270 of them duplicates), ratio 0.7 < 0.9"
    )

    # The replay ends and nothing is stored after it: the stall is not hidden.
    graphite.data["eventlogging.fw1.overall.valid.count"] = const(100.0)
    graphite.data["eventlogging.fw1.overall.inserted.count"] = const(0.0)
    graphite.data["eventlogging.fw1.overall.duplicate.count"] = [100.0] * 4 + [0.0] * 6
    graphite.data["eventlogging.fw1.overall.spooled.count"] = [0.0] * 4 + [100.0] * 6
    code, out = run(check_inserted, graphite, "-c", "0.3:", capsys=capsys)
    text, perf = status(out)
    assert code == 2, out
    assert text.startswith(
        "EL_INSERTED CRITICAL - nothing inserted for the last 60 s while 600 valid events "
        "arrived: the forwarder stopped writing or the database is stuck (600 spooled); "
        "40% of valid events inserted or already stored over the last 10min (400 of 1000, "
        "400 of them duplicates), 600 spooled"
    )
    assert "stalled=60s;;60;0" in perf.split()


def test_forwarders_without_duplicate_counts(graphite: Stub, capsys) -> None:
    """Forwarders from before the ``duplicate`` measure send no such series: it reads as 0,
    alone or next to a newer forwarder whose duplicates are summed in."""
    put(
        graphite,
        metric("old1", "overall.valid.count", [100.0] * 9 + [None]),
        metric("old1", "overall.inserted.count", [95.0] * 9 + [None]),
        metric("old1", "overall.spooled.count", const(0.0)),
    )
    code, out = run(check_inserted, graphite, capsys=capsys)
    text, perf = status(out)
    assert code == 0, out
    assert text == "EL_INSERTED OK - 95% of valid events inserted over the last 10min (855 of 900)"
    assert {"duplicate=0;;;0", "inserted=855;;;0", "ratio=0.95;0.9:;0.5:;0"} <= set(perf.split())

    put(
        graphite,
        metric("new1", "overall.valid.count", [100.0] * 9 + [None]),
        metric("new1", "overall.inserted.count", [0.0] * 9 + [None]),
        metric("new1", "overall.duplicate.count", [100.0] * 9 + [None]),
        metric("new1", "overall.spooled.count", const(0.0)),
    )
    code, out = run(check_inserted, graphite, capsys=capsys)
    text, perf = status(out)
    assert code == 0, out
    assert text == (
        "EL_INSERTED OK - 97.5% of valid events inserted or already stored over the last 10min "
        "(1755 of 1800, 900 of them duplicates)"
    )
    assert {"duplicate=900;;;0", "inserted=855;;;0", "valid=1800;;;0"} <= set(perf.split())
