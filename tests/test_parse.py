"""Parser vectors: JSON lines, EventLogging format strings, the uuid5 rule, timestamps."""

from __future__ import annotations

import json
import random
import uuid
from urllib.parse import quote_plus

import pytest

from el_monitor.errors import UserError
from el_monitor.event.capsule import CapsuleError, event_uuid, mediawiki_timestamp, parse_timestamp
from el_monitor.event.formats import ParseError, compile_format, make_line_redactor, make_parser

VARNISH = "%q %{recvFrom}s %{seqId}d %t %h %{userAgent}i"
SERVER = "%{seqId}d EventLogging %j"
CAPSULE = {
    "event": {"isAnon": True},
    "revision": "1.7.0",
    "schema": "NavigationTiming",
    "wiki": "enwiki",
    "webHost": "en.wikipedia.org",
}


def qson(obj: dict) -> str:
    return "?" + quote_plus(json.dumps(obj)) + ";"


def test_uuid5_rule_matches_eventlogging():
    expected = uuid.uuid5(
        uuid.NAMESPACE_URL, "event://cp1052.eqiad.wmnet/?seqId=1234&timestamp=1795842000"
    ).hex
    assert event_uuid("cp1052.eqiad.wmnet", 1234, 1795842000) == expected
    # %(timestamp).10s: only the first ten characters of the timestamp take part
    assert event_uuid("h", 1, 1795842000123) == event_uuid("h", 1, 1795842000)


def test_varnish_client_line():
    parse = make_parser(VARNISH, "me")
    line = (
        f"{qson(CAPSULE)} cp1052.eqiad.wmnet 1234 2026-11-28T05:00:00 10.1.2.3 "
        "Mozilla/5.0 (X11; Linux x86_64)"
    )
    capsule = parse(line.encode(), None)
    assert capsule["recvFrom"] == "cp1052.eqiad.wmnet"
    assert capsule["seqId"] == 1234
    assert capsule["timestamp"] == 1795842000
    assert capsule["userAgent"] == "Mozilla/5.0 (X11; Linux x86_64)"
    assert capsule["uuid"] == event_uuid("cp1052.eqiad.wmnet", 1234, 1795842000)
    assert capsule["event"] == {"isAnon": True}
    assert "10.1.2.3" not in json.dumps(capsule)  # the client IP is never kept


def test_server_side_line_and_spaces_match_runs_of_whitespace():
    parse = make_parser(SERVER, "me")
    body = dict(CAPSULE, timestamp=1795842000)
    capsule = parse(f"42   EventLogging\t{json.dumps(body, separators=(',', ':'))}".encode(), None)
    assert capsule["seqId"] == 42 and capsule["recvFrom"] == "me"
    assert capsule["uuid"] == event_uuid("me", 42, 1795842000)


def test_a_sequenced_line_keeps_eventloggings_uuid_over_a_transport_fallback():
    """A stream's fallback uuid (raw lines from JetStream) yields to the seqId's, which is the
    same whoever forwards the line; a line without seqId takes the fallback."""
    fallback = {"uuid": "f" * 32}
    sequenced = make_parser(SERVER, "me")
    body = json.dumps(dict(CAPSULE, timestamp=1795842000), separators=(",", ":"))
    capsule = sequenced(f"42 EventLogging {body}".encode(), fallback)
    assert capsule["uuid"] == event_uuid("me", 42, 1795842000)
    capsule = make_parser("json", "me")(json.dumps(CAPSULE).encode(), fallback)
    assert capsule["uuid"] == "f" * 32
    capsule = sequenced(f"42 EventLogging {body}".encode(), {"recvFrom": "elsewhere"})
    assert capsule["uuid"] == event_uuid("elsewhere", 42, 1795842000)  # no uuid in defaults


def test_query_string_decoding_keeps_utf8_and_plus_signs():
    obj = dict(CAPSULE, event={"isAnon": False, "skin": "vector+2022 ünïcode"})
    capsule = make_parser("%q", "me")(qson(obj).encode(), None)
    assert capsule["event"]["skin"] == "vector+2022 ünïcode"


def test_json_line_gets_uuid_timestamp_and_recvfrom_filled():
    parse = make_parser("json", "fwd1")
    line = json.dumps(CAPSULE).encode()
    first, again = parse(line, None), parse(line, None)
    assert first["recvFrom"] == "fwd1"
    assert len(first["uuid"]) == 32 and first["uuid"] == again["uuid"]  # replay-stable
    assert abs(first["timestamp"] - parse_timestamp(mediawiki_timestamp(first["timestamp"]))) == 0


