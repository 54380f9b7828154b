"""`el-monitor schemas review`: the 55 shared schemas reviewed (stable, with findings checked by
hand), a clean schema passing, the catalog-driven checks, --json, exit statuses, and
`el-monitor schemas` still listing as before."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import ROOT, SCHEMAS

from el_monitor.catalog.load import load_catalog
from el_monitor.catalog.model import Catalog, SchemaPolicy
from el_monitor.cli import main as cli_main
from el_monitor.retention.review import CHECKS, Finding, review, select_revisions
from el_monitor.retention.sensitive import name_words, sensitive
from el_monitor.schema.registry import DirectoryRegistry

EXAMPLE = ROOT / "examples" / "el-monitor.toml"
KEYS = ["schema", "revision", "field", "check", "severity", "message"]


def review_cli(capsys, *argv: str) -> tuple[int, str, str]:
    """``el-monitor schemas review ARGV`` in-process: exit status, stdout, stderr."""
    status = cli_main.main(["schemas", "review", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def findings_of(capsys, *argv: str) -> list[dict]:
    status, out, _ = review_cli(capsys, *argv, "--json")
    found = json.loads(out)
    assert status == (1 if found else 0)
    return found


def keyed(found: list[dict]) -> dict[tuple[str, str | None, str], dict]:
    """Findings by (schema, field, check); each key is found once."""
    out = {(f["schema"], f["field"], f["check"]): f for f in found}
    assert len(out) == len(found)
    return out


def schema_file(root: Path, name: str, revision: str, properties: dict) -> None:
    path = root / name / f"{revision}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    schema = {"type": "object", "additionalProperties": False, "properties": properties}
    path.write_text(json.dumps(schema))


def catalog_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "el-monitor.toml"
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


# --- the 55 shared schemas -----------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_findings() -> list[dict]:
    """The example catalog over every shared schema's latest revision (in-process, once)."""
    registry = DirectoryRegistry(SCHEMAS)
    revisions = select_revisions(registry, [])
    assert len(revisions) == 55
    catalog = load_catalog(EXAMPLE, registry)
    return [f.as_json() for f in review(registry, catalog, revisions)]


