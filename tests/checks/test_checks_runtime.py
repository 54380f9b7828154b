"""What every check_el_* plugin shares: failures become UNKNOWN (no data, HTTP errors, garbage,
timeouts, refused connections, internal errors), usage and the Graphite URL option, the -t
alarm, plain-decimal perfdata, and the plugins as real processes (exit codes, light imports).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import nagiosplugin
import pytest

from el_monitor.checks import invalid as check_invalid
from el_monitor.checks import output, runtime
from el_monitor.checks import rate as check_rate
from el_monitor.checks import silence as check_silence
from el_monitor.checks.acquire import Graphite
from el_monitor.checks.options import ENV_GRAPHITE

from .support import Stub, Values, const, metric, put, rate_data, run

ROOT = Path(__file__).resolve().parents[2]


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


def _plugins() -> list[tuple[str, str]]:
    """Every ``check_el_*`` console script of pyproject.toml: (name, module)."""
    import tomllib

    from helpers import ROOT

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    return [(name, target.split(":")[0]) for name, target in scripts.items()
            if name.startswith("check_el_")]  # fmt: skip


@pytest.mark.parametrize(("name", "module"), _plugins())
@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_every_plugin_answers_version(name: str, module: str, flag: str, capsys) -> None:
    import importlib

    from el_monitor import __version__

    main = importlib.import_module(module).main
    assert main([flag]) == 0
    assert capsys.readouterr().out.strip().endswith(f"v{__version__}")