def test_json_line_keeps_its_own_values_over_transport_defaults():
    parse = make_parser("json", "fwd1")
    line = json.dumps(dict(CAPSULE, uuid="A" * 32, timestamp="2026-11-28T05:00:00Z")).encode()
    capsule = parse(
        line, {"userAgent": "UA", "recvFrom": "beacon", "timestamp": 1, "uuid": "b" * 32}
    )
    assert capsule["uuid"] == "a" * 32
    assert capsule["timestamp"] == 1795842000
    assert capsule["userAgent"] == "UA" and capsule["recvFrom"] == "beacon"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-28T05:00:00", 1795842000),
        ("2026-11-28T05:00:00Z", 1795842000),
        ("2026-11-28T06:00:00+01:00", 1795842000),
        ("2026-11-28T05:00:00.123Z", 1795842000),
        ("28/Nov/2026:05:00:00 +0000", 1795842000),
        ("20261128050000", 1795842000),
        ("1795842000", 1795842000),
        (1795842000, 1795842000),
        (1795842000.9, 1795842000),
    ],
)
def test_timestamps_are_read_as_utc(text, expected):
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize("bad", ["yesterday", "", True, None, [1], 5, "99999999999999"])
def test_bad_timestamps(bad):
    with pytest.raises(CapsuleError):
        parse_timestamp(bad)


def test_mediawiki_timestamp():
    assert mediawiki_timestamp(1795842000) == "20261128050000"


def test_mediawiki_timestamp_agrees_with_strftime_across_days_and_leap_years():
    import random
    import time

    picks = random.Random(7).sample(range(946684800, 4102444800), 5000)
    edges = [951782399, 951782400, 951868799, 1795823999, 1795824000, 1795910399, 4102444799]
    for seconds in [*picks, *edges]:
        expected = time.strftime("%Y%m%d%H%M%S", time.gmtime(seconds))
        assert mediawiki_timestamp(seconds) == expected, seconds


@pytest.mark.parametrize(
    ("line", "error", "fragment"),
    [
        (b'{"schema": "X"', ParseError, "invalid JSON"),
        (b'{"a": "\xff"}', ParseError, "invalid JSON"),
        (b"[" * 10000 + b"]" * 10000, ParseError, "invalid JSON"),
        (b"[1, 2]", CapsuleError, "must be a JSON object"),
        (b'{"schema":"X","revision":1,"wiki":"w","event":{},"extra":1}', CapsuleError, "'extra'"),
        (b'{"schema":"X","revision":1,"event":{}}', CapsuleError, "'wiki'"),
        (
            b'{"schema":"X; DROP TABLE x","revision":1,"wiki":"w","event":{}}',
            CapsuleError,
            "schema name",
        ),
        (b'{"schema":"X","revision":"1/../2","wiki":"w","event":{}}', CapsuleError, "revision"),
        (b'{"schema":"X","revision":1,"wiki":"w","event":[]}', CapsuleError, "event must be"),
        (b'{"schema":"X","revision":1,"wiki":5,"event":{}}', CapsuleError, "wiki must be"),
        (b'{"schema":"X","revision":1,"wiki":"w","event":{},"uuid":"nope"}', CapsuleError, "uuid"),
    ],
)
def test_bad_json_lines(line, error, fragment):
    with pytest.raises(error, match=None) as caught:
        make_parser("json", "me")(line, None)
    assert fragment in str(caught.value)


def test_capsule_error_names_its_schema_when_it_can():
    with pytest.raises(CapsuleError) as caught:
        make_parser("json", "me")(b'{"schema":"Nav","revision":3,"event":{}}', None)
    assert (caught.value.schema, caught.value.revision, caught.value.path) == (
        "Nav",
        "3",
        "capsule.wiki",
    )


def test_names_are_checked_again_after_a_run_of_good_ones():
    """The parser remembers the last well-formed schema and revision: anything else, even
    right after them, is still checked (and an int revision still becomes a str)."""
    parse = make_parser("json", "me")

    def line(**changes: object) -> bytes:
        return json.dumps({**CAPSULE, **changes}).encode()

    assert parse(line(), None)["revision"] == "1.7.0"
    for changes, path in [
        ({"schema": "", "revision": ""}, "capsule.schema"),
        ({"schema": "Navigation Timing"}, "capsule.schema"),
        ({"schema": ["NavigationTiming"]}, "capsule.schema"),
        ({"revision": "1.7.0 "}, "capsule.revision"),
        ({"revision": 1.5}, "capsule.revision"),
        ({"revision": ""}, "capsule.revision"),
    ]:
        with pytest.raises(CapsuleError) as caught:
            parse(line(**changes), None)
        assert caught.value.path == path, changes
        assert parse(line(), None)["schema"] == "NavigationTiming"
    assert parse(line(revision=17), None)["revision"] == "17"
    assert parse(line(revision=17), None)["revision"] == "17"  # remembered, still made a str
    with pytest.raises(CapsuleError, match="schema name must match"):
        parse(line(schema="x" * 64), None)


