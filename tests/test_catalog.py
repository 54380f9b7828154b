"""The catalog: every kind of error with its file, line, key and hint; merging; the commands."""

from __future__ import annotations

import datetime
import json
import textwrap
from pathlib import Path

import pytest
from helpers import ROOT, SCHEMAS

from el_monitor.catalog.load import load_catalog
from el_monitor.catalog.model import (
    Aggregate,
    CatalogError,
    Extension,
    SchemaPolicy,
    empty_catalog,
)
from el_monitor.cli import main as cli_main
from el_monitor.cli import schemas as cli_schemas
from el_monitor.errors import UserError
from el_monitor.schema.registry import open_registry
from el_monitor.store import open_store
from el_monitor.store.sampling import record_sample_rate

EXAMPLE = ROOT / "examples" / "el-monitor.toml"


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    return open_registry(str(SCHEMAS), tmp_path_factory.mktemp("cache"))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "el-monitor.toml"
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def problems(tmp_path: Path, text: str, registry=None) -> list[str]:
    path = write(tmp_path, text)
    with pytest.raises(CatalogError) as caught:
        load_catalog(path, registry)
    prefix = f"{path}:"
    assert all(p.startswith(prefix) for p in caught.value.problems), caught.value.problems
    return [p[len(prefix) :] for p in caught.value.problems]


# --- the example and the happy path ----------------------------------------------------------


def test_example_catalog_is_valid_against_the_bundled_schemas(registry):
    catalog = load_catalog(EXAMPLE, registry)
    assert {"NavigationTiming", "ServerSideAccountCreation"} <= set(catalog.schemas)
    nav = catalog.policy("NavigationTiming")
    assert nav.sample_rate == 10 and nav.sample_key == ("pageviewToken",)
    assert nav.aggregate[0] == Aggregate("daily_by_country", ("wiki", "originCountry"), "day")
    assert nav.extensions[0].until == datetime.date(2027, 6, 30)
    assert catalog.policy("ServerSideAccountCreation").user_fields == ("userId", "token")
    assert catalog.policy("TemplateWizard").user_fields == ("performer.user_id", "session_token")
    assert catalog.ops == ("ops@example.org",)


def test_defaults_fill_what_a_schema_omits(tmp_path):
    catalog = load_catalog(
        write(
            tmp_path,
            """
            secret_file = "secret"
            [defaults]
            owners = ["analytics@example.org"]
            max_rate = 50
            retention_days = 30
            keep = ["wiki"]
            [schema.NavigationTiming]
            sample_rate = 10
            keep = ["isAnon"]
            [[schema.NavigationTiming.extensions]]
            until = 2027-06-30
            reason = "T1: study"
            retention_days = 365
            fields = ["isAnon"]
            """,
        )
    )
    nav = catalog.policy("NavigationTiming")
    assert nav == SchemaPolicy(
        name="NavigationTiming",
        owners=("analytics@example.org",),
        sample_rate=10,
        max_rate=50.0,
        retention_days=30,
        keep=("isAnon",),  # a schema's list replaces the default one, it does not extend it
        extensions=(Extension(datetime.date(2027, 6, 30), "T1: study", 365, ("isAnon",)),),
    )
    assert catalog.schemas["NavigationTiming"] == nav
    other = catalog.policy("Unlisted")
    assert other.name == "Unlisted" and other.max_rate == 50.0 and other.sample_rate == 1
    assert catalog.defaults.name == "*"
    assert catalog.secret_file == str(tmp_path / "secret")  # relative to the catalog
    with pytest.raises(TypeError):
        catalog.schemas["X"] = nav  # type: ignore[index]


