"""The check_el_* plugins against a stub graphite-web: states, status lines, perfdata, failures.

The stub evaluates the one target form the plugins send, ``groupByNodes(<glob>,"sum",n,...)``,
over canned per-instance series the way graphite-web 1.1 does (nodes joined by dots, nulls
skipped in the sum), so the queries are tested along with the evaluation.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from fnmatch import fnmatchcase
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import nagiosplugin
import pytest

from el_monitor.checks import inserted as check_inserted
from el_monitor.checks import invalid as check_invalid
from el_monitor.checks import output, runtime
from el_monitor.checks import rate as check_rate
from el_monitor.checks import schema_rate as check_schema_rate
from el_monitor.checks import silence as check_silence
from el_monitor.checks.acquire import Graphite
from el_monitor.checks.options import ENV_GRAPHITE

ROOT = Path(__file__).resolve().parents[1]
STEP = 10
END = 1_700_000_000  # last point's timestamp
POINTS = 10
Values = list[float | None]


# --- stub graphite-web -------------------------------------------------------------------------


def _expand(glob: str) -> list[str]:
    found = re.search(r"\{([^{}]*)\}", glob)
    if not found:
        return [glob]
    head, tail = glob[: found.start()], glob[found.end() :]
    return [p for alt in found[1].split(",") for p in _expand(head + alt + tail)]


def _matches(glob: str, name: str) -> bool:
    parts = name.split(".")
    for pattern in _expand(glob):
        nodes = pattern.split(".")
        if len(nodes) == len(parts) and all(map(fnmatchcase, parts, nodes)):
            return True
    return False


_TARGET = re.compile(r'groupByNodes\((?P<glob>.+),"sum",(?P<nodes>\d+(?:,\d+)*)\)')


def evaluate(target: str, data: dict[str, Values]) -> list[dict]:
    """graphite-web 1.1's groupByNodes(glob, "sum", nodes...) over ``data``."""
    found = _TARGET.fullmatch(target)
    assert found, f"the stub does not know this target: {target}"
    nodes = [int(n) for n in found["nodes"].split(",")]
    groups: dict[str, list[Values]] = {}
    for name, values in data.items():
        if _matches(found["glob"], name):
            key = ".".join(name.split(".")[n] for n in nodes)
            groups.setdefault(key, []).append(values)
    out = []
    for key, members in groups.items():
        summed = []
        for row in zip(*members, strict=True):
            present = [v for v in row if v is not None]
            summed.append(math.fsum(present) if present else None)
        start = END - STEP * (len(summed) - 1)
        points = [[v, start + STEP * i] for i, v in enumerate(summed)]
        out.append({"target": key, "datapoints": points})
    return out


class Stub:
    """What the stub answers: ``data`` by default, ``older`` for other ``from`` values."""

    def __init__(self) -> None:
        self.data: dict[str, Values] = {}
        self.older: dict[str, Values] = {}
        self.window_from = "-10min"
        self.mode = "ok"  # ok | 500 | slow (no answer until the test ends) | garbage
        self.requests: list[dict[str, list[str]]] = []
        self.release = threading.Event()
        self.url = ""

    def answer(self, query: dict[str, list[str]]) -> tuple[int, bytes]:
        self.requests.append(query)
        if self.mode == "500":
            return 500, b"<html><title>Internal Server Error</title><body>boom</body></html>"
        if self.mode == "slow":
            self.release.wait(60)  # set when the test ends; only a hung client waits it out
        if self.mode == "garbage":
            return 200, b"<html>this is not json"
        data = self.data if query["from"][0] == self.window_from else self.older
        series = [s for target in query["target"] for s in evaluate(target, data)]
        return 200, json.dumps(series).encode()


@pytest.fixture
def graphite() -> Iterator[Stub]:
    stub = Stub()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            parts = urlsplit(self.path)
            if parts.path != "/render":
                self.send_error(404)
                return
            status, body = stub.answer(parse_qs(parts.query))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(OSError):  # the client gave up (slow answer)
                self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    stub.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield stub
    finally:
        stub.release.set()
        server.shutdown()
        server.server_close()


def metric(instance: str, path: str, values: Values) -> tuple[str, Values]:
    assert len(values) == POINTS
    return f"eventlogging.{instance}.{path}", values


def put(stub: Stub, *metrics: tuple[str, Values]) -> None:
    stub.data.update(metrics)


