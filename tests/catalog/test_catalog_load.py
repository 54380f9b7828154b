"""Loading the catalog: the example, the built-in defaults, a missing file, TOML syntax,
unknown keys, line numbers, every problem in one error, and schema names and field paths
checked against the registry (a directory, or HTTP, which cannot list its schemas)."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from helpers import SCHEMAS

from el_monitor.catalog.load import load_catalog
from el_monitor.catalog.model import Aggregate, CatalogError, empty_catalog
from el_monitor.errors import UserError

from .support import EXAMPLE, problems, write


def test_example_catalog_is_valid_against_the_bundled_schemas(registry):
    catalog = load_catalog(EXAMPLE, registry)
    assert {"NavigationTiming", "ServerSideAccountCreation"} <= set(catalog.schemas)
    nav = catalog.policy("NavigationTiming")
    assert nav.sample_rate == 10 and nav.sample_key == ("pageviewToken",)
    timing = nav.aggregate[0]
    assert (timing.name, timing.dimensions, timing.period) == ("daily_timing", ("wiki",), "day")
    assert {"responseStart", "loadEventEnd", "firstContentfulPaint"} <= set(timing.percentiles)
    assert catalog.policy("ServerSideAccountCreation").aggregate == (
        Aggregate("daily_signups", ("wiki", "isSelfMade", "campaign", "displayMobile"), "day"),
    )
    assert nav.extensions[0].until == datetime.date(2027, 6, 30)
    assert catalog.policy("ServerSideAccountCreation").user_fields == ("userId", "token")
    assert catalog.policy("TemplateWizard").user_fields == ("performer.user_id", "session_token")
    assert catalog.ops == ("ops@example.org",)


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
        "sample_rate, sample_key, max_rate, retention_days, keep, hash, aggregate, extensions, "
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
        "optout_file, ops, smtp, alerts, backup, defaults, schema",
        '9: schema.Test.keep: must be a list of strings such as ["a", "b"], not [["nested"]]',
        "12: schema.Test.schema: unknown key 'schema'; expected one of: owners, sample_rate, "
        "sample_key, max_rate, retention_days, keep, hash, aggregate, extensions, user_fields",
        "14: schema.Third.limits: unknown key 'limits'; expected one of: owners, sample_rate, "
        "sample_key, max_rate, retention_days, keep, hash, aggregate, extensions, user_fields",
    ]


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
