"""Nothing private or executable leaves in a notification: markup planted in a plugin's output
is escaped and private data (ids, tokens, IPs, user agents) redacted; the redaction helpers
(``el_monitor.mail.redact``), which the daily report shares, on their own.
"""

from __future__ import annotations

import json

from el_monitor.catalog.load import load_catalog
from el_monitor.mail.redact import NESTED, REDACTED, redact_event, safe_text, scrub
from el_monitor.notify.dispatch import notify

from .support import Clock, parts, problem


def test_planted_markup_is_escaped_and_private_data_redacted(catalog_path, inbox):
    planted = (
        "EL_INVALID CRITICAL - EditAttemptStep 34% invalid (most: validation at $.action "
        "<script>alert('x')</script> user_id=4242 token=Zq81ab93kd02mf83nd92ke81 from "
        "203.0.113.7 and 2001:db8::7 userAgent: Mozilla/5.0 (X11; Linux x86_64) "
        "Firefox/120.0); Nav<script>Evil</script> 9% invalid"
    )
    perfdata = (
        "EditAttemptStep=34%;5;20;0;100 'Nav<script>Evil</script>'=9%;5;20;0;100 "
        "sess_8f14e45fceea167a5a36dedd4bea2543=1"
    )
    notify(
        problem(service="el-invalid", output=planted, perfdata=perfdata),
        load_catalog(catalog_path),
        clock=Clock(),
    )
    [(rcpt, message)] = inbox.take()
    assert rcpt == ["editing-team@example.org"]  # junk labels are not taken for schemas
    assert message["Subject"] == "[el-monitor] PROBLEM: CRITICAL el-invalid — EditAttemptStep"
    text, html, _ = parts(message)
    assert "<script>" not in html and "&lt;script&gt;alert(" in html
    assert "Nav&lt;script&gt;Evil&lt;/script&gt;" in html
    whole = message.as_string() + text + html
    for secret in (
        "4242",
        "Zq81ab93kd02mf83nd92ke81",
        "203.0.113.7",
        "2001:db8::7",
        "Mozilla",
        "Firefox",
        "8f14e45fceea167a5a36dedd4bea2543",
    ):
        assert secret not in whole, secret
    assert f"user_id={REDACTED}" in text


def test_redact_event_and_safe_text():
    capsule = {
        "schema": "TemplateWizard",
        "revision": 1,
        "wiki": "enwiki",
        "userAgent": "Mozilla/5.0",
        "recvFrom": "cp1001",
        "seqId": 7,
        "clientIp": "198.51.100.4",
        "event": {
            "performer": {"user_id": 42, "edit_count": 3},
            "session_token": "abc",
            "note": "from 198.51.100.9 <b>hi</b>",
            "action": "save",
        },
    }
    schema = {
        "properties": {
            "action": {"type": "string", "enum": ["save"]},
            "kind": {"type": "integer"},
            "note": {"type": "string"},
        }
    }
    capsule["event"]["kind"] = "<b>from 198.51.100.9</b>"  # a string in a number field: shown

    def lookup(name: str, revision: str) -> dict | None:
        return schema if (name, revision) == ("TemplateWizard", "1") else None

    out = json.loads(redact_event(json.dumps(capsule), ["performer.edit_count"], lookup))
    assert out["userAgent"] == out["recvFrom"] == out["seqId"] == out["clientIp"] == REDACTED
    assert out["event"]["performer"] == {"user_id": REDACTED, "edit_count": REDACTED}
    assert out["event"]["session_token"] == REDACTED
    assert out["event"]["note"] == REDACTED  # free text
    assert out["event"]["kind"] == f"<b>from {REDACTED}</b>"  # escaping is the template's
    assert out["event"]["action"] == "save" and out["wiki"] == "enwiki"
    unknown = json.loads(redact_event(json.dumps(capsule)))  # no schema: every string goes
    assert unknown["event"]["action"] == REDACTED and unknown["wiki"] == "enwiki"
    assert redact_event("{broken user_id=1", ["x"]) == "[unparseable event, 17 bytes]"
    raw = "?%7B%22event%22%3A%7B%22userId%22%3A5%7D%7D; cp1 12 2020-01-01 198.51.100.4 Mozilla/5"
    assert redact_event(raw) == '{"event":{"userId":"[redacted]"}}'
    assert safe_text("a\nb\x00c " + "x" * 50, 10) == "a bc xxxx…"
    # Examples from the wire nest as deep as they like: cut, never a RecursionError.
    assert redact_event("[" * 4096).startswith("[unparseable event")
    deep = json.loads(redact_event('{"event": {"a": ' + "[" * 900 + "]" * 900 + "}}"))
    assert json.dumps(deep).count("[") < 20 and NESTED in json.dumps(deep)
    assert scrub("seen 10.0.0.1 at 13:55:10") == f"seen {REDACTED} at 13:55:10"
