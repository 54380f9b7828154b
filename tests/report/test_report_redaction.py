"""Redaction of the report's (and ``el-monitor errors``') examples and messages: values go by
the schema's fields and the catalog's user fields; numbers and the validator's own words stay.

The events are SearchSatisfaction's, validated by the real schema of ``examples/schemas`` with
the forwarder's own compiled validator, so each message is what the forwarder records.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from el_monitor.catalog.load import load_catalog
from el_monitor.mail.redact import REDACTED, scrub
from el_monitor.report.collect import error_summary, schema_lookup
from el_monitor.report.owner_errors import logged_error, recent_errors
from el_monitor.schema.registry import DirectoryRegistry
from el_monitor.store import open_store

from .support import DAY, SECRETS, USER_AGENT, report_from

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "schemas"
QUERY = "where does jane doe live"
SESSION = "ee4f8d334a450a0fe63e"  # mwSessionId: the catalog's user field
USER_ID = 4815162342
TOKEN = "4cqr8vzf5t0g1boh1k9cckz2c"
IP = "198.51.100.23"
IPV6 = "2001:db8::7"
BIG = 18014398509481984  # 2**54: past the schema's maximum for an integer


def registry_lookup():
    return schema_lookup(DirectoryRegistry(EXAMPLES))


def search_event(**changes: object) -> dict:
    event = {
        "action": "searchResultPage",
        "articleId": 4,
        "mwSessionId": SESSION,
        "pageViewId": "9b8c9ab1b52c21e966edk8j4xj6f",
        "position": 0,
        "query": QUERY,
        "sampleMultiplier": 1,
        "scroll": False,
        "searchSessionId": "637f1345d71834b06463k8j4of7t",
        "searchToken": TOKEN,
        "source": "fulltext",
        "uniqueId": "cb271b4b1ec0c5c83e84k8j4xj6o",
        "userId": USER_ID,
        "note": f"from {IP} and {IPV6}",
    }
    event.update(changes)
    return {
        "schema": "SearchSatisfaction",
        "revision": "1.5.0",
        "wiki": "enwiki",
        "webHost": "en.wikipedia.org",
        "userAgent": USER_AGENT,
        "recvFrom": "cp3001",
        "seqId": 12345,
        "event": event,
    }


def validator_message(capsule: dict) -> str:
    """What the forwarder records for this capsule: its compiled validator's message."""
    compiled = DirectoryRegistry(EXAMPLES).get("SearchSatisfaction", "1.5.0")
    assert compiled is not None
    declared = {k: v for k, v in capsule["event"].items() if k not in ("userId", "note")}
    found = compiled.validate(declared)
    assert found is not None, "the event must be invalid"
    return found.message


def summary(capsule: dict, message: str, user_fields=("mwSessionId", "userId")):
    return error_summary(
        "validation", "$", 1, message, json.dumps(capsule), user_fields, registry_lookup()
    )


def assert_private_data_gone(*texts: str) -> None:
    for text in texts:
        for secret in (QUERY, SESSION, str(USER_ID), TOKEN, IP, IPV6, "Mozilla", "cp3001"):
            assert secret not in text, (secret, text)


def test_numbers_and_the_limit_stay() -> None:
    """``9007199254740992 is greater than the maximum of 9007199254740991``: both numbers
    stay; they were ``[redacted] ... [redacted]`` and ``1.[redacted]+16``."""
    capsule = search_event(position=BIG, sampleMultiplier=1.8014398509481984e16)
    message = validator_message(capsule)
    assert message.startswith(f"{BIG} is greater than the maximum of ")
    shown = summary(capsule, message)
    assert shown.message == message and REDACTED not in shown.message
    event = json.loads(shown.example)["event"]
    assert event["position"] == BIG and event["sampleMultiplier"] == 1.8014398509481984e16
    assert "1.8014398509481984e+16" in shown.example
    assert scrub("1.8014398509481984e+16 is too big") == "1.8014398509481984e+16 is too big"
    assert_private_data_gone(shown.message, shown.example)


