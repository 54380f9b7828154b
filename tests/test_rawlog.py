"""The all log's record form and the line breaks it guards against (issue 10, item 15): every
raw line is one JSON record, read back to exactly the bytes logged; a line holding a line break
is one parse error, never two events."""

from __future__ import annotations

import orjson
import pytest

from el_monitor.event.formats import LINE_BREAK, ParseError, make_parser
from el_monitor.event.rawlog import line_of_record, raw_record
from el_monitor.ingest.sources.beacon import decode_beacon

CAPSULE = (
    b'{"schema":"NavigationTiming","revision":"1.7.0","wiki":"enwiki",'
    b'"uuid":"00000000000000000000000000000001","timestamp":1795842000,"event":{"isAnon":true}}'
)


@pytest.mark.parametrize(
    "line",
    [
        CAPSULE,
        b"garbage\n" + CAPSULE,
        b'a\rb "quoted" \\ back\x00slash\ttab',
        "naïve \u2028 ☃".encode(),
        b'{"a":"\xff\xfe"}\n{"forged":true}',  # not UTF-8: base64
        b"",
    ],
)
def test_a_record_is_one_json_line_and_reads_back_to_the_same_bytes(line: bytes) -> None:
    record = raw_record(line)
    assert b"\n" not in record and b"\r" not in record
    orjson.loads(record)  # one JSON value
    assert line_of_record(record) == line


def test_utf8_lines_are_json_strings_others_base64() -> None:
    assert raw_record(b"a\nb") == b'"a\\nb"'
    assert raw_record(b"\xff") == b'{"base64":"/w=="}'


@pytest.mark.parametrize(
    "record",
    [CAPSULE, b'"torn', b"", b"42", b'{"base64":"!!"}', b'{"base64":"/w==","x":1}', b"[]"],
)
def test_what_is_not_a_record_is_none(record: bytes) -> None:
    assert line_of_record(record) is None


@pytest.mark.parametrize("fmt", ["json", "%j", "%{seqId}d EventLogging %j"])
@pytest.mark.parametrize("glue", [b"\n", b"\r", b"\r\n"])
def test_a_line_holding_a_line_break_is_a_parse_error(fmt: str, glue: bytes) -> None:
    parse = make_parser(fmt, "host")
    line = CAPSULE if fmt == "json" else (b"" if fmt == "%j" else b"1 EventLogging ") + CAPSULE
    assert parse(line, None)["uuid"] == "00000000000000000000000000000001"
    # Even where JSON allows a line break (between tokens), a raw line holds none.
    pretty = line.replace(b'"wiki"', glue + b'"wiki"')
    with pytest.raises(ParseError, match=LINE_BREAK):
        parse(pretty, None)


def test_beacon_writes_a_line_break_between_json_tokens_on_one_line() -> None:
    """EventLogging reads ``%0A`` between tokens as JSON whitespace: still one event."""
    assert decode_beacon("?%7B%22a%22%3A%0A1%7D%0D%0A;", 100) == b'{"a":1}'
    # Anything else keeps its line break, for the parser to refuse.
    forged = "?%7B%22a%22%3A1%7D%0A%7B%22forged%22%3Atrue%7D;"
    assert decode_beacon(forged, 100) == b'{"a":1}\n{"forged":true}'
