"""``nats://`` addresses of publish and consume, the stream limits a publish URI sets, and
how events become messages (no server needed)."""

from __future__ import annotations

import pytest
from helpers import event_defaults

from el_monitor.errors import UserError
from el_monitor.event.capsule import content_uuid, event_uuid
from el_monitor.event.formats import make_parser
from el_monitor.ingest.publish.publisher import line_uuids, message_id, messages
from el_monitor.ingest.sources.base import Chunk
from el_monitor.ingest.sources.jetstream_address import (
    StreamLimits,
    parse_consume_uri,
    parse_publish_uri,
    stream_for_subject,
    stream_limits,
)
from el_monitor.ingest.sources.journal import read_records


def test_a_subject_names_its_stream_and_the_defaults_apply():
    address = parse_publish_uri("nats://127.0.0.1/eventlogging.raw")
    assert address.server == "nats://127.0.0.1:4222"
    assert address.subject == "eventlogging.raw"
    assert address.stream == stream_for_subject("eventlogging.raw") == "EVENTLOGGING_RAW"
    assert stream_limits(address) == StreamLimits()
    assert StreamLimits().max_age == 7 * 86400


def test_publish_options_set_the_stream_and_its_limits():
    address = parse_publish_uri(
        "nats://[::1]:4333/el.raw?stream=RAW&max_age=12h&max_bytes=512M"
        "&duplicate_window=5m&replicas=3"
    )
    assert (address.server, address.stream, address.subject) == (
        "nats://[::1]:4333",
        "RAW",
        "el.raw",
    )
    assert stream_limits(address) == StreamLimits(12 * 3600.0, 512 << 20, 300.0, 3)
    assert stream_limits(parse_publish_uri("nats://h/s?max_bytes=1000")).max_bytes == 1000
    assert stream_limits(parse_publish_uri("nats://h/s?max_bytes=2GiB")).max_bytes == 2 << 30


@pytest.mark.parametrize(
    ("uri", "says"),
    [
        ("nats://h/s?max_age=forever", "malformed max_age"),
        ("nats://h/s?max_bytes=-1", "malformed max_bytes"),
        ("nats://h/s?max_bytes=3X", "malformed max_bytes"),
        ("nats://h/s?replicas=9", "malformed replicas"),
        ("nats://h/s?retention=work", "unknown option 'retention'"),
        ("nats://h/s?max_age=1d&max_age=2d", "given twice"),
        ("nats://h/bad subject", "malformed subject"),
        ("nats://h/s?stream=a.b", "malformed stream name"),
        ("http://h/s", "malformed NATS address"),
        ("nats://h", "names nothing"),
    ],
)
def test_mistakes_in_a_publish_uri_are_one_line(uri, says):
    with pytest.raises(UserError, match=says):
        stream_limits(parse_publish_uri(uri))


def test_a_consume_uri_needs_its_consumer():
    address = parse_consume_uri("nats://h:4222/EVENTLOGGING_RAW?consumer=forwarders")
    assert (address.stream, address.consumer, address.subject) == (
        "EVENTLOGGING_RAW", "forwarders", ""
    )  # fmt: skip
    with pytest.raises(UserError, match="names no consumer"):
        parse_consume_uri("nats://h:4222/EVENTLOGGING_RAW")


def test_events_become_records_split_to_fit_and_read_back_whole(tmp_path):
    lines = [b'{"n": %d, "pad": "%s"}' % (i, b"x" * 200) for i in range(100)]
    uuids = [f"{i:032x}" for i in range(100)]
    defaults = {"recvFrom": "host1", "timestamp": 1795842000}
    (whole,) = messages(defaults, uuids, lines, 1 << 20)
    assert (whole.msg_id, whole.events) == (message_id(uuids), 100)
    parts = messages(defaults, uuids, lines, 5000)
    assert len(parts) > 4 and all(len(p.body) <= 5000 for p in parts)
    starts = [sum(q.events for q in parts[:i]) for i in range(len(parts) + 1)]
    assert [p.msg_id for p in parts] == [
        message_id(uuids[a:b]) for a, b in zip(starts, starts[1:], strict=False)
    ]
    path = tmp_path / "records.wal"
    path.write_bytes(b"".join(p.body for p in parts))
    chunks = [chunk for record in read_records(path, 0, 0) for chunk in record]
    assert [line for chunk in chunks for line in chunk.lines] == lines
    events = event_defaults(chunks)
    assert [d["uuid"] for d in events] == uuids
    assert all(d["recvFrom"] == "host1" for d in events)


def test_messages_starting_alike_have_ids_of_their_own():
    """Lines without a uuid get one from their bytes: two messages may start with the same
    line, and JetStream must not take the second for a retry of the first."""
    same, other = ["ab" * 16, "cd" * 16], ["ab" * 16, "ef" * 16]
    assert message_id(same) != message_id(other)
    assert message_id(same) == message_id(list(same))  # a retry: the same id
    assert message_id(same[:1]) != message_id(same)


def test_read_lines_get_the_uuid_the_forwarder_would_give_them():
    raw = (
        b"?%7B%22schema%22%3A%22Edit%22%2C%22revision%22%3A1%2C%22wiki%22%3A%22enwiki%22%2C"
        b"%22event%22%3A%7B%7D%7D; cp1 42 2026-12-04T10:00:00 10.0.0.1 Mozilla"
    )
    own = b'{"schema":"Edit","revision":1,"wiki":"w","event":{},"uuid":"%s"}' % (b"ab" * 16)
    plain = b'{"schema":"Edit","revision":1,"wiki":"w","event":{}}'
    defaults = {"recvFrom": "pub1", "timestamp": 1795842000}
    varnish = make_parser("%q %{recvFrom}s %{seqId}d %t %h %{userAgent}i", "")
    (seq,) = line_uuids(varnish, Chunk([raw], defaults))
    assert seq == event_uuid("cp1", 42, 1796378400)  # EventLogging's uuid5, from seqId
    json_lines = [own, plain, b"not json"]
    found = line_uuids(make_parser("json", ""), Chunk(json_lines, defaults))
    assert found == ["ab" * 16, content_uuid("pub1", plain), content_uuid("pub1", b"not json")]
    assert (
        line_uuids(make_parser("json", ""), Chunk(json_lines, defaults)) == found
    )  # again: the same