def test_default_rollups_and_extensions_apply_to_every_schema(tmp_path):
    catalog = load_catalog(
        write(
            tmp_path,
            """
            [[defaults.aggregate]]
            name = "daily_by_wiki"
            dimensions = ["wiki"]
            [[defaults.extensions]]
            until = 2027-01-01
            reason = "T3: audit"
            retention_days = 120
            [schema.Test]
            owners = ["qa@example.org"]
            """,
        )
    )
    for policy in (catalog.policy("Test"), catalog.policy("Other"), catalog.defaults):
        assert policy.aggregate == (Aggregate("daily_by_wiki", ("wiki",)),)
        assert policy.extensions[0].retention_days == 120


def test_built_in_defaults_without_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    catalog = load_catalog(None)
    assert catalog == empty_catalog()
    assert catalog.path is None and catalog.secret_file is None and not catalog.schemas
    policy = catalog.policy("Anything")
    assert (policy.sample_rate, policy.max_rate, policy.retention_days) == (1, 200.0, 90)
    write(tmp_path, '[schema.Test]\nowners = ["qa@example.org"]\n')
    found = load_catalog(None)
    assert found.path == Path("el-monitor.toml") and found.policy("Test").owners


def test_an_explicit_file_that_does_not_exist_is_an_error(tmp_path):
    missing = tmp_path / "nope.toml"
    with pytest.raises(CatalogError, match=f"{missing}: catalog file not found"):
        load_catalog(missing)
    with pytest.raises(CatalogError, match="is a directory"):
        load_catalog(tmp_path)


def test_unowned_lists_known_schemas_without_owners(tmp_path):
    catalog = load_catalog(
        write(
            tmp_path,
            """
            [schema.A]
            owners = ["a@example.org"]
            [schema.B]
            sample_rate = 2
            """,
        )
    )
    assert catalog.unowned(["A", "B", "C", "B"]) == ["B", "C"]
    with_default = load_catalog(write(tmp_path, '[defaults]\nowners = ["x@example.org"]\n'))
    assert with_default.unowned(["A", "B"]) == []


# --- every kind of error ---------------------------------------------------------------------


def test_toml_syntax_error_gives_tomllibs_line_and_column(tmp_path):
    assert problems(tmp_path, "ops = []\n[defaults]\nsample_rate = = 2\n") == [
        "3: TOML syntax error: Invalid value (column 15)"
    ]
    assert problems(tmp_path, "[defaults]\nmax_rate = 1\nmax_rate = 2\n")[0].startswith("3: ")


def test_unknown_keys_everywhere_with_suggestions(tmp_path, registry):
    found = problems(
        tmp_path,
        """
        secrets_file = "x"
        [defaults]
        retention_dayz = 30
        [schema.NavigationTiming]
        owner = ["a@example.org"]
        colour = "blue"
        [[schema.NavigationTiming.aggregate]]
        name = "a"
        dimension = ["wiki"]
        [[schema.NavigationTiming.extensions]]
        until = 2027-01-01
        reasons = "x"
        retention_days = 365
        """,
        registry,
    )
    assert found == [
        "1: secrets_file: unknown key 'secrets_file' (did you mean 'secret_file'?)",
        "3: defaults.retention_dayz: unknown key 'retention_dayz' (did you mean 'retention_days'?)",
        "5: schema.NavigationTiming.owner: unknown key 'owner' (did you mean 'owners'?)",
        "6: schema.NavigationTiming.colour: unknown key 'colour'; expected one of: owners, "
        "sample_rate, sample_key, max_rate, retention_days, keep, aggregate, extensions, "
        "user_fields",
        "7: schema.NavigationTiming.aggregate[0].dimensions: missing: a non-empty list of fields "
        'such as ["wiki"]',
        "9: schema.NavigationTiming.aggregate[0].dimension: unknown key 'dimension' "
        "(did you mean 'dimensions'?)",
        "10: schema.NavigationTiming.extensions[0].reason: missing: a non-empty reason: the "
        "ticket and why the data is kept longer",
        "12: schema.NavigationTiming.extensions[0].reasons: unknown key 'reasons' "
        "(did you mean 'reason'?)",
    ]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("sample_rate = true", "sample_rate: must be an integer >= 1 (keep 1 in N), not true"),
        ("sample_rate = 0", "sample_rate: must be an integer >= 1 (keep 1 in N), not 0"),
        ("sample_rate = 2.5", "sample_rate: must be an integer >= 1 (keep 1 in N), not 2.5"),
        ("max_rate = 0", "max_rate: must be a positive number of events per second, not 0"),
        ("max_rate = false", "max_rate: must be a positive number of events per second, not false"),
        ('max_rate = "fast"', 'max_rate: must be a positive number of events per second, '
         'not "fast"'),
        ("max_rate = nan", "max_rate: must be a positive number of events per second, not nan"),
        ("retention_days = 1.5", "retention_days: must be an integer number of days >= 1, not 1.5"),
        ("retention_days = -3", "retention_days: must be an integer number of days >= 1, not -3"),
        ('owners = "a@example.org"', 'owners: must be a list of strings such as ["a", "b"], not '
         '"a@example.org"'),
        ("keep = [1, 2]", 'keep: must be a list of strings such as ["a", "b"], not [1, 2]'),
        ("sample_key = {a = 1}", 'sample_key: must be a list of strings such as ["a", "b"], '
         "not a table"),
        ("aggregate = 3", "aggregate: must be an array of tables: one "
         "[[schema.Test.aggregate]] per rollup"),
        ('extensions = ["x"]', "extensions: must be an array of tables: one "
         "[[schema.Test.extensions]] per extension"),
    ],
)  # fmt: skip
def test_wrong_types(tmp_path, line, expected):
    assert problems(tmp_path, f"# a comment\n[schema.Test]\n\n{line}\n") == [
        f"4: schema.Test.{expected}"
    ]


