"""What a schema's policy may hold: defaults filling what a schema omits, values of the
right type, owners' addresses, rollups (aggregate) and retention extensions; unowned schemas."""

from __future__ import annotations

import datetime
import json

import pytest

from el_monitor.catalog.load import load_catalog
from el_monitor.catalog.model import Aggregate, Extension, SchemaPolicy

from .support import problems, write


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


def test_aggregate_percentiles_are_numeric_fields_of_the_schema(tmp_path, registry):
    found = problems(
        tmp_path,
        """
        [schema.NavigationTiming]
        [[schema.NavigationTiming.aggregate]]
        name = "timing"
        dimensions = ["skin"]
        percentiles = ["responseStrat", "skin", "isAnon", "originCountry", "wiki", "gaps",
                       "gaps", "a..b", "deviceMemory"]
        [[schema.NavigationTiming.aggregate]]
        name = "bad_list"
        dimensions = ["wiki"]
        percentiles = "responseStart"
        """,
        registry,
    )
    where = "5: schema.NavigationTiming.aggregate[0].percentiles: "
    need = "percentiles need an integer or number field"
    assert found == [
        f"{where}no field 'responseStrat' in any revision of NavigationTiming "
        "(did you mean 'responseStart'?)",
        f"{where}'skin' is a dimension: a field is grouped by or measured, not both",
        f"{where}'isAnon' is boolean of NavigationTiming: {need}",
        f"{where}'originCountry' is string of NavigationTiming: {need}",
        f"{where}'wiki' is a capsule field, not a number",
        f"{where}'gaps' is listed twice",
        f'{where}"a..b" is not a field path: dotted names of A-Za-z0-9_',
        "10: schema.NavigationTiming.aggregate[1].percentiles: must be a list of strings such "
        'as ["a", "b"], not "responseStart"',
    ]
    fine = write(
        tmp_path,
        """
        [[schema.NavigationTiming.aggregate]]
        name = "timing"
        dimensions = ["wiki"]
        period = "hour"
        percentiles = ["responseStart", "deviceMemory"]
        """,
    )
    rule = load_catalog(fine, registry).policy("NavigationTiming").aggregate[0]
    assert rule == Aggregate("timing", ("wiki",), "hour", ("responseStart", "deviceMemory"))


def test_aggregate_percentiles_without_a_registry_and_too_long(tmp_path):
    long = "x" * 55
    found = problems(
        tmp_path,
        f"""
        [[schema.Test.aggregate]]
        name = "ok"
        dimensions = ["wiki"]
        percentiles = ["any.nested", "{long}"]
        """,
    )
    assert found == [
        f"4: schema.Test.aggregate[0].percentiles: '{long}': rollup column "
        f"'event_{long}_count' would be longer than 64 characters"
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


def test_hash_fields_are_checked_like_keep_and_never_also_kept(tmp_path, registry):
    catalog = load_catalog(
        write(
            tmp_path,
            """
            [schema.ServerSideAccountCreation]
            keep = ["isSelfMade", "campaign"]
            hash = ["token"]
            """,
        ),
        registry,
    )
    assert catalog.policy("ServerSideAccountCreation").hash == ("token",)
    assert catalog.policy("Unlisted").hash == ()
    found = problems(
        tmp_path,
        """
        [defaults]
        keep = ["wiki", "isApi"]
        [schema.ServerSideAccountCreation]
        hash = ["tokn", "isApi", "wiki"]
        [schema.EditAttemptStep]
        keep = ["action", "session_token"]
        hash = ["session_token"]
        """,
        registry,
    )
    assert found == [
        "4: schema.ServerSideAccountCreation.hash: no field 'tokn' in any revision of "
        "ServerSideAccountCreation (did you mean 'token'?)",
        # a capsule field is no token to hash: wiki is always kept
        "4: schema.ServerSideAccountCreation.hash: no field 'wiki' in any revision of "
        "ServerSideAccountCreation",
        # the default keep list counts: isApi is kept there
        "4: schema.ServerSideAccountCreation.hash: 'isApi' in both keep and hash: a field is "
        "kept as it is or hashed, not both",
        "7: schema.EditAttemptStep.hash: 'session_token' in both keep and hash: a field is "
        "kept as it is or hashed, not both",
    ]