def const(value: float | None) -> Values:
    return [value] * POINTS


def run(module: object, stub: Stub, *args: str, capsys: pytest.CaptureFixture) -> tuple[int, str]:
    code = module.main(["--graphite", stub.url, *args])  # type: ignore[attr-defined]
    return code, capsys.readouterr().out


def status(output: str) -> tuple[str, str]:
    """The status line's text and perfdata."""
    first = output.splitlines()[0]
    text, _, perf = first.partition(" | ")
    return text, perf


# --- check_el_rate -----------------------------------------------------------------------------


def rate_data(stub: Stub, overall: Values) -> None:
    half = [None if v is None else v / 2 for v in overall]
    put(
        stub,
        metric("fw1", "overall.raw.rate", half),
        metric("fw2", "overall.raw.rate", half),
        metric("fw1", "schema.NavigationTiming.raw.rate", const(100.1)),
        metric("fw2", "schema.NavigationTiming.raw.rate", const(80.1)),
        metric("fw1", "schema.EditAttemptStep.raw.rate", const(40.3)),
        metric("fw1", "schema.SearchSatisfaction.raw.rate", const(15)),
        metric("fw1", "schema.Popups.raw.rate", const(7.7)),
    )


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


# --- failures → UNKNOWN ------------------------------------------------------------------------


@pytest.mark.parametrize("values", [None, const(None)], ids=["empty", "all-null"])
def test_no_data_is_unknown(graphite: Stub, capsys, values: Values | None) -> None:
    if values is not None:
        put(graphite, metric("fw1", "overall.raw.rate", values))
    code, out = run(check_rate, graphite, capsys=capsys)
    assert code == 3
    assert out == (
        "EL_RATE UNKNOWN - no data for eventlogging.*.overall.raw.rate over the last 10min "
        f"in Graphite {graphite.url}: is any forwarder sending metrics there?\n"
    )


def test_http_500_is_unknown(graphite: Stub, capsys) -> None:
    graphite.mode = "500"
    code, out = run(check_rate, graphite, capsys=capsys)
    assert code == 3
    assert out == (
        f"EL_RATE UNKNOWN - Graphite {graphite.url}/render: HTTP 500: Internal Server Error\n"
    )


def test_garbage_is_unknown(graphite: Stub, capsys) -> None:
    graphite.mode = "garbage"
    code, out = run(check_invalid, graphite, capsys=capsys)
    assert code == 3
    assert out.startswith(
        f"EL_INVALID UNKNOWN - Graphite {graphite.url}/render: answer is not JSON"
    )


def test_slow_answer_beyond_t_is_unknown(graphite: Stub, capsys) -> None:
    graphite.mode = "slow"  # the stub answers nothing while the check runs: -t must end it
    code, out = run(check_rate, graphite, "-t", "1", capsys=capsys)
    assert code == 3
    assert out.startswith(f"EL_RATE UNKNOWN - Graphite {graphite.url}/render: no answer within")


def test_connection_refused_is_unknown(capsys) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code = check_silence.main(["--graphite", f"http://127.0.0.1:{port}"])
    out = capsys.readouterr().out
    assert code == 3
    assert out == (
        f"EL_SILENCE UNKNOWN - Graphite http://127.0.0.1:{port}/render: "
        "unreachable (Connection refused)\n"
    )


def test_alarm_bounds_the_run(capsys) -> None:
    """-t holds even when the time goes somewhere the render client cannot see."""

    def stuck(args: object, graphite: Graphite) -> nagiosplugin.Check:
        time.sleep(60)  # part of the test: time the render client cannot see; -t must cut it
        raise AssertionError("not reached")

    before = signal.getsignal(signal.SIGALRM)
    code = runtime.run(
        "EL_TEST", check_rate.build_parser(), stuck, ["--graphite", "http://x", "-t", "0.3"]
    )
    assert code == 3
    assert capsys.readouterr().out == (
        "EL_TEST UNKNOWN - timed out after 0.3 s (-t 0.3) waiting for Graphite http://x\n"
    )
    assert signal.getsignal(signal.SIGALRM) is before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_unexpected_errors_are_unknown_with_traceback_on_request(capsys) -> None:
    def broken(args: object, graphite: Graphite) -> nagiosplugin.Check:
        return {}["missing"]

    argv = ["--graphite", "http://x"]
    assert runtime.run("EL_TEST", check_rate.build_parser(), broken, argv) == 3
    assert capsys.readouterr().out == (
        "EL_TEST UNKNOWN - internal error: KeyError: 'missing' (run with -vv for a traceback)\n"
    )
    assert runtime.run("EL_TEST", check_rate.build_parser(), broken, [*argv, "-vv"]) == 3
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "Traceback (most recent call last):"
    assert lines[-1] == "KeyError: 'missing'"