def test_accepted_values(tmp_path):
    catalog = load_catalog(
        write(tmp_path, "[defaults]\nsample_rate = 1\nmax_rate = 0.5\nretention_days = 1\n")
    )
    assert catalog.defaults.max_rate == 0.5
    assert load_catalog(write(tmp_path, "[defaults]\nmax_rate = 7\n")).defaults.max_rate == 7.0


@pytest.mark.parametrize(
    "address",
    [
        "no-at-sign",
        "two@@example.org",
        "a b@example.org",
        "Perf Team <perf@example.org>",
        "<script>alert(1)</script>@example.org",
        "perf@example",
        "perf@-example.org",
        "perf@example.org,ops@example.org",
        "",
    ],
)
def test_malformed_addresses(tmp_path, address):
    found = problems(
        tmp_path,
        f"""
        ops = ["ops@example.org", {json.dumps(address)}]
        [defaults]
        owners = [
          "ok@example.org",
          {json.dumps(address)},
        ]
        """,
    )
    message = "is not an email address like team@example.org"
    assert found == [
        f"1: ops: {json.dumps(address)} {message}",
        f"3: defaults.owners: {json.dumps(address)} {message}",
    ]


def test_good_addresses(tmp_path):
    owners = ["perf-team@example.org", "o'brien+alerts@mail.example.co.uk", "X.Y_Z@EXAMPLE.ORG"]
    path = write(tmp_path, f"[defaults]\nowners = {json.dumps(owners)}\n")
    assert load_catalog(path).defaults.owners == tuple(owners)


def test_schema_names(tmp_path, registry):
    found = problems(
        tmp_path,
        """
        [schema.NavigationTimin]
        [schema.navigationtiming]
        [schema."Bad Name"]
        [schema.Totally_Unknown]
        [schema]
        Test = 3
        """,
        registry,
    )
    assert found == [
        "1: schema.NavigationTimin: no schema 'NavigationTimin' in the registry "
        "(did you mean 'NavigationTiming'?)",
        "2: schema.navigationtiming: no schema 'navigationtiming' in the registry "
        "(did you mean 'NavigationTiming'?)",
        '3: schema."Bad Name": schema names are 1 to 63 of A-Z a-z 0-9 _ -',
        "4: schema.Totally_Unknown: no schema 'Totally_Unknown' in the registry",
        "6: schema.Test: must be a table: write [schema.Test] and keys",
    ]
    assert problems(tmp_path, 'schema = "x"\n') == [
        "1: schema: must be tables, one per schema: [schema.<Name>]"
    ]
    assert problems(tmp_path, "defaults = 1\n") == [
        "1: defaults: must be a table: write [defaults] on its own line"
    ]


