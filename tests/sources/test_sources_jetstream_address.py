"""``nats://`` addresses: the consumer's stream, group and options, and the producer's
subject and stream, each mistake one line naming the address."""

from __future__ import annotations

import pytest

from el_monitor.errors import UserError
from el_monitor.ingest.sources.jetstream_address import (
    ConsumerSettings,
    consumer_settings,
    parse_consume_uri,
    parse_publish_uri,
    stream_for_subject,
)


def test_a_consumer_address() -> None:
    uri = "nats://nats1.example:4333/EVENTLOGGING_RAW?consumer=forwarders&subject=eventlogging.>"
    address = parse_consume_uri(uri)
    assert address.server == "nats://nats1.example:4333"
    assert (address.stream, address.consumer, address.subject) == (
        "EVENTLOGGING_RAW",
        "forwarders",
        "eventlogging.>",
    )
    assert consumer_settings(address, uri) == ConsumerSettings()


def test_default_port_and_ipv6() -> None:
    assert parse_consume_uri("nats://[::1]/S?consumer=c").server == "nats://[::1]:4222"


def test_consumer_options() -> None:
    uri = "nats://h/S?consumer=c&batch=10&ack_wait=2.5&max_ack_pending=500"
    settings = consumer_settings(parse_consume_uri(uri), uri)
    assert settings == ConsumerSettings(batch=10, ack_wait=2.5, max_ack_pending=500)


@pytest.mark.parametrize(
    "uri, message",
    [
        ("nats://h:4222/S", "names no consumer"),
        ("nats://h:4222/?consumer=c", "names nothing"),
        ("nats://h:4222/S.X?consumer=c", "malformed stream name"),
        ("nats://h:4222/S?consumer=a.b", "malformed consumer name"),
        ("nats://h:99999/S?consumer=c", "malformed port"),
        ("nats://h/S?consumer=c&consumer=d", "given twice"),
        ("nats://h/S?consumer=c&subject=a..b", "malformed subject filter"),
        ("nats://h/S?consumer=c&subject=a.>.b", "malformed subject filter"),
        ("http://h/S?consumer=c", "malformed NATS address"),
    ],
)
def test_bad_consumer_addresses(uri: str, message: str) -> None:
    with pytest.raises(UserError, match=message) as info:
        parse_consume_uri(uri)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "query, message",
    [
        ("batch=0", "batch='0'"),
        ("batch=many", "batch='many'"),
        ("ack_wait=0.5", "from 1 to 3600"),
        ("max_ack_pending=-1", "max_ack_pending"),
        ("deliver=new", "unknown option 'deliver'"),
    ],
)
def test_bad_consumer_options(query: str, message: str) -> None:
    uri = f"nats://h/S?consumer=c&{query}"
    with pytest.raises(UserError, match=message):
        consumer_settings(parse_consume_uri(uri), uri)


def test_subject_filters_accepted() -> None:
    for subject in ("a", "a.b", "a.*", "*.b", "a.>", ">"):
        assert parse_consume_uri(f"nats://h/S?consumer=c&subject={subject}").subject == subject


def test_publish_and_consume_agree_on_the_stream() -> None:
    published = parse_publish_uri("nats://h/eventlogging.raw")
    assert published.stream == stream_for_subject("eventlogging.raw") == "EVENTLOGGING_RAW"
    assert parse_consume_uri(f"nats://h/{published.stream}?consumer=c").stream == published.stream
