"""One capsule's retention: which stage applies, what sanitizing keeps and hashes (nested
paths, a path kept whole with a hashed field inside, non-string and null values), and that a
sanitized capsule sanitized again is unchanged."""

from __future__ import annotations

import datetime

import pytest

from el_monitor.retention.records import MARKER, SchemaRules, Stage, sanitize

T = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
DAY = datetime.timedelta(days=1)


def fake_hash(text: str) -> str:
    return f"H({text})"


def capsule(event: dict) -> dict:
    return {
        "schema": "S", "revision": "1", "wiki": "enwiki", "uuid": "ab" * 16,
        "timestamp": 1767225600, "webHost": "w.example", "userAgent": "UA", "topic": "t",
        "event": event,
    }  # fmt: skip


def test_the_furthest_stage_past_applies() -> None:
    normal, extended = Stage(T, keep=("a", "b")), Stage(T - 90 * DAY, keep=("a",))
    rules = SchemaRules((normal, extended))
    assert rules.stage_at(T) is None
    assert rules.stage_at(T - DAY) is normal
    assert rules.stage_at(T - 91 * DAY) is extended
    assert SchemaRules(()).stage_at(T - 1000 * DAY) is None
    with pytest.raises(ValueError, match="aware"):
        Stage(datetime.datetime(2026, 1, 1))


def test_sanitizing_keeps_the_allowlist_and_hashes_in_place() -> None:
    event = {
        "performer": {"user_id": 42, "edit_count": 3, "token": "tok", "name": "Alice"},
        "page": {"id": 7, "title": "Secret"},
        "session": None,
        "free": "query text",
    }
    stage = Stage(
        T,
        keep=("page", "performer.edit_count", "webHost"),
        hash=("page.title", "performer.user_id", "session", "missing.field"),
    )
    out = sanitize(capsule(event), stage, fake_hash)
    assert out == {
        "schema": "S", "revision": "1", "wiki": "enwiki", "uuid": "ab" * 16,
        "timestamp": 1767225600, "webHost": "w.example",
        "event": {
            "performer": {"user_id": "H(42)", "edit_count": 3},
            "page": {"id": 7, "title": "H(Secret)"},
            "session": None,
        },
        MARKER: ["missing.field", "page.title", "performer.user_id", "session"],
    }  # fmt: skip
    assert sanitize(out, stage, fake_hash) == out  # hashes are never hashed again
    # A later stage keeping less drops fields, hashing only what was not hashed before.
    later = Stage(T - 90 * DAY, keep=("page.id",), hash=("performer.user_id", "free"))
    assert sanitize(out, later, fake_hash) == {
        **{k: out[k] for k in ("schema", "revision", "wiki", "uuid", "timestamp")},
        "event": {"performer": {"user_id": "H(42)"}, "page": {"id": 7}},
        MARKER: ["free", "missing.field", "page.title", "performer.user_id", "session"],
    }


def test_nothing_kept_of_the_event_still_leaves_a_capsule() -> None:
    out = sanitize(capsule({"x": 1}), Stage(T, keep=("webHost",)), fake_hash)
    assert out["event"] == {} and "userAgent" not in out and "topic" not in out
