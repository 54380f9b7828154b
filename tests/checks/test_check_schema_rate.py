"""check_el_schema_rate: each schema against its catalog limit, naming its owners; overrides,
the percent rule, a missing catalog and no data."""

from __future__ import annotations

from pathlib import Path

import pytest

from el_monitor.checks import schema_rate as check_schema_rate

from .support import CATALOG, Stub, const, metric, put, run, status


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
