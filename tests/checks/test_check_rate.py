"""check_el_rate against the stub graphite-web: the overall rate, its top schemas, the
percent-of-points rule, nulls, thresholds, window, prefix and the verbose listing."""

from __future__ import annotations

from el_monitor.checks import rate as check_rate

from .support import Stub, const, put, rate_data, run, status


def test_rate_critical_names_the_top_schemas(graphite: Stub, capsys) -> None:
    rate_data(graphite, [243.1] * 8 + [190.0, 180.0])
    code, out = run(check_rate, graphite, capsys=capsys)
    text, perf = status(out)
    assert code == 2
    assert text == (
        "EL_RATE CRITICAL - 231.5 events/s over the last 10min (8 of 10 points above 200); "
        "top: NavigationTiming 180.2/s, EditAttemptStep 40.3/s, SearchSatisfaction 15/s"
    )
    assert perf.split() == [
        "EditAttemptStep=40.3;;;0",
        "NavigationTiming=180.2;;;0",
        "SearchSatisfaction=15;;;0",
        "rate=231.48;150;200;0",
    ]
    (query,) = graphite.requests
    assert query["target"] == [
        'groupByNodes(eventlogging.*.overall.raw.rate,"sum",2,3,4)',
        'groupByNodes(eventlogging.*.schema.*.raw.rate,"sum",2,3,4,5)',
    ]
    assert (query["from"], query["until"], query["format"]) == (["-10min"], ["now"], ["json"])


def test_rate_warning_and_ok(graphite: Stub, capsys) -> None:
    rate_data(graphite, const(160))
    code, out = run(check_rate, graphite, capsys=capsys)
    assert code == 1
    assert out.startswith("EL_RATE WARNING - 160 events/s over the last 10min (10 of 10 points ")
    graphite.data.clear()
    rate_data(graphite, const(50))
    code, out = run(check_rate, graphite, capsys=capsys)
    assert code == 0
    assert out.startswith("EL_RATE OK - 50 events/s over the last 10min (0 of 10 points above 150)")


def test_rate_percent_rule_one_spike_is_ok(graphite: Stub, capsys) -> None:
    rate_data(graphite, [50.0] * 9 + [900.0])
    code, out = run(check_rate, graphite, capsys=capsys)
    assert code == 0, out
    assert "(1 of 10 points above 150)" in out
    # 4 of 10 points above 200: not enough at 50%, enough at 40%.
    graphite.data.clear()
    rate_data(graphite, [50.0] * 6 + [250.0] * 4)
    assert run(check_rate, graphite, capsys=capsys)[0] == 0
    code, out = run(check_rate, graphite, "--percent", "40", capsys=capsys)
    assert code == 2
    assert "(4 of 10 points above 200)" in out


def test_rate_nulls_are_skipped(graphite: Stub, capsys) -> None:
    rate_data(graphite, [None, 250.0, None, 250.0, None, 250.0, None, None, 250.0, None])
    code, out = run(check_rate, graphite, capsys=capsys)
    assert code == 2
    assert "250 events/s over the last 10min (4 of 4 points above 200)" in out


def test_rate_custom_thresholds_window_and_prefix(graphite: Stub, capsys) -> None:
    graphite.window_from = "-5min"
    put(graphite, ("el.prod.fw1.overall.raw.rate", const(12.5)))
    code, out = run(
        check_rate,
        graphite,
        "-w",
        "10",
        "-c",
        "20",
        "--from",
        "-5min",
        "--prefix",
        "el.prod",
        capsys=capsys,
    )
    assert code == 1
    assert out == (
        "EL_RATE WARNING - 12.5 events/s over the last 5min (10 of 10 points above 10) "
        "| rate=12.5;10;20;0\n"
    )
    assert graphite.requests[0]["target"][0] == (
        'groupByNodes(el.prod.*.overall.raw.rate,"sum",3,4,5)'
    )


def test_rate_verbose_lists_every_schema(graphite: Stub, capsys) -> None:
    rate_data(graphite, const(100))
    code, out = run(check_rate, graphite, "-v", capsys=capsys)
    lines = out.splitlines()
    assert code == 0
    assert lines[1] == "overall: mean 100/s, peak 100/s, 0 of 10 points above 150"
    assert lines[2:] == [
        "NavigationTiming: 180.2/s",
        "EditAttemptStep: 40.3/s",
        "SearchSatisfaction: 15/s",
        "Popups: 7.7/s",
    ]