def test_oversized_line_is_a_parse_error():
    with pytest.raises(ParseError, match="exceeds"):
        make_parser("json", "me", max_event_bytes=100)(b"{" + b" " * 200 + b"}", None)


def test_format_line_that_does_not_match():
    parse = make_parser(VARNISH, "me")
    with pytest.raises(ParseError, match="does not match"):
        parse(b"garbage", None)
    with pytest.raises(ParseError, match="seqId|match"):
        parse(f"{qson(CAPSULE)} cp1 notanumber 2026-11-28T05:00:00 1.2.3.4 UA".encode(), None)


def test_format_field_that_does_not_decode():
    parse = make_parser(VARNISH, "me")
    with pytest.raises(ParseError, match="cannot decode"):
        parse(b"?%7Bnot-json; cp1 1 2026-11-28T05:00:00 1.2.3.4 UA", None)
    with pytest.raises((ParseError, CapsuleError)):
        parse(f"{qson(CAPSULE)} cp1 1 sometime 1.2.3.4 UA".encode(), None)


@pytest.mark.parametrize(
    ("fmt", "fragment"),
    [
        ("%{seqId}d %{recvFrom}s", "no %q or %j"),
        ("%q %j", "more than one"),
        ("%q %x", "unknown specifier"),
        ("%q %{clientIp}s", "not a capsule field"),
    ],
)
def test_bad_format_strings(fmt, fragment):
    with pytest.raises(UserError, match=fragment):
        make_parser(fmt, "me")


def test_format_compiles_to_one_regex():
    regex, fields = compile_format(VARNISH)
    assert regex.pattern.startswith(b"^") and regex.pattern.endswith(b"$")
    assert [f.key for f in fields] == [None, "recvFrom", "seqId", "timestamp", None, "userAgent"]
    assert b"\\s+" in regex.pattern


def test_fast_unquote_agrees_with_the_stdlib():
    import random
    from urllib.parse import unquote_to_bytes

    from el_monitor.event.formats import unquote_plus_bytes

    rnd = random.Random(7)
    # With '=' (counted escapes) and without (the usual case: any '=' decoded is a stray '%').
    for alphabet in (b"%=+ \t\r\n_abcAF019xyz\x00\xff?&;", b"%%%+ \t_abcdfAF019xyz\x00\xff?&;"):
        for _ in range(50_000):
            value = bytes(rnd.choice(alphabet) for _ in range(rnd.randint(0, 24)))
            if rnd.random() < 0.5:
                value = quote_plus(value.decode("latin-1")).encode()
            expected = unquote_to_bytes(value.replace(b"+", b" "))
            assert unquote_plus_bytes(value) == expected, value


@pytest.mark.parametrize(
    ("fmt", "good"),
    [
        (VARNISH, b"?%7B%7D; cp1 7 2026-11-28T05:00:00 10.1.2.3 Mozilla/5.0 (X11)"),
        ("%j %{seqId}d", b"{} 7"),
        ("%q %{userAgent}i", b"?%7B%7D; Mozilla/5.0 (X11)"),
        ("%q  EventLogging %t", b"?%7B%7D; EventLogging 2026-11-28T05:00:00"),
        (SERVER, b"7 EventLogging {}"),
    ],
)
def test_leading_event_cut_by_find_gives_the_regex_groups(fmt, good):
    """A leading %q/%j field is cut at the first space instead of scanned by the regex: the
    groups (and whether the line matches at all) are the whole regex's, whatever the line."""
    from el_monitor.event.formats import _line_matcher

    regex, fields = compile_format(fmt)
    names = [f.group for f in fields]
    match = _line_matcher(fmt, regex)
    rnd = random.Random(11)
    pieces = [b"?", b"?%7B%7D;", b"{}", b" ", b"  ", b"\t", b"\x0b", b"\x0c", b"-", b"7",
              b"cp1", b"2026-11-28T05:00:00", b"[28/Nov/2026:05:00:00 +0000]", b"10.1.2.3",
              b"::1", b"EventLogging", b"Mozilla/5.0 (X11)", b"x"]  # fmt: skip
    matched = 0
    for _ in range(20_000):
        line = b"".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 12)))
        if rnd.random() < 0.5:  # most lines well-formed, so the groups are compared often
            line = good + line
        whole = regex.match(line)
        event, cut = match(line)
        assert (cut is None) == (whole is None), line
        if whole is not None and cut is not None:
            matched += 1
            got = {n: event if n == "f0" and event is not None else cut.group(n) for n in names}
            assert got == whole.groupdict(), line
    assert matched > 500