def test_without_a_registry_names_and_fields_are_only_checked_for_syntax(tmp_path):
    path = write(tmp_path, '[schema.NotInAnyRegistry]\nkeep = ["whatever.nested"]\n')
    assert load_catalog(path).policy("NotInAnyRegistry").keep == ("whatever.nested",)


def test_field_paths(tmp_path, registry):
    found = problems(
        tmp_path,
        """
        [schema.NavigationTiming]
        sample_key = ["pageviewTokn"]
        keep = ["isAnon", "wiki", "webHost", "originCountri", "a..b"]
        user_fields = ["wiki", "performer.user_id"]
        [[schema.NavigationTiming.aggregate]]
        name = "by_country"
        dimensions = ["timestamp", "country"]
        [schema.TemplateWizard]
        user_fields = ["performer.user_id", "performer.userid"]
        """,
        registry,
    )
    assert found == [
        "2: schema.NavigationTiming.sample_key: no field 'pageviewTokn' in any revision of "
        "NavigationTiming (did you mean 'pageviewToken'?)",
        "3: schema.NavigationTiming.keep: no field 'originCountri' in any revision of "
        "NavigationTiming (did you mean 'originCountry'?)",
        '3: schema.NavigationTiming.keep: "a..b" is not a field path: dotted names of '
        "A-Za-z0-9_ such as performer.user_id",
        # capsule fields are for keep and dimensions, not for opt-out or sampling
        "4: schema.NavigationTiming.user_fields: no field 'wiki' in any revision of "
        "NavigationTiming",
        "4: schema.NavigationTiming.user_fields: no field 'performer.user_id' in any revision "
        "of NavigationTiming",
        "7: schema.NavigationTiming.aggregate[0].dimensions: no field 'country' in any revision "
        "of NavigationTiming (did you mean 'originCountry'?)",
        "9: schema.TemplateWizard.user_fields: no field 'performer.userid' in any revision of "
        "TemplateWizard (did you mean 'performer.user_id'?)",
    ]


def test_aggregates(tmp_path):
    found = problems(
        tmp_path,
        """
        [schema.Test]
        [[schema.Test.aggregate]]
        name = "bad name"
        dimensions = []
        period = "week"
        [[schema.Test.aggregate]]
        name = "daily"
        dimensions = ["wiki"]
        [[schema.Test.aggregate]]
        name = "daily"
        dimensions = "wiki"
        """,
    )
    assert found == [
        "3: schema.Test.aggregate[0].name: must be a name of 1 to 40 of A-Z a-z 0-9 _, "
        'not "bad name"',
        "4: schema.Test.aggregate[0].dimensions: must be a non-empty list of fields such as "
        '["wiki"], not []',
        "5: schema.Test.aggregate[0].period: must be one of 'hour', 'day', 'month', not \"week\"",
        "10: schema.Test.aggregate[2].name: a second aggregate named 'daily'",
        "11: schema.Test.aggregate[2].dimensions: must be a non-empty list of fields such as "
        '["wiki"], not "wiki"',
    ]