def test_usage_errors_are_unknown(capsys, monkeypatch) -> None:
    assert check_rate.main(["--graphite", "http://x", "-w", "abc"]) == 3
    assert capsys.readouterr().out.startswith(
        "EL_RATE UNKNOWN - usage: argument -w/--warning: invalid range 'abc'"
    )
    monkeypatch.delenv(ENV_GRAPHITE, raising=False)
    assert check_rate.main([]) == 3
    assert capsys.readouterr().out == (
        "EL_RATE UNKNOWN - no Graphite to ask: give --graphite URL or set EL_GRAPHITE_URL\n"
    )
    assert check_rate.main(["--graphite", "ftp://x"]) == 3
    assert "must start with http:// or https://" in capsys.readouterr().out
    assert check_rate.main(["--help"]) == 0
    assert "--percent" in capsys.readouterr().out


def test_graphite_url_from_the_environment(graphite: Stub, capsys, monkeypatch) -> None:
    rate_data(graphite, const(10))
    monkeypatch.setenv(ENV_GRAPHITE, graphite.url)
    assert check_rate.main([]) == 0
    assert capsys.readouterr().out.startswith("EL_RATE OK - 10 events/s")


def test_numbers_are_plain_decimals() -> None:
    assert [output.perf_num(v) for v in (1e-5, 1e16, 243.10000000000002, -0.0, None)] == [
        "0.00001",
        "10000000000000000",
        "243.1",
        "0",
        "U",
    ]
    assert [output.num(v) for v in (1e-5, 1e16, 0.04, 243.0)] == [
        "0",
        "10000000000000000",
        "0.04",
        "243",
    ]
    ranges = ["150", "5:", "~:0.5", "@1:2", "0:", "-1:1"]
    assert [output.range_text(nagiosplugin.Range(r)) for r in ranges] == ranges
    quoted = output.performance("Edit-Attempt", 1.5, "", None, None, 0)
    assert str(quoted) == "'Edit-Attempt'=1.5;;;0"


# --- check_el_schema_rate ----------------------------------------------------------------------

CATALOG = """
[defaults]
max_rate = 100

[schema.NavigationTiming]
owners = ["perf-team@example.org", "perf-oncall@example.org"]
max_rate = 200
"""


@pytest.fixture
def catalog(tmp_path: Path) -> str:
    path = tmp_path / "el-monitor.toml"
    path.write_text(CATALOG)
    return str(path)


def schema_data(stub: Stub) -> None:
    put(
        stub,
        metric("fw1", "schema.NavigationTiming.raw.rate", const(143.1)),
        metric("fw2", "schema.NavigationTiming.raw.rate", const(100)),
        metric("fw1", "schema.EditAttemptStep.raw.rate", [80.0] * 6 + [50.0] * 4),
        metric("fw1", "schema.Edit-Draft.raw.rate", const(5)),
        metric("fw1", "schema.Quiet.raw.rate", const(None)),
    )


def test_schema_rate_names_each_offender_with_owners(graphite: Stub, catalog: str, capsys) -> None:
    schema_data(graphite)
    code, out = run(check_schema_rate, graphite, "--config", catalog, capsys=capsys)
    text, perf = status(out)
    assert code == 2
    assert text == (
        "EL_SCHEMA_RATE CRITICAL - NavigationTiming 243.1/s > 200 (10 of 10 points; owners: "
        "perf-team@example.org, perf-oncall@example.org); warning: EditAttemptStep 68/s "
        "(6 of 10 points above 75; no owners in the catalog)"
    )
    assert perf.split() == [
        "'Edit-Draft'=5;75;100;0",
        "EditAttemptStep=68;75;100;0",
        "NavigationTiming=243.1;150;200;0",
        "Quiet=U;75;100;0",
    ]
    assert graphite.requests[0]["target"] == [
        'groupByNodes(eventlogging.*.schema.*.raw.rate,"sum",2,3,4,5)'
    ]
    code, out = run(check_schema_rate, graphite, "--config", catalog, "-v", capsys=capsys)
    assert out.splitlines()[1:3] == [
        "NavigationTiming: 243.1/s, CRITICAL, warning 150 critical 200, 10 of 10 points above "
        "200; owners: perf-team@example.org, perf-oncall@example.org",
        "EditAttemptStep: 68/s, WARNING, warning 75 critical 100, 6 of 10 points above 75; "
        "no owners in the catalog",
    ]
    assert "Quiet: no data, OK, warning 75 critical 100, no points; no owners in the catalog" in out


