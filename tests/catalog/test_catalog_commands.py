"""The commands that read the catalog: `el-monitor catalog check` (every problem, unowned
schemas, which --config wins) and `el-monitor schemas` (with and without a store)."""

from __future__ import annotations

import datetime
import json

import pytest
from helpers import SCHEMAS

from el_monitor.catalog.load import load_catalog
from el_monitor.cli import main as cli_main
from el_monitor.cli import schemas as cli_schemas
from el_monitor.errors import UserError
from el_monitor.store import open_store
from el_monitor.store.sampling import record_sample_rate

from .support import EXAMPLE, write


def run(*argv: str) -> int:
    """Parse like ``el-monitor`` does (global --config too) and run the command in-process."""
    args = cli_main.build_parser().parse_args(argv)
    return args.run(args)


def test_catalog_check_ok_lists_unowned_schemas(capsys):
    assert run("catalog", "check", "--config", str(EXAMPLE), "--schemas", str(SCHEMAS)) == 0
    out = capsys.readouterr().out.splitlines()
    configured = len(load_catalog(EXAMPLE).schemas)
    known = {p.name for p in SCHEMAS.iterdir()}
    assert out[0] == (
        f"catalog OK: {configured} schemas configured, {len(known) - configured} known schemas "
        "without an owner:"
    )
    assert "  CpuBenchmark" in out and "  NavigationTiming" not in out
    assert len(out) == 1 + len(known) - configured


def test_catalog_check_reports_every_problem_and_fails(tmp_path, capsys):
    path = write(tmp_path, "[schema.NavigationTimin]\nsample_rate = 0\n")
    assert run("catalog", "check", "--config", str(path), "--schemas", str(SCHEMAS)) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        f"{path}:1: schema.NavigationTimin: no schema 'NavigationTimin' in the registry "
        "(did you mean 'NavigationTiming'?)",
        f"{path}:2: schema.NavigationTimin.sample_rate: must be an integer >= 1 (keep 1 in N), "
        "not 0",
    ]


def test_subcommand_config_wins_over_the_global_one(tmp_path, capsys):
    good = write(tmp_path, '[defaults]\nowners = ["all@example.org"]\n')
    bad = tmp_path / "missing.toml"
    assert run("--config", str(bad), "catalog", "check", "--config", str(good),
               "--schemas", str(SCHEMAS)) == 0  # fmt: skip
    assert "0 known schemas without an owner" in capsys.readouterr().out
    assert run("--config", str(good), "catalog", "check", "--schemas", str(SCHEMAS)) == 0
    assert run("--config", str(bad), "schemas", "--schemas", str(SCHEMAS)) == 1
    assert "catalog file not found" in capsys.readouterr().err


def test_schemas_without_a_store(capsys):
    assert run("schemas", "--config", str(EXAMPLE), "--schemas", str(SCHEMAS), "--json") == 0
    rows = {r["schema"]: r for r in json.loads(capsys.readouterr().out)}
    assert len(rows) == 55
    assert rows["NavigationTiming"] == {
        "schema": "NavigationTiming",
        "revision": "1.7.0",
        "owners": ["perf-team@example.org"],
        "sample_rate": 10,
        "max_rate": 150.0,
        "retention_days": 90,
        "action": "sanitize",  # it has a keep list
    }
    assert rows["CpuBenchmark"]["action"] == "delete"


