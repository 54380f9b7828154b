"""Which logged records and stored examples are an opted-out user's: every shape the forwarder
keeps events in as text, whole or cut short, and nobody else's."""

from __future__ import annotations

import json
from urllib.parse import quote_plus

import orjson
import pytest

from el_monitor.event.rawlog import raw_record
from el_monitor.optout.records import RecordMatcher

from .support import SECRET, TOKEN, USER, capsule, catalog, reference

CATALOG = catalog(Edit=("performer.user_id", "token"))
HASHES = frozenset(
    {reference(SECRET, "enwiki", "user-id", USER), reference(SECRET, "dewiki", "token", TOKEN)}
)


def texts(event: dict, wiki: str = "enwiki") -> list[str]:
    """One capsule as each record shape holds it."""
    body = json.dumps(capsule("Edit", event, wiki))
    varnish = f"?{quote_plus(body)}; cp1 7 2026-11-28T05:00:00 - Mozilla/5.0"
    return [
        body,
        varnish,
        f"42 EventLogging {body}",
        body[: body.index('"event"') + 60] + "…[truncated]",  # cut short: no longer JSON
        varnish[: varnish.index("event") + 80],
    ]


THEIRS = [
    {"performer": {"user_id": int(USER)}, "action": "save" + "x" * 40},
    {"performer": {"user_id": USER}, "action": "save" + "x" * 40},
]


@pytest.fixture
def matcher() -> RecordMatcher:
    return RecordMatcher(SECRET, HASHES, CATALOG)


def test_their_records_are_found_in_every_shape(matcher):
    for event in THEIRS:
        for text in texts(event):
            assert matcher.matches(text), text
            for line in (
                text.encode(),
                orjson.dumps(text),  # a log line holding the raw text as a JSON string
                orjson.dumps({"rawEvent": text, "code": "parse", "schema": None}),
            ):
                assert matcher.log_line_matches(line), line
    token = texts({"token": TOKEN, "action": "save"}, wiki="dewiki")
    assert all(matcher.matches(text) for text in token)


@pytest.mark.parametrize(
    ("event", "wiki"),
    [
        ({"performer": {"user_id": int(USER) + 1}, "action": "save"}, "enwiki"),  # another id
        ({"performer": {"user_id": int(USER)}, "action": "save"}, "dewiki"),  # another wiki
        ({"token": TOKEN, "action": "save"}, "enwiki"),  # their token is on dewiki only
        ({"other": USER}, "enwiki"),  # not a user field
    ],
)
def test_nobody_elses_records_match(matcher, event, wiki):
    for text in texts(event, wiki):
        assert not matcher.matches(text), text
        assert not matcher.log_line_matches(text.encode())


def test_a_stored_example_names_its_schema_beside_it(matcher):
    cut = '{"wiki": "enwiki", "event": {"performer": {"user_id": ' + USER + ', "act'
    assert not matcher.matches(cut)  # which schema's user fields? unknown
    assert matcher.matches(cut, "Edit")
    assert not matcher.matches(cut, "Other")


def test_an_all_log_record_of_a_line_that_is_not_utf8_is_found(matcher):
    """The all log keeps such a line as ``{"base64": …}``: the line inside is what is judged."""
    for event in THEIRS:
        line = texts(event)[1].encode() + b" \xff\xfe"  # a varnish line with stray bytes
        record = raw_record(line)
        assert b"base64" in record
        assert matcher.log_line_matches(record), record
    ours = texts({"performer": {"user_id": 7}, "action": "save"})[1].encode() + b" \xff"
    assert not matcher.log_line_matches(raw_record(ours))
