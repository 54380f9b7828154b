"""What one JetStream message becomes (no server needed): raw lines with uuids named by the
stream and sequence, records decoded whole or refused as damaged."""

from __future__ import annotations

import pytest
from helpers import event_defaults

from el_monitor.event.capsule import stream_uuid
from el_monitor.ingest.sources.base import Chunk
from el_monitor.ingest.sources.jetstream_messages import RECORD_HEADER, message_chunks
from el_monitor.ingest.sources.journal import DamagedRecord, decode_record, encode

RECORD = {RECORD_HEADER: "1"}


def test_raw_lines_get_uuids_of_their_place_in_the_stream() -> None:
    chunks = message_chunks(b"a\n\nb\r\n" + b"c" * 20 + b"\n", None, "S", 42, 7, 10)
    assert [c.lines for c in chunks] == [[b"a", b"b", b"c" * 11]]  # over-long: cut to 11
    assert event_defaults(chunks) == [{"uuid": stream_uuid("S", 42, i)} for i in range(3)]
    assert [c.position for c in chunks] == [7]  # one chunk: the message, its position
    # The same message redelivered names the same events; another sequence, others.
    again = message_chunks(b"a\n\nb\r\n" + b"c" * 20 + b"\n", {"Other": "x"}, "S", 42, 9, 10)
    assert event_defaults(again) == event_defaults(chunks)
    assert stream_uuid("S", 43, 0) not in {d["uuid"] for d in event_defaults(chunks)}


def test_an_empty_message_is_a_position() -> None:
    assert message_chunks(b"\n", None, "S", 1, 3, 100) == [Chunk([], None, 3)]
    assert message_chunks(encode({}, [], []), RECORD, "S", 1, 4, 100) == [Chunk([], None, 4)]


def test_a_record_keeps_its_defaults_and_uuids() -> None:
    payload = encode({"userAgent": "UA"}, ["1" * 32, "2" * 32], [b"x", b"yy"])
    assert decode_record(payload) == ({"userAgent": "UA"}, ["1" * 32, "2" * 32], [b"x", b"yy"])
    chunks = message_chunks(payload, RECORD, "S", 5, 8, 100)
    assert chunks == [Chunk([b"x", b"yy"], {"userAgent": "UA"}, 8, ["1" * 32, "2" * 32])]
    assert event_defaults(chunks) == [
        {"userAgent": "UA", "uuid": "1" * 32},
        {"userAgent": "UA", "uuid": "2" * 32},
    ]


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda p: p[:-1], "header says"),
        (lambda p: p + b"x", "header says"),
        (lambda p: p[:5], "shorter than"),
        (lambda p: p[:-1] + bytes([p[-1] ^ 1]), "CRC"),
    ],
)
def test_a_damaged_record_is_refused(damage, message: str) -> None:
    payload = damage(encode({}, ["1" * 32], [b"line"]))
    with pytest.raises(DamagedRecord, match=message):
        message_chunks(payload, RECORD, "S", 1, 1, 100)
