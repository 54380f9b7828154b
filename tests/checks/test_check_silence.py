"""check_el_silence: a forwarder gone silent (and since when), everything silent, canary
schemas under their floor, and one named instance."""

from __future__ import annotations

import time

from el_monitor.checks import silence as check_silence

from .support import END, STEP, Stub, const, metric, put, run, status


def test_silence_silent_forwarder_is_critical_with_since(graphite: Stub, capsys) -> None:
    put(
        graphite,
        metric("fw1", "overall.raw.count", const(500.0)),
        metric("fw2", "overall.raw.count", const(None)),
    )
    graphite.older = {"eventlogging.fw2.overall.raw.count": [7.0, 7.0] + [None] * 8}
    code, out = run(check_silence, graphite, capsys=capsys)
    assert code == 2
    since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(END - STEP * 8))
    assert out == (
        f"EL_SILENCE CRITICAL - forwarder fw2 sent no metrics since {since}; 1 of 2 sending "
        "| forwarders=1;;;0\n"
    )
    lookback = graphite.requests[1]
    assert lookback["target"] == ['groupByNodes(eventlogging.fw2.overall.raw.count,"sum",1)']
    assert (lookback["from"], lookback["until"]) == (["-24h"], ["-10min"])


def test_silence_everything_silent(graphite: Stub, capsys) -> None:
    put(graphite, metric("fw1", "overall.raw.count", const(None)))
    code, out = run(check_silence, graphite, capsys=capsys)
    assert code == 2
    assert out == (
        "EL_SILENCE CRITICAL - no metrics from any forwarder in the last 24h (fw1) "
        "| forwarders=0;;;0\n"
    )
    graphite.data.clear()
    code, out = run(check_silence, graphite, capsys=capsys)
    assert code == 2
    assert out.startswith(
        "EL_SILENCE CRITICAL - no metrics from any forwarder: Graphite has no "
        "eventlogging.*.overall.raw.count at all"
    )


def test_silence_canaries_under_their_floor(graphite: Stub, capsys) -> None:
    put(
        graphite,
        metric("fw1", "overall.raw.count", const(500.0)),
        metric("fw1", "schema.NavigationTiming.raw.rate", [0.5] * 5 + [None] * 5),
        metric("fw1", "schema.EditAttemptStep.raw.rate", const(3.0)),
        metric("fw1", "schema.Popups.raw.rate", const(30.0)),
    )
    args = ["-w", "5:", "-c", "1:", "--schema", "NavigationTiming", "--schema", "EditAttemptStep"]
    code, out = run(check_silence, graphite, *args, capsys=capsys)
    text, perf = status(out)
    assert code == 2
    assert text == (
        "EL_SILENCE CRITICAL - NavigationTiming 0.5/s < 1, EditAttemptStep 3/s < 5 "
        "over the last 10min"
    )
    assert perf.split() == [
        "EditAttemptStep=3;5:;1:;0",
        "NavigationTiming=0.5;5:;1:;0",
        "forwarders=1;;;0",
    ]
    assert graphite.requests[0]["target"][1] == (
        "groupByNodes(eventlogging.*.schema.{NavigationTiming,EditAttemptStep}.raw.rate,"
        '"sum",2,3,4,5)'
    )
    code, out = run(
        check_silence, graphite, "--schema", "Popups", "--schema", "Gone", capsys=capsys
    )
    assert code == 2
    assert out.startswith("EL_SILENCE CRITICAL - Gone 0/s < 1 over the last 10min | ")
    code, out = run(check_silence, graphite, "--schema", "Popups", capsys=capsys)
    assert code == 0
    assert out.startswith("EL_SILENCE OK - 1 forwarder sending over the last 10min; canaries: ")


def test_silence_one_instance(graphite: Stub, capsys) -> None:
    put(
        graphite,
        metric("fw1", "overall.raw.count", const(500.0)),
        metric("fw2", "overall.raw.count", const(None)),
    )
    code, out = run(check_silence, graphite, "--instance", "fw1", capsys=capsys)
    assert (code, out) == (
        0,
        "EL_SILENCE OK - forwarder fw1 sending over the last 10min | forwarders=1;;;0\n",
    )
    code, out = run(check_silence, graphite, "--instance", "fw2", capsys=capsys)
    assert code == 2
    assert out.startswith("EL_SILENCE CRITICAL - no metrics from forwarder fw2 in the last 24h")