def test_free_text_and_user_fields_go_enum_values_stay() -> None:
    capsule = search_event(action="hover-x")
    message = validator_message(capsule)
    assert message.startswith("'hover-x' is not one of")  # the validator's own words
    shown = summary(capsule, message)
    assert shown.message == message  # an enum field's wrong value is what owners need
    out = json.loads(shown.example)
    event = out["event"]
    assert event["query"] == REDACTED  # free text
    assert event["mwSessionId"] == event["userId"] == REDACTED  # the catalog's user fields
    assert event["searchToken"] == event["note"] == REDACTED  # a token; an undeclared string
    assert event["action"] == "hover-x" and event["source"] == "fulltext"  # enums
    assert event["articleId"] == 4 and event["sampleMultiplier"] == 1  # numbers
    assert out["userAgent"] == out["recvFrom"] == out["seqId"] == REDACTED
    assert out["wiki"] == "enwiki" and out["webHost"] == "en.wikipedia.org"
    assert_private_data_gone(shown.message, shown.example)


def test_a_free_text_value_quoted_by_the_message_is_struck() -> None:
    """The query in an enum field, the user id where a string belongs: the message quotes
    them, and the example says they are free text or a user field."""
    capsule = search_event(query=12)  # a number in a string field: the message is harmless
    assert summary(capsule, validator_message(capsule)).message == validator_message(capsule)
    message = f"{QUERY!r} is not one of ['a', 'b']"
    assert summary(search_event(), message).message == f"{REDACTED} is not one of ['a', 'b']"
    message = f"{USER_ID} is not of type 'string'"
    assert summary(search_event(), message).message == f"{REDACTED} is not of type 'string'"
    long = "x" * 70 + " private"
    message = f"{long[:57]!r}... is too long"  # the validator shows long strings cut
    shown = summary(search_event(query=long), message)
    assert shown.message == f"{REDACTED}... is too long"


def test_without_a_schema_every_event_string_goes_and_numbers_stay() -> None:
    capsule = search_event(position=BIG)
    shown = error_summary(
        "validation", "$.position", 1, validator_message(capsule), json.dumps(capsule), (), None
    )
    event = json.loads(shown.example)["event"]
    assert event["action"] == event["source"] == event["query"] == REDACTED
    assert event["position"] == BIG and str(BIG) in shown.message
    assert_private_data_gone(shown.example)


def test_without_an_example_a_quoted_value_is_struck() -> None:
    message = f"{QUERY!r} is not of type 'integer'"
    shown = error_summary("validation", "$.position", 1, message, None, (), registry_lookup())
    assert shown.message == f"{REDACTED} is not of type 'integer'" and shown.example is None
    kept = error_summary("validation", "$", 1, "unexpected property 'note'", None, ())
    assert kept.message == "unexpected property 'note'"


def test_the_report_and_errors_redact_alike(sqlite_url: str, catalog_file: Path) -> None:
    """One implementation: ``el-monitor errors`` shows each group exactly as the report."""
    report = report_from(sqlite_url, catalog_file)
    shown = {(s.name, e.code, e.path): e for s in report.schemas for e in s.errors}
    store = open_store(sqlite_url)
    try:
        groups = recent_errors(
            store,
            load_catalog(catalog_file),
            datetime.datetime(DAY.year, DAY.month, DAY.day, tzinfo=datetime.UTC),
            None,
            50,
            schema_lookup(DirectoryRegistry(catalog_file.parent / "schemas")),
        )
    finally:
        store.close()
    compared = 0
    for group in groups:
        mine = shown.get((group.schema, group.code, group.path))
        if mine is not None:
            assert (group.message, group.example) == (mine.message, mine.example)
            compared += 1
    assert compared >= 3
    for text in [g.message for g in groups] + [g.example or "" for g in groups]:
        for secret in SECRETS:
            assert secret not in text, secret


def test_a_logged_error_is_redacted_as_in_the_report() -> None:
    capsule = search_event(action="hover-x")
    message = validator_message(capsule)
    record = {
        "rawEvent": json.dumps(capsule),
        "message": message,
        "code": "validation",
        "schema": "SearchSatisfaction",
        "revision": "1.5.0",
    }
    catalog = load_catalog(EXAMPLES.parent / "el-monitor.toml")  # mwSessionId: a user field
    logged = logged_error(record, catalog, "2026-12-04T00:00:00Z", registry_lookup())
    assert logged is not None
    same = error_summary(
        "validation", "", 1, message, record["rawEvent"], ("mwSessionId",), registry_lookup()
    )
    assert (logged.message, logged.example) == (same.message, same.example)
    assert_private_data_gone(logged.message, logged.example or "")
