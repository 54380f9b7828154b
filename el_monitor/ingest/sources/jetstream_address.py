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

from el_monitor.catalog.backup_settings import parse_duration
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


class StreamLimits(NamedTuple):
    """What ``publish`` creates a missing stream with (an existing one is left as it is).
    A full stream refuses new events (the beacon answers 503) rather than dropping old ones
    nobody has consumed yet; ``max_age`` still ends old ones."""

    max_age: float = 7 * 86400.0  # seconds
    max_bytes: int = 8 << 30
    duplicate_window: float = 120.0  # seconds a Nats-Msg-Id is remembered, for retries
    replicas: int = 1  # 3 on a JetStream cluster of three servers


_SIZE = re.compile(r"(\d+)\s*([KMGT]?)i?B?\Z", re.IGNORECASE)
_SIZE_SHIFT = {"": 0, "K": 10, "M": 20, "G": 30, "T": 40}


def stream_limits(address: JetStreamAddress) -> StreamLimits:
    """The ``?max_age=7d&max_bytes=8G&duplicate_window=2m&replicas=3`` options of a publish
    URI (durations in s/m/h/d/w, sizes in bytes or K/M/G/T); any other option is an error."""
    options = dict(address.options)
    limits = StreamLimits()
    values: dict[str, object] = {}
    for key in ("max_age", "duplicate_window"):
        if key in options:
            text = options.pop(key)
            seconds = parse_duration(text)
            if seconds is None:
                raise UserError(f"malformed {key} {text!r}: write e.g. 7d, 12h, 90m or 30s")
            values[key] = seconds
    if "max_bytes" in options:
        size = _SIZE.match(options.pop("max_bytes").strip())
        if not size or int(size[1]) <= 0:
            raise UserError("malformed max_bytes: write e.g. 8G, 512M or a number of bytes")
        values["max_bytes"] = int(size[1]) << _SIZE_SHIFT[size[2].upper()]
    if "replicas" in options:
        replicas = options.pop("replicas")
        if not replicas.isdigit() or not 1 <= int(replicas) <= 5:
            raise UserError(f"malformed replicas {replicas!r}: a number from 1 to 5")
        values["replicas"] = int(replicas)
    if options:
        known = "stream, max_age, max_bytes, duplicate_window, replicas"
        raise UserError(f"unknown option {sorted(options)[0]!r} for publish: use {known}")
    return limits._replace(**values)  # type: ignore[arg-type]


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