def test_schema_rate_overrides_and_ok(graphite: Stub, catalog: str, capsys) -> None:
    schema_data(graphite)
    code, out = run(
        check_schema_rate, graphite, "--config", catalog, "-w", "300", "-c", "400", capsys=capsys
    )
    assert code == 0
    assert out.startswith(
        "EL_SCHEMA_RATE OK - 3 schemas within their rate limits over the last 10min; "
        "highest: NavigationTiming 243.1/s (limit 400) | "
    )
    # The same rule as check_el_rate: 6 of 10 points is not enough at --percent 70.
    code, out = run(
        check_schema_rate,
        graphite,
        "--config",
        catalog,
        "--percent",
        "70",
        "-c",
        "250",
        capsys=capsys,
    )
    assert code == 1
    assert out.startswith("EL_SCHEMA_RATE WARNING - NavigationTiming 243.1/s > 150 (10 of 10 ")


def test_schema_rate_bad_catalog_is_unknown(graphite: Stub, tmp_path: Path, capsys) -> None:
    schema_data(graphite)
    missing = tmp_path / "nope.toml"
    code, out = run(check_schema_rate, graphite, "--config", str(missing), capsys=capsys)
    assert code == 3
    assert out == (
        f"EL_SCHEMA_RATE UNKNOWN - {missing}: catalog file not found; check --config or create it\n"
    )


def test_schema_rate_no_data_is_unknown(graphite: Stub, catalog: str, capsys) -> None:
    code, out = run(check_schema_rate, graphite, "--config", catalog, capsys=capsys)
    assert code == 3
    assert out.startswith("EL_SCHEMA_RATE UNKNOWN - no data for eventlogging.*.schema.*.raw.rate")


# --- check_el_invalid --------------------------------------------------------------------------


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


# --- check_el_inserted -------------------------------------------------------------------------


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
        "| inserted=882;;;0 ratio=0.98;0.9:;0.5:;0 spooled=0;;;0 stalled=0s;;60;0 valid=900;;;0\n"
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
    assert check_inserted.stall(valid, inserted, None) == check_inserted.Stall(20, 10, 0)
    assert check_inserted.stall(valid, series([5] * 6 + [None]), None).seconds == 0


# --- check_el_silence --------------------------------------------------------------------------


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


# --- a real graphite-web ------------------------------------------------------------------------