def test_extensions(tmp_path):
    found = problems(
        tmp_path,
        """
        [schema.Test]
        retention_days = 90

        [[schema.Test.extensions]]
        until = "2027-06-30"
        reason = "  "
        retention_days = 365

        [[schema.Test.extensions]]
        until = 2027-06-30T00:00:00
        reason = "T2"

        [[schema.Test.extensions]]
        until = 2027-06-30
        reason = "T3: shorter is not an extension"
        retention_days = 30
        """,
    )
    date = "a TOML date such as 2027-06-30 (no quotes, no time)"
    assert found == [
        f'5: schema.Test.extensions[0].until: must be {date}, not "2027-06-30"',
        "6: schema.Test.extensions[0].reason: must be a non-empty reason: the ticket and why the "
        'data is kept longer, not "  "',
        "9: schema.Test.extensions[1].retention_days: missing: an integer number of days >= 1",
        f"10: schema.Test.extensions[1].until: must be {date}, not 2027-06-30T00:00:00",
        "16: schema.Test.extensions[2].retention_days: 30 days is not longer than the schema's "
        "retention_days (90); an extension must lengthen it",
    ]


def test_all_problems_are_collected_into_one_error(tmp_path):
    path = write(tmp_path, "[defaults]\nsample_rate = 0\nmax_rate = 0\nretention_days = 0\n")
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    assert len(caught.value.problems) == 3
    assert str(caught.value) == f"{caught.value.problems[0]} (and 2 more)"
    assert isinstance(caught.value, UserError)


def test_line_numbers_survive_multiline_values_and_odd_layouts(tmp_path):
    found = problems(
        tmp_path,
        '''
        ops = [
          "ops@example.org",
        ]
        note_for_humans = """
        [schema.Fake]
        sample_rate = 0
        """
        [ schema . "Test" ]
        keep = [
          ["nested"],
        ]
        schema.Other.sample_rate = 0
        [schema.Third]
        limits = { max_rate = 0 }
        ''',
    )
    assert found == [
        "4: note_for_humans: unknown key 'note_for_humans'; expected one of: secret_file, "
        "optout_file, ops, smtp, alerts, defaults, schema",
        '9: schema.Test.keep: must be a list of strings such as ["a", "b"], not [["nested"]]',
        "12: schema.Test.schema: unknown key 'schema'; expected one of: owners, sample_rate, "
        "sample_key, max_rate, retention_days, keep, aggregate, extensions, user_fields",
        "14: schema.Third.limits: unknown key 'limits'; expected one of: owners, sample_rate, "
        "sample_key, max_rate, retention_days, keep, aggregate, extensions, user_fields",
    ]


# --- the commands ----------------------------------------------------------------------------


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
    }


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

    assert run(*base) == 0
    lines = capsys.readouterr().out.splitlines()
    header = lines[0].split()
    assert header[:2] == ["schema", "revision"] and header[-1] == "sampling"
    assert set(lines[1]) == {"-", " "}
    nav_line = next(line for line in lines if line.startswith("NavigationTiming "))
    assert nav_line.split()[2:] == [
        "perf-team@example.org", "10", "150", "90d", "3", _iso(1795842002), "5", "CHANGED",
    ]  # fmt: skip
    cpu_line = next(line for line in lines if line.startswith("CpuBenchmark "))
    assert cpu_line.split()[2:] == ["-", "1", "200", "90d", "0", "-", "-"]
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


def test_http_registry_cannot_list_schemas_so_names_are_not_refused(tmp_path):
    from el_monitor.schema.registry import HttpRegistry

    cache = tmp_path / "cache"
    (cache / "NavigationTiming").mkdir(parents=True)
    source = SCHEMAS / "NavigationTiming" / "1.7.0.json"
    (cache / "NavigationTiming" / "1.7.0.json").write_bytes(source.read_bytes())
    http = HttpRegistry("http://127.0.0.1:9/schemas", cache)  # never contacted: all cached
    path = write(tmp_path, '[schema.NotCachedYet]\nkeep = ["x"]\n')
    assert load_catalog(path, http).policy("NotCachedYet").keep == ("x",)
    found = problems(tmp_path, '[schema.NavigationTiming]\nkeep = ["originCountri"]\n', http)
    assert found == [
        "2: schema.NavigationTiming.keep: no field 'originCountri' in any revision of "
        "NavigationTiming (did you mean 'originCountry'?)"
    ]