def test_schemas_with_a_store(db_url, registry, capsys):
    store = open_store(db_url)
    try:
        for name, count in (("NavigationTiming", 3), ("SaveTiming", 1)):
            layout = store.layout(name, _rev(name), registry.get(name, _rev(name)).schema)
            rows = [
                layout.row(
                    {"uuid": f"{name[:4].encode().hex()}{i:024x}", "timestamp": 1795842000 + i,
                     "wiki": "enwiki", "event": {}}
                )
                for i in range(count)
            ]  # fmt: skip
            store.insert({layout: rows})
        # The forwarder's record of the rate in force: the latest one per revision counts.
        record_sample_rate(store, "NavigationTiming", "1.7.0", 10)
        record_sample_rate(store, "NavigationTiming", "1.7.0", 5)
        record_sample_rate(store, "SaveTiming", "1.1.0", 1)
    finally:
        store.close()
    base = ("schemas", "--config", str(EXAMPLE), "--schemas", str(SCHEMAS), "--db", db_url)
    assert run(*base, "--json") == 0
    rows = {r["schema"]: r for r in json.loads(capsys.readouterr().out)}
    nav = rows["NavigationTiming"]
    assert nav["rows"] == 3 and nav["table"] == "NavigationTiming_1_7_0"
    assert nav["last_event"] == _iso(1795842002)
    assert nav["recorded_sample_rate"] == 5 and nav["sample_rate_changed"] is True
    save = rows["SaveTiming"]
    assert (save["rows"], save["recorded_sample_rate"], save["sample_rate_changed"]) == (
        1, 1, False,
    )  # fmt: skip
    empty = rows["CpuBenchmark"]
    assert (empty["rows"], empty["last_event"], empty["table"]) == (0, None, None)
    assert empty["recorded_sample_rate"] is None and empty["sample_rate_changed"] is False
    # Retention never ran; the rows are recent (2026-11), so nothing is past policy.
    assert (nav["retention_ran"], nav["last_retention"], nav["overdue_days"]) == (False, None, 0)
    assert nav["oldest_unhandled"] == _iso(1795842000)

    assert run(*base) == 0
    lines = capsys.readouterr().out.splitlines()
    header = lines[0].split()
    assert header[:2] == ["schema", "revision"]
    assert header[-6:] == ["sampling", "retention", "run", "oldest", "unhandled", "late"]
    assert set(lines[1]) == {"-", " "}
    nav_line = next(line for line in lines if line.startswith("NavigationTiming "))
    assert nav_line.split()[2:] == [
        "perf-team@example.org", "10", "150", "90d", "sanitize", "3", _iso(1795842002), "5",
        "CHANGED", "never", _iso(1795842000), "-",
    ]  # fmt: skip
    cpu_line = next(line for line in lines if line.startswith("CpuBenchmark "))
    assert cpu_line.split()[2:] == ["-", "1", "200", "90d", "delete", "0", "-", "-", "-", "-", "-"]
    assert len({line.index(" 1.") for line in lines[2:] if " 1." in line}) == 1  # aligned


def test_schemas_tolerates_no_sampling_table(tmp_path, capsys):
    url = f"sqlite:///{tmp_path}/el.db"
    open_store(url).close()
    assert run("schemas", "--schemas", str(SCHEMAS), "--db", url, "--json") == 0
    captured = capsys.readouterr()
    assert "built-in defaults" in captured.err
    assert all(r["recorded_sample_rate"] is None for r in json.loads(captured.out))


def test_schemas_store_errors_are_one_line(tmp_path):
    with pytest.raises(UserError, match="does not exist; check --db"):
        run("schemas", "--schemas", str(SCHEMAS), "--db", f"sqlite:///{tmp_path}/none.db")
    assert not (tmp_path / "none.db").exists()
    with pytest.raises(UserError, match="is the database running"):
        run("schemas", "--schemas", str(SCHEMAS), "--db", "mysql://root@127.0.0.1:1/none")


def test_long_owner_lists_are_cut_on_a_terminal():
    owners = [f"t{i}@example.org" for i in range(5)]
    cell = cli_schemas._owners_cell(owners, cut=True)
    assert cell == "t0@example.org, t1@example.org +3"
    assert len(cell) <= cli_schemas.OWNERS_WIDTH
    assert cli_schemas._owners_cell(owners, cut=False) == ", ".join(owners)
    long = ["a-very-long-address-for-a-team-mailing-list@example.org", "b@example.org"]
    assert cli_schemas._owners_cell(long, cut=True).endswith("... +1")


def _rev(name: str) -> str:
    return next(p.stem for p in (SCHEMAS / name).glob("*.json"))


def _iso(seconds: int) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_the_readmes_catalog_reference_is_the_generated_one():
    """Every key the loader takes, with words for each: generated, and the README holds the
    same text, so neither can drift."""
    import re

    from helpers import ROOT

    from el_monitor.catalog.load import TOP_KEYS
    from el_monitor.catalog.reference import TABLES, reference_markdown

    generated = reference_markdown()
    readme = (ROOT / "README.md").read_text()
    [held] = re.findall(r"<!-- catalog-reference[^>]*-->\n(.*?)<!-- /catalog-reference -->",
                        readme, re.S)  # fmt: skip
    assert held == generated
    assert all(f"| `{key}` |" in generated for table in TABLES for key in table.keys)
    assert TABLES[0].keys == TOP_KEYS
