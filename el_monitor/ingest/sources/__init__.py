"""Input sources addressed by URI: ``stdin://``, ``file://``, ``udp://``, ``http://``,
``tcp://`` (a ZeroMQ publisher, EventLogging's own stream) and ``nats://`` (a member of a
JetStream consumer group).

``open_source`` turns a URI into a ``Source`` (``base``); each scheme has its module, and what
they share is in ``lines`` (cutting bytes into bounded lines) and ``network`` (the hand-off from
receiver threads to the pipeline); ``sharing`` splits inputs between ``forward --workers``.
"""

from __future__ import annotations

import socket
import sys
from urllib.parse import parse_qs, unquote, urlsplit

from el_monitor.errors import UserError, missing_extra
from el_monitor.ingest.sources.base import Source
from el_monitor.ingest.sources.network import QUEUE_BYTES

SCHEMES = (
    "stdin://",
    "file:///path[?follow=1]",
    "udp://host:port",
    "http://host:port",
    "tcp://host:port",
    "nats://host:port/STREAM?consumer=NAME",
)


def open_source(
    uri: str,
    *,
    idle_interval: float = 0.2,
    max_line_bytes: int = 65536,
    max_body_bytes: int = 65536,
    checkpoint_dir: str | None = None,
    spool_dir: str | None = None,
    queue_bytes: int = QUEUE_BYTES,
    sock: socket.socket | None = None,
) -> Source:
    """Build the source a URI names; mistakes become a one-line ``UserError``.  With
    ``spool_dir`` an HTTP source journals what it accepts there (``journal``); a network
    source holds at most ``queue_bytes`` of events not yet processed (``network``) and,
    given ``sock`` (a worker's share of its port: ``sharing``), uses it instead of binding."""
    if idle_interval <= 0 or max_line_bytes < 1 or max_body_bytes < 1 or queue_bytes < 1:
        raise ValueError(
            "idle_interval, max_line_bytes, max_body_bytes and queue_bytes must be positive"
        )
    scheme = uri.partition("://")[0].lower() if "://" in uri else ""
    if scheme == "stdin":
        return _open_stdin(uri, idle_interval, max_line_bytes)
    if scheme == "file":
        return _open_file(uri, idle_interval, max_line_bytes, checkpoint_dir)
    if scheme == "udp":
        from el_monitor.ingest.sources.udp import UdpSource

        host, port = host_port(uri)
        return UdpSource(
            uri,
            host,
            port,
            idle_interval=idle_interval,
            max_line_bytes=max_line_bytes,
            queue_bytes=queue_bytes,
            sock=sock,
        )
    if scheme == "http":
        from el_monitor.ingest.sources.http import JOURNAL_DIR, HttpSource

        host, port = host_port(uri)
        return HttpSource(
            uri,
            host,
            port,
            idle_interval=idle_interval,
            max_line_bytes=max_line_bytes,
            max_body_bytes=max_body_bytes,
            journal_dir=f"{spool_dir}/{JOURNAL_DIR}" if spool_dir else None,
            queue_bytes=queue_bytes,
            sock=sock,
        )
    if scheme == "tcp":
        try:
            from el_monitor.ingest.sources.zeromq import ZmqSource, parse_zmq_uri
        except ModuleNotFoundError as exc:
            raise missing_extra(exc, f"{uri}: tcp://") from exc
        return ZmqSource(
            uri,
            parse_zmq_uri(uri),
            idle_interval=idle_interval,
            max_line_bytes=max_line_bytes,
            queue_bytes=queue_bytes,
        )
    if scheme == "nats":
        try:
            from el_monitor.ingest.sources.jetstream import open_jetstream
        except ModuleNotFoundError as exc:
            raise missing_extra(exc, f"{uri}: nats://") from exc
        return open_jetstream(
            uri, idle_interval=idle_interval, max_line_bytes=max_line_bytes, queue_bytes=queue_bytes
        )
    raise UserError(f"unknown input {uri!r}: use one of {', '.join(SCHEMES)}")


def _open_stdin(uri: str, idle_interval: float, max_line_bytes: int) -> Source:
    from el_monitor.ingest.sources.stdin import StdinSource

    if uri != "stdin://":
        raise UserError(f"malformed input {uri!r}: standard input is written 'stdin://'")
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, OSError, ValueError) as exc:
        raise UserError(f"{uri}: this process has no readable standard input ({exc})") from exc
    return StdinSource(uri, fd, idle_interval=idle_interval, max_line_bytes=max_line_bytes)


def _open_file(
    uri: str, idle_interval: float, max_line_bytes: int, checkpoint_dir: str | None
) -> Source:
    from el_monitor.ingest.sources.file import FileSource

    parts = urlsplit(uri)
    path = unquote(parts.path)
    if parts.netloc not in ("", "localhost") or not path.startswith("/") or parts.fragment:
        raise UserError(f"malformed input {uri!r}: write an absolute path as file:///abs/path")
    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError as exc:
        raise UserError(f"malformed input {uri!r}: the query must be ?follow=1") from exc
    unknown = set(query) - {"follow"}
    follow_values = query.get("follow", ["0"])
    if unknown or len(follow_values) != 1 or follow_values[0] not in _FLAGS:
        raise UserError(f"malformed input {uri!r}: the only option is ?follow=1 (or follow=0)")
    return FileSource(
        uri,
        path,
        follow=_FLAGS[follow_values[0]],
        idle_interval=idle_interval,
        max_line_bytes=max_line_bytes,
        checkpoint_dir=checkpoint_dir,
    )


_FLAGS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


def host_port(uri: str) -> tuple[str, int]:
    parts = urlsplit(uri)
    scheme = parts.scheme
    fix = f"write {scheme}://HOST:PORT, e.g. {scheme}://127.0.0.1:8421 (port 0 picks a free one)"
    try:
        port = parts.port
    except ValueError as exc:
        raise UserError(f"malformed input {uri!r}: bad port; {fix}") from exc
    if not parts.hostname or port is None or parts.path not in ("", "/") or parts.query:
        raise UserError(f"malformed input {uri!r}: {fix}")
    if parts.username or parts.password or parts.fragment:
        raise UserError(f"malformed input {uri!r}: {fix}")
    return parts.hostname, port