def test_every_shared_schema_is_reviewed_and_the_output_is_stable(capsys, shared_findings):
    status, text, _ = review_cli(capsys, "--config", str(EXAMPLE), "--schemas", str(SCHEMAS))
    assert status == 1
    lines = text.splitlines()
    headers = [line.split(":")[0] for line in lines if not line.startswith(" ")][:-1]
    assert lines[-1].startswith("55 revisions reviewed: ")
    # Every shared schema gets at least one finding (each has an undeclared identifier, an
    # unbounded string or no owner), so each is a group of the text.
    assert len(headers) == 55 == len({h.split("/")[0] for h in headers})
    assert len(lines) == 55 + len(shared_findings) + 1
    # A second run in another process (another hash seed) says the very same, byte for byte.
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    again = subprocess.run(
        [sys.executable, "-m", "el_monitor.cli", "schemas", "review", "--config", str(EXAMPLE),
         "--schemas", str(SCHEMAS)],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert again.returncode == 1 and again.stdout == text
    assert findings_of(capsys, "--config", str(EXAMPLE), "--schemas", str(SCHEMAS)) == (
        shared_findings
    )


def test_findings_checked_by_hand_on_real_schemas(shared_findings):
    found = keyed(shared_findings)

    def finding(schema: str, field: str | None, check: str) -> dict:
        return found[(schema, field, check)]

    # A search query is free text a person typed, stored in a column without a bound.
    query = finding("SearchSatisfaction", "query", "identifier")
    assert query["severity"] == "error" and "free text" in query["message"]
    assert '"query"' in query["message"] and "user_fields" in query["message"]
    assert finding("SearchSatisfaction", "query", "unbounded-string")["severity"] == "warning"
    # mwSessionId is in user_fields and searchSessionId hashed (the example catalog's `hash`);
    # searchToken is neither and per search (a warning).
    assert ("SearchSatisfaction", "mwSessionId", "identifier") not in found
    assert ("SearchSatisfaction", "searchSessionId", "identifier") not in found
    assert finding("SearchSatisfaction", "searchToken", "identifier")["severity"] == "warning"
    # ServerSideAccountCreation declares userId and token; the user name it also logs is not.
    assert ("ServerSideAccountCreation", "userId", "identifier") not in found
    assert ("ServerSideAccountCreation", "token", "identifier") not in found
    user_name = finding("ServerSideAccountCreation", "userName", "identifier")
    assert user_name["severity"] == "error" and "user or account name" in user_name["message"]
    # A token field of an unconfigured schema; the schema has no owner either.
    token = finding("DesktopWebUIActionsTracking", "token", "identifier")
    assert token["severity"] == "error" and '"token"' in token["message"]
    assert finding("DesktopWebUIActionsTracking", None, "no-owner")["severity"] == "error"
    assert finding("AutoblockIpBlock", "ip", "identifier")["message"].startswith(
        "looks like an IP address"
    )
    # Free text found by name, and by description ("Free-form text").
    assert "free text" in finding("KaiOSAppFeedback", "feedback", "identifier")["message"]
    assert "Free-form" in finding("Test", "OtherMessage", "identifier")["message"]
    # A nested field the catalog declares (performer.user_id) is not a finding.
    assert not [k for k in found if k[0] == "TemplateWizard" and k[1] == "performer.user_id"]
    # app_install_id has a maxLength (a bound) but is a device id.
    assert ("EditAttemptStep", "app_install_id", "unbounded-string") not in found
    assert finding("EditAttemptStep", "app_install_id", "identifier")["severity"] == "error"
    # NavigationTiming samples 1 in 10 and has an owner; PaintTiming, sent on every page
    # view too, keeps every event.
    navigation = {k[1:] for k in found if k[0] == "NavigationTiming"}
    assert (None, "no-sampling") not in navigation and (None, "no-owner") not in navigation
    assert ("pageviewToken", "identifier") in navigation
    assert "every page view" in finding("PaintTiming", None, "no-sampling")["message"]
    # An enum, a boolean or a number never looks like free text or a token.
    assert ("EchoMail", "emailDeliveryMode", "identifier") not in found
    assert ("SpecialMuteSubmit", "emailsAfter", "identifier") not in found
    assert ("SpecialInvestigate", "queryTime", "identifier") not in found


def test_json_shape(shared_findings):
    assert shared_findings
    for finding in shared_findings:
        assert list(finding) == KEYS
        assert finding["check"] in CHECKS and finding["severity"] in ("error", "warning")
        assert isinstance(finding["message"], str) and finding["message"]
        assert finding["field"] is None or isinstance(finding["field"], str)
    order = [Finding(**f).order() for f in shared_findings]
    assert order == sorted(order)


# --- synthetic registries and catalogs -------------------------------------------------------


def test_a_clean_schema_has_no_findings(tmp_path, capsys):
    schema_file(
        tmp_path / "schemas",
        "Clean",
        "1.0.0",
        {
            "action": {"type": "string", "enum": ["open", "close"]},
            "label": {"type": "string", "maxLength": 20},
            "duration": {"type": "integer"},
            "isAnon": {"type": "boolean"},
        },
    )
    config = catalog_file(tmp_path, '[schema.Clean]\nowners = ["team@example.org"]\n')
    argv = ("--config", str(config), "--schemas", str(tmp_path / "schemas"))
    assert review_cli(capsys, *argv) == (0, "1 revision reviewed: no findings\n", "")
    assert findings_of(capsys, *argv) == []


@pytest.fixture
def drift(tmp_path) -> tuple[Path, Path]:
    """Drift 1.9.0 has country; 1.10.0 (the latest, counted as numbers) drops it. The catalog
    keeps an id, rolls up by country, and names no owner."""
    schemas = tmp_path / "schemas"
    common = {"user_id": {"type": "integer"}, "loadTime": {"type": "integer"}}
    country = {"country": {"type": "string", "maxLength": 2}}
    schema_file(schemas, "Drift", "1.9.0", {**common, **country})
    schema_file(schemas, "Drift", "1.10.0", common)
    config = catalog_file(
        tmp_path,
        """
        [schema.Drift]
        keep = ["user_id", "loadTime"]

        [[schema.Drift.aggregate]]
        name = "daily_by_country"
        dimensions = ["wiki", "country"]
        """,
    )
    return schemas, config


def test_catalog_driven_findings(drift, capsys):
    schemas, config = drift
    latest = findings_of(capsys, "--config", str(config), "--schemas", str(schemas), "Drift")
    assert [(f["revision"], f["field"], f["check"], f["severity"]) for f in latest] == [
        ("1.10.0", None, "no-owner", "error"),
        ("1.10.0", "country", "dropped-field", "error"),
        ("1.10.0", "user_id", "kept-identifier", "error"),
    ]
    messages = {f["check"]: f["message"] for f in latest}
    assert "'daily_by_country'" in messages["dropped-field"]
    assert "revision 1.9.0 had it" in messages["dropped-field"]
    assert (
        "survives sanitizing" in messages["kept-identifier"]
        and "90-day" in messages["kept-identifier"]
    )
    older = findings_of(capsys, "--config", str(config), "--schemas", str(schemas), "Drift/1.9.0")
    assert [(f["field"], f["check"]) for f in older] == [
        (None, "no-owner"),
        ("user_id", "kept-identifier"),
    ]
    # Both revisions asked for: grouped, in revision order as counted.
    status, text, _ = review_cli(
        capsys, "--config", str(config), "--schemas", str(schemas), "Drift", "Drift/1.9.0"
    )
    groups = [line for line in text.splitlines() if not line.startswith(" ")]
    assert status == 1 and groups == [
        "Drift/1.9.0: 2 errors, 0 warnings",
        "Drift/1.10.0: 3 errors, 0 warnings",
        "2 revisions reviewed: 5 errors, 0 warnings in 2 of them",
    ]


def test_a_dropped_kept_field_is_a_warning(tmp_path, capsys):
    schemas = tmp_path / "schemas"
    schema_file(schemas, "K", "1", {"skin": {"type": "string", "enum": ["vector"]}})
    schema_file(schemas, "K", "2", {"mode": {"type": "string", "enum": ["a"]}})
    config = catalog_file(tmp_path, '[schema.K]\nowners = ["t@example.org"]\nkeep = ["skin"]\n')
    found = findings_of(capsys, "--config", str(config), "--schemas", str(schemas))
    assert [(f["revision"], f["field"], f["check"], f["severity"]) for f in found] == [
        ("2", "skin", "dropped-field", "warning")
    ]
    assert found[0]["message"].startswith("keep needs this field")


def test_high_volume_by_max_rate_and_what_covers_an_identifier(tmp_path):
    schemas = tmp_path / "schemas"
    properties = {
        "sessionToken": {"type": "string", "maxLength": 32},
        "clientAddress": {"type": "string", "format": "ipv4"},
        "contact": {"type": "string", "format": "email", "maxLength": 100},
        "performer": {"type": "object", "properties": {"name": {"type": "string"}}},
    }
    schema_file(schemas, "Busy", "1", properties)
    registry = DirectoryRegistry(schemas)
    policy = SchemaPolicy(name="Busy", owners=("t@example.org",), max_rate=500.0)
    catalog = Catalog(path=None, defaults=SchemaPolicy(name="*"), schemas={"Busy": policy})
    found = {(f.field, f.check): f for f in review(registry, catalog, [("Busy", "1")])}
    assert set(found) == {
        (None, "no-sampling"),
        ("clientAddress", "identifier"),
        ("clientAddress", "unbounded-string"),
        ("contact", "identifier"),
        ("performer.name", "identifier"),
        ("performer.name", "unbounded-string"),
        ("sessionToken", "identifier"),
    }
    assert "max_rate 500/s is above the default 200/s" in found[(None, "no-sampling")].message
    assert "format is ipv4" in found[("clientAddress", "identifier")].message
    assert "email address" in found[("contact", "identifier")].message
    assert "user or account name" in found[("performer.name", "identifier")].message

    # Declared in user_fields (a whole object counts for what it holds), sampled: only the
    # unbounded strings remain, and a kept but hashed token is no finding either.
    covered = SchemaPolicy(
        name="Busy",
        owners=("t@example.org",),
        max_rate=500.0,
        sample_rate=10,
        keep=("sessionToken",),
        user_fields=("clientAddress", "contact", "performer"),
        hash=("sessionToken",),
    )
    catalog = dataclasses.replace(catalog, schemas={"Busy": covered})
    found = {(f.field, f.check) for f in review(registry, catalog, [("Busy", "1")])}
    assert found == {("clientAddress", "unbounded-string"), ("performer.name", "unbounded-string")}


def test_an_unreadable_revision_is_a_finding(tmp_path, capsys):
    (tmp_path / "Broken").mkdir()
    (tmp_path / "Broken" / "1.json").write_text("{not json")
    found = findings_of(capsys, "--schemas", str(tmp_path))
    assert [(f["check"], f["severity"]) for f in found] == [("unreadable", "error")]
    assert "not valid JSON" in found[0]["message"]


# --- exit statuses and the listing it joins ---------------------------------------------------


@pytest.mark.parametrize(
    ("revision", "says"),
    [
        ("NavigationTimin", "no schema 'NavigationTimin' in the registry (did you mean "
                            "'NavigationTiming'?)"),
        ("NavigationTiming/9.9.9", "no revision '9.9.9' of NavigationTiming in the registry "
                                   "(it has 1.7.0)"),
    ],
)  # fmt: skip
def test_an_unknown_revision_is_a_user_error(capsys, revision, says):
    status, out, err = review_cli(
        capsys, "--config", str(EXAMPLE), "--schemas", str(SCHEMAS), revision
    )
    assert (status, out, err) == (2, "", f"el-monitor: {says}\n")


def test_an_invalid_catalog_is_a_user_error(tmp_path, capsys):
    config = catalog_file(tmp_path, "[schema.NavigationTiming]\nkeep = ['nope']\n")
    status, out, err = review_cli(capsys, "--config", str(config), "--schemas", str(SCHEMAS))
    assert status == 2 and out == ""
    assert err.startswith(f"{config}:2: schema.NavigationTiming.keep: no field 'nope'")


def test_review_needs_schemas_and_schemas_still_does_too(capsys):
    with pytest.raises(SystemExit) as review_exit:
        cli_main.main(["schemas", "review"])
    with pytest.raises(SystemExit) as listing_exit:
        cli_main.main(["schemas"])
    assert review_exit.value.code == listing_exit.value.code == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == "el-monitor schemas: error: the following arguments are required: --schemas"
    assert (
        "el-monitor schemas review: error: the following arguments are required: --schemas" in err
    )
    assert "usage: el-monitor schemas [-h] [--config FILE] --schemas DIR|URL" in err[-3]


def test_the_listing_still_lists_every_revision(capsys):
    assert cli_main.main(["schemas", "--config", str(EXAMPLE), "--schemas", str(SCHEMAS)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "schema",
        "revision",
        "owners",
        "1",
        "in",
        "N",
        "max/s",
        "retention",
        "then",
    ]
    assert len(lines) == 2 + 55


# --- the name heuristics on their own ---------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "spec", "kind"),
    [
        ("performer.userID", {"type": "integer"}, "user-id"),
        ("recipientUserId", {"type": ["integer", "null"]}, "user-id"),
        ("mwSessionId", {"type": "string"}, "session-token"),
        ("pageviewToken", {"type": "string"}, "page-token"),
        ("web_pageview_id", {"type": "string", "maxLength": 20}, "page-token"),
        ("user.name", {"type": "string"}, "user-name"),
        ("textUser", {"type": "string"}, "free-text"),  # text entered, not a user's name
        ("surveyResponseFreeText", {"type": "object"}, "free-text"),  # free-form: JSON text
        ("x", {"type": "string", "description": "Feedback written by the user"}, "free-text"),
        ("target", {"type": "string", "format": "uri"}, "url-title"),
        ("returnToQuery", {"type": "string"}, "url-title"),
        ("userAgent", {"type": "string"}, "user-agent"),
        ("app_id", {"type": "string"}, "device-id"),
        ("token", {"type": "string", "enum": ["a", "b"]}, None),  # an enum holds no token
        ("emailsAfter", {"type": "boolean"}, None),
        ("queryTime", {"type": "integer"}, None),  # a number is no search query
        ("skip", {"type": "string"}, None),  # words, not letters: no "ip" in it
        ("page_id", {"type": "integer"}, None),
        ("performer", {"type": "object", "properties": {"x": {}}}, None),  # judged inside
    ],
)
def test_what_looks_like_personal_data(path, spec, kind):
    found = sensitive(path, spec)
    assert (found.kind.id if found else None) == kind


def test_name_words():
    assert name_words("performer.userID") == ["performer", "user", "id"]
    assert name_words("XMLHttpRequest_id2") == ["xml", "http", "request", "id", "2"]