@pytest.mark.graphite
def test_plugins_against_debian_graphite_web(graphite_server, tmp_path: Path, capsys) -> None:
    """The queries mean on graphite-web 1.1 what the stub says: groupByNodes names, brace
    globs, a hyphenated schema, sums over two forwarders, nulls between points."""
    # Under eventlogging. for the project's storage-aggregation.conf (counts summed with
    # xFilesFactor 0, so the -24h look-back still sees one sparse point); two nodes deep to
    # test the node arithmetic.
    prefix = f"eventlogging.checks{os.getpid()}x{int(time.time())}"
    now = int(time.time())
    lines = []
    for step in range(1, 50):
        ts = now - now % 10 - 10 * step
        for instance, share in (("fw1", 0.6), ("fw2", 0.4)):
            head = f"{prefix}.{instance}"
            lines += [
                f"{head}.{name} {value * share} {ts}"
                for name, value in (
                    ("overall.raw.rate", 243.1),
                    ("overall.raw.count", 2431),
                    ("overall.valid.count", 1660),
                    ("overall.invalid.count", 340),
                    ("overall.inserted.count", 1600),
                    ("overall.spooled.count", 0),
                    ("overall.errors.validation.action.count", 300),
                    ("schema.NavigationTiming.raw.rate", 180.2),
                    ("schema.Edit-Draft.raw.rate", 5),
                    ("schema.EditAttemptStep.raw.rate", 40.3),
                    ("schema.EditAttemptStep.valid.count", 660),
                    ("schema.EditAttemptStep.invalid.count", 340),
                    ("schema.EditAttemptStep.errors.validation.action.count", 300),
                    ("schema.EditAttemptStep.errors.validation.root.count", 40),
                )
            ]
    silent_since = now - now % 10 - 3000  # aligned: the -24h look-back reads 10 s points
    lines.append(f"{prefix}.fw3.overall.raw.count 1 {silent_since}")
    graphite_server.send(lines)
    graphite_server.wait_for(
        [
            f"{prefix}.*.overall.*.*",
            f"{prefix}.*.overall.*.*.*.*",
            f"{prefix}.*.schema.*.*.*",
            f"{prefix}.*.schema.*.*.*.*.*",
        ],
        lambda series: sum(any(v is not None for v, _ in s["datapoints"]) for s in series) == 29,
    )
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(CATALOG)
    common_args = ["--graphite", graphite_server.url, "--prefix", prefix, "-t", "5"]

    def check(module: object, *args: str) -> tuple[int, str]:
        code = module.main([*common_args, *args])  # type: ignore[attr-defined]
        return code, status(capsys.readouterr().out)[0]

    code, text = check(check_rate)
    assert code == 2
    assert re.fullmatch(
        r"EL_RATE CRITICAL - 243.1 events/s over the last 10min \((\d+) of \1 points above "
        r"200\); top: NavigationTiming 180.2/s, EditAttemptStep 40.3/s, Edit-Draft 5/s",
        text,
    ), text
    code, text = check(check_schema_rate, "--config", str(catalog))
    assert code == 1
    assert text.startswith("EL_SCHEMA_RATE WARNING - NavigationTiming 180.2/s > 150 (")
    code, text = check(check_invalid)
    assert (code, text) == (
        2,
        "EL_INVALID CRITICAL - EditAttemptStep 34% invalid (most: validation at $.action); "
        "overall 17% of 98000 events over the last 10min (most: validation at $.action)",
    )
    code, text = check(check_inserted)
    assert (code, text) == (
        0,
        "EL_INSERTED OK - 96.4% of valid events inserted over the last 10min (78400 of 81340)",
    )
    code, text = check(check_silence, "--schema", "Edit-Draft", "-c", "10:")
    since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(silent_since))
    assert code == 2
    assert text == (
        f"EL_SILENCE CRITICAL - forwarder fw3 sent no metrics since {since}; 2 of 3 sending; "
        "Edit-Draft 5/s < 10 over the last 10min"
    )


# --- real processes ----------------------------------------------------------------------------


def _run_process(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop(ENV_GRAPHITE, None)
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        cwd=ROOT,
    )


def test_process_exit_codes(graphite: Stub) -> None:
    rate_data(graphite, const(243.1))
    done = _run_process("el_monitor.checks.rate", "--graphite", graphite.url)
    assert done.returncode == 2
    assert done.stdout.startswith("EL_RATE CRITICAL - 243.1 events/s over the last 10min")
    assert done.stderr == ""
    done = _run_process("el_monitor.checks.rate", "--graphite", graphite.url, "-c", "300")
    assert (done.returncode, done.stdout[:16]) == (1, "EL_RATE WARNING ")
    graphite.mode = "500"
    done = _run_process("el_monitor.checks.invalid", "--graphite", graphite.url)
    assert done.returncode == 3
    assert done.stdout.startswith("EL_INVALID UNKNOWN - Graphite ")
    done = _run_process("el_monitor.checks.silence", "--bogus")
    assert done.returncode == 3
    assert done.stdout.startswith("EL_SILENCE UNKNOWN - usage: unrecognized arguments: --bogus")


PLUGINS = ["rate", "schema_rate", "invalid", "inserted", "silence"]
HEAVY = [
    "matplotlib",
    "jinja2",
    "pymysql",
    "orjson",
    "el_monitor.store",
    "el_monitor.schema",
    "el_monitor.catalog",
    "requests",
]


@pytest.mark.parametrize("plugin", PLUGINS)
def test_importing_a_plugin_stays_light(plugin: str) -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import el_monitor.checks.{plugin}"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    imported = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert f"el_monitor.checks.{plugin}" in imported
    heavy = sorted(m for m in imported if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert not heavy, f"importing {plugin} pulls in {heavy}"
