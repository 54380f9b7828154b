"""``nats://`` addresses: where a JetStream stream lives, and the one place its names are built.

The producer names a subject (``publish --to nats://HOST:PORT/SUBJECT``), the consumers a stream
and their shared durable consumer (``forward --input nats://HOST:PORT/STREAM?consumer=NAME``).
A subject's stream is named from the subject unless ``?stream=`` says otherwise, so the two
sides agree without configuration: ``eventlogging.raw`` is kept in stream ``EVENTLOGGING_RAW``.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

from el_monitor.errors import UserError

DEFAULT_PORT = 4222
# JetStream names: no whitespace, '.', '*', '>', path separators (they become directories).
_NAME = re.compile(r"[A-Za-z0-9_-]{1,200}\Z")
_SUBJECT = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\Z")
_FILTER = re.compile(r"([A-Za-z0-9_-]+|\*)(\.([A-Za-z0-9_-]+|\*))*(\.>)?\Z|>\Z")


class JetStreamAddress(NamedTuple):
    """A parsed ``nats://`` URI: ``server`` is what the client connects to; a consumer's
    ``subject`` is an optional filter (empty: the whole stream)."""

    server: str
    stream: str
    subject: str
    consumer: str | None
    options: dict[str, str]


def stream_for_subject(subject: str) -> str:
    """The stream a subject is kept in when the URI names none."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", subject).upper()


def parse_publish_uri(uri: str) -> JetStreamAddress:
    """``nats://HOST:PORT/SUBJECT[?stream=NAME&...]``: where ``publish`` appends."""
    server, path, options = _split(uri, "nats://HOST:PORT/SUBJECT")
    if not _SUBJECT.match(path):
        raise UserError(f"malformed subject {path!r} in {uri!r}: use dot-separated words")
    stream = options.pop("stream", None) or stream_for_subject(path)
    _check_name(stream, "stream", uri)
    return JetStreamAddress(server, stream, path, options.pop("consumer", None), options)


def parse_consume_uri(uri: str) -> JetStreamAddress:
    """``nats://HOST:PORT/STREAM?consumer=NAME[&...]``: what ``forward`` pulls from."""
    server, path, options = _split(uri, "nats://HOST:PORT/STREAM?consumer=NAME")
    _check_name(path, "stream", uri)
    consumer = options.pop("consumer", None)
    if consumer is None:
        raise UserError(
            f"{uri!r} names no consumer: add ?consumer=NAME (the same name on every forwarder "
            "of the group)"
        )
    _check_name(consumer, "consumer", uri)
    subject = options.pop("subject", "")
    if subject and not _FILTER.match(subject):
        raise UserError(
            f"malformed subject filter {subject!r} in {uri!r}: use dot-separated words, "
            "'*' for one word, a last '>' for the rest"
        )
    return JetStreamAddress(server, path, subject, consumer, options)


class ConsumerSettings(NamedTuple):
    """How a forwarder pulls: ``batch`` messages per request; the durable consumer's
    ``ack_wait`` (seconds before an unacknowledged message goes to another member) and
    ``max_ack_pending`` (unacknowledged messages over the whole group), used when this
    forwarder is the one that creates it."""

    batch: int = 256
    ack_wait: float = 30.0
    max_ack_pending: int = 100_000


_LIMITS = {"batch": (1, 10_000), "ack_wait": (1, 3600), "max_ack_pending": (1, 10_000_000)}


def consumer_settings(address: JetStreamAddress, uri: str) -> ConsumerSettings:
    """The ``batch``, ``ack_wait`` and ``max_ack_pending`` options of a consumer address;
    anything else there is a mistake."""
    unknown = sorted(set(address.options) - set(_LIMITS))
    if unknown:
        raise UserError(
            f"unknown option {unknown[0]!r} in {uri!r}: use consumer, subject, "
            + ", ".join(_LIMITS)
        )
    values: dict[str, Any] = {}
    for key, text in address.options.items():
        low, high = _LIMITS[key]
        try:
            value = float(text) if key == "ack_wait" else int(text)
        except ValueError:
            value = -1
        if not low <= value <= high:
            raise UserError(f"{key}={text!r} in {uri!r}: give a number from {low} to {high}")
        values[key] = value
    return ConsumerSettings()._replace(**values)


def _split(uri: str, shape: str) -> tuple[str, str, dict[str, str]]:
    parts = urlsplit(uri)
    if parts.scheme.lower() != "nats" or not parts.hostname:
        raise UserError(f"malformed NATS address {uri!r}: write {shape}")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise UserError(f"malformed port in {uri!r}: write {shape}") from None
    path = parts.path.strip("/")
    if not path:
        raise UserError(f"{uri!r} names nothing after the server: write {shape}")
    options: dict[str, str] = {}
    for key, values in parse_qs(parts.query, keep_blank_values=True).items():
        if len(values) > 1:
            raise UserError(f"{key!r} is given twice in {uri!r}")
        options[key] = values[0]
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"nats://{host}:{port}", path, options


def _check_name(name: str, what: str, uri: str) -> None:
    if not _NAME.match(name):
        raise UserError(
            f"malformed {what} name {name!r} in {uri!r}: use letters, digits, '-' and '_'"
        )