def test_line_redactor_takes_the_client_ip_out_of_raw_lines():
    redact = make_line_redactor("%q %{recvFrom}s %{seqId}d %t %h %{userAgent}i")
    line = b"?%7B%7D; cp1 7 2026-11-28T05:00:00 10.1.2.3 Mozilla/5.0 Chrome/131.0.0.0"
    assert redact(line) == b"?%7B%7D; cp1 7 2026-11-28T05:00:00 - Mozilla/5.0 Chrome/131.0.0.0"
    # A line the format does not match: anything shaped like an address goes (a time stays,
    # unless it ends the line, where it could be what a cut left of an IPv6 address).
    assert redact(b"junk 10.1.2.3 and fe80::1 at 13:55:10 UTC") == b"junk - and - at 13:55:10 UTC"
    # A line whose %h is no address is misaligned (its IP may sit in another field): it
    # does not parse, and as a non-matching line it is masked whole.
    shifted = b"?%7B%7D; cp1 7 2026-11-28T05:00:00 Mozilla/5.0 10.1.2.3 Chrome/131"
    with pytest.raises(ParseError):
        make_parser(VARNISH, "h")(shifted, None)
    assert b"10.1.2.3" not in redact(shifted)
    assert make_line_redactor("json") is None
    assert make_line_redactor("%q %{recvFrom}s") is None  # no %h: nothing to take out


MISALIGNED = {
    "hex word for %h": "cafe 10.1.2.3 Mozilla/5.0 (X11)",
    "dash, then the address": "- 10.1.2.3 Mozilla/5.0 (X11)",
    "two addresses": "10.9.9.9 10.1.2.3 Mozilla/5.0 (X11)",
    "IPv6 then IPv4": "2001:db8::1 10.1.2.3 Mozilla/5.0 (X11)",
    "address, dash, address": "10.9.9.9 - 2001:db8::7 Mozilla/5.0",
    "not an address": "10.1.2.300 Mozilla/5.0 (X11)",
    "user agent where %h stands": "Mozilla/5.0 10.1.2.3",
    "missing %h": "Mozilla/5.0 (X11)",
    "missing user agent": "10.1.2.3",
}


@pytest.mark.parametrize("tail", MISALIGNED.values(), ids=MISALIGNED.keys())
def test_a_line_whose_fields_do_not_line_up_does_not_parse(tail):
    parse = make_parser(VARNISH, "me")
    line = f"{qson(CAPSULE)} cp1 7 2026-11-28T05:00:00 {tail}".encode()
    with pytest.raises(ParseError, match="does not match"):
        parse(line, None)
    assert b"10.1.2.3" not in make_line_redactor(VARNISH)(line)


@pytest.mark.parametrize(
    "line",
    [
        "{q} cp1 2026-11-28T05:00:00 10.1.2.3 UA",  # missing seqId
        "{q} 7 2026-11-28T05:00:00 10.1.2.3 UA",  # missing recvFrom
        "{q} cp1 7 10.1.2.3 UA",  # missing timestamp
        "{q} cp1 7 extra 2026-11-28T05:00:00 10.1.2.3 UA",  # an extra field before %h
        "{q} cp1 7 2026-11-28T05:00:00 x 10.1.2.3 UA",  # an extra field where %h stands
    ],
)
def test_missing_or_extra_fields_do_not_parse(line):
    with pytest.raises(ParseError):
        make_parser(VARNISH, "me")(line.format(q=qson(CAPSULE)).encode(), None)


@pytest.mark.parametrize(
    "address",
    ["10.1.2.3", "2001:4860:4860:0:0:0:0:8888", "::ffff:10.1.2.3", "[2001:DB8::1]", "fe80::1%eth0"],
)
def test_every_form_of_client_address_parses_and_is_dropped(address):
    line = f"{qson(CAPSULE)} cp1 7 2026-11-28T05:00:00 {address} Mozilla/5.0 (X11)".encode()
    capsule = make_parser(VARNISH, "me")(line, None)
    assert capsule["userAgent"] == "Mozilla/5.0 (X11)"
    assert address.encode() not in make_line_redactor(VARNISH)(line)
    # '-' stands for no address, and a user agent of '-' for none either
    dash = f"{qson(CAPSULE)} cp1 7 2026-11-28T05:00:00 - -".encode()
    assert make_parser(VARNISH, "me")(dash, None)["userAgent"] == "-"
