"""The beacon's HTTP server: a thread per connection, request handling, decoding events.

The server tracks its connections so the source can end idle keep-alive ones when it closes,
and answers 503 at once past its limit of open connections.  Every method goes through one
dispatcher, so unknown paths are 404 and wrong methods 405, and every answer is counted
before it is sent.  Capsule fields come from the request (receive host, time, user agent),
never from the client's address.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, Protocol
from urllib.parse import unquote_to_bytes

import orjson

from el_monitor.ingest.sources.base import OPTOUT_FLAG
from el_monitor.ingest.sources.lines import clean_line

logger = logging.getLogger(__name__)

Request = socket.socket | tuple[bytes, socket.socket]  # what socketserver hands a server
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\n"
    b"Content-Length: 0\r\n\r\n"
)

BEACON_PATH = "/beacon/event"
EVENTS_PATH = "/v1/events"
_ROUTES = {BEACON_PATH: ("GET", "_beacon"), EVENTS_PATH: ("POST", "_events")}
"""path → (the one method it answers, handler method name)."""


class Receiver(Protocol):
    """What the server and its handlers need of the source they feed (``HttpSource``)."""

    name: str
    hostname: str
    max_line_bytes: int
    max_body_bytes: int
    max_connections: int

    def offer(self, lines: list[bytes], defaults: dict[str, object]) -> bool: ...

    def count(self, status: int) -> None: ...


class BeaconServer(HTTPServer):
    """A thread per connection, tracked so ``close`` can end idle keep-alive ones and join them.

    (``ThreadingHTTPServer`` does not join daemon threads, and non-daemon ones would hold the
    process open on a stuck client.)
    """

    request_queue_size = 128

    def __init__(self, family: int, address: tuple, source: Receiver) -> None:
        self.address_family = family
        self.source = source
        self._connections: dict[Request, threading.Thread] = {}
        self._connections_lock = threading.Lock()
        super().__init__(address, BeaconHandler)

    def server_bind(self) -> None:
        """Bind without ``HTTPServer``'s reverse DNS lookup of the host, which can stall."""
        socketserver.TCPServer.server_bind(self)
        host, self.server_port = self.server_address[:2]
        self.server_name = str(host)

    def process_request(self, request: Request, client_address: Any) -> None:
        """A thread for the connection, unless ``max_connections`` are open: then a 503 at
        once (best effort: the request is not read, so a reset may reach the client first),
        so that clients holding connections open cannot take every thread there is."""
        thread = threading.Thread(
            target=self._serve, args=(request, client_address), name=self.source.name, daemon=True
        )
        with self._connections_lock:
            full = len(self._connections) >= self.source.max_connections
            if not full:
                self._connections[request] = thread
        if full:
            self.source.count(HTTPStatus.SERVICE_UNAVAILABLE)
            with contextlib.suppress(OSError):
                _socket(request).sendall(_BUSY)
            self.shutdown_request(request)
            return
        thread.start()

    def _serve(self, request: Request, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)

    def shutdown_request(self, request: Request) -> None:
        with self._connections_lock:
            self._connections.pop(request, None)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End every connection's handler: shut the socket down under it, then join it."""
        with self._connections_lock:
            connections = list(self._connections.items())
        for conn, _ in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                _socket(conn).shutdown(socket.SHUT_RDWR)
        for _, thread in connections:
            thread.join(timeout=2)
            if thread.is_alive():
                logger.warning("%s: a request handler did not stop", self.source.name)

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that vanishes mid-request is routine, not a traceback on stderr."""
        logger.debug("%s: request failed", self.source.name, exc_info=True)


class BeaconHandler(BaseHTTPRequestHandler):
    """Routes every method through ``_dispatch`` so unknown paths are 404 and methods 405."""

    protocol_version = "HTTP/1.1"
    server_version = "el-monitor"
    sys_version = ""
    timeout = 15  # idle keep-alive connections are closed after this many seconds
    server: BeaconServer

    def __getattr__(self, name: str) -> Callable[[], None]:
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    def _dispatch(self) -> None:
        route = _ROUTES.get(self.path.partition("?")[0])
        if route is None:
            self._reply(HTTPStatus.NOT_FOUND, "not found")
        elif self.command != route[0]:
            self._reply(HTTPStatus.METHOD_NOT_ALLOWED, f"use {route[0]}", {"Allow": route[0]})
        else:
            getattr(self, route[1])()

    def _beacon(self) -> None:
        line = decode_beacon(self.path.partition("?")[2], self.server.source.max_line_bytes)
        if not line:
            self._reply(HTTPStatus.BAD_REQUEST, "empty beacon: send /beacon/event?<json>")
            return
        self._accept([line], HTTPStatus.NO_CONTENT)

    def _events(self) -> None:
        source = self.server.source
        body = self._read_body(source.max_body_bytes)
        if body is None:
            return
        lines = decode_events(body, source.max_line_bytes)
        if lines is not None:
            self._accept(lines, HTTPStatus.ACCEPTED)
            return
        # Pass the bad body down anyway, so it is counted and logged as a parse error.
        raw = body[: source.max_line_bytes + 1] if len(body) > source.max_line_bytes else body
        if raw.strip() and not source.offer([raw], self._defaults()):
            self._busy()
            return
        self._reply(HTTPStatus.BAD_REQUEST, "body must be a JSON array of events")

    def _read_body(self, limit: int) -> bytes | None:
        """The request body, or ``None`` after answering why it cannot be read."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._reply(HTTPStatus.LENGTH_REQUIRED, "send Content-Length, not chunked")
            return None
        length = self.headers.get("Content-Length")
        if length is None:
            self._reply(HTTPStatus.LENGTH_REQUIRED, "Content-Length required")
            return None
        size = content_length(length)
        if size is None:
            self._reply(HTTPStatus.BAD_REQUEST, "bad Content-Length")
            return None
        if size > limit:
            self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {limit} bytes")
            return None
        body = self.rfile.read(size)
        if len(body) < size:
            self._reply(HTTPStatus.BAD_REQUEST, "body shorter than Content-Length")
            return None
        return body

    def _accept(self, lines: list[bytes], status: HTTPStatus) -> None:
        if self.server.source.offer(lines, self._defaults()):
            self._reply(status)
        else:
            self._busy()

    def _busy(self) -> None:
        self._reply(HTTPStatus.SERVICE_UNAVAILABLE, "busy; retry later", {"Retry-After": "1"})

    def _defaults(self) -> dict[str, object]:
        """Capsule fields this request supplies; the per-event uuid is added by ``offer``."""
        defaults: dict[str, object] = {
            "recvFrom": self.server.source.hostname,
            "timestamp": int(time.time()),
        }
        agent = self.headers.get("User-Agent")
        if agent is not None:
            defaults["userAgent"] = agent
        if any(self.headers.get(h, "").strip() == "1" for h in ("DNT", "Sec-GPC")):
            defaults[OPTOUT_FLAG] = True  # honoured later in the pipeline, not dropped here
        return defaults

    def handle_expect_100(self) -> bool:
        """Refuse an oversized body before the client sends it."""
        size = content_length(self.headers.get("Content-Length", ""))
        if size is not None and size > self.server.source.max_body_bytes:
            self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body too large")
            return False
        return super().handle_expect_100()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Malformed requests get the same tiny plain-text answer as everything else."""
        self._reply(HTTPStatus(code), message or HTTPStatus(code).phrase)

    def _reply(
        self, status: HTTPStatus, text: str = "", headers: dict[str, str] | None = None
    ) -> None:
        """Send a response; errors close the connection, since their body may be unread."""
        self.server.source.count(status)  # before answering, so a client never sees it lag
        body = f"{text}\n".encode() if text else b""
        self.send_response(status)
        if status != HTTPStatus.NO_CONTENT:
            self.send_header("Content-Length", str(len(body)))
        if body:
            self.send_header("Content-Type", "text/plain; charset=utf-8")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if status >= 400:
            self.send_header("Connection", "close")
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Debug-level, and without the client address the base class would print."""
        logger.debug("%s: " + format, self.server.source.name, *args)


def content_length(text: str) -> int | None:
    """The declared body size, or None when it is not a decimal number.  Past 18 digits it
    is simply huge: ``int()`` refuses over 4,300 digits, and a client may send that many."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()):
        return None
    return int(text) if len(text) <= 18 else 10**18


def decode_beacon(query: str, max_line_bytes: int) -> bytes:
    """The event of a beacon query string, decoded as EventLogging decodes ``%q``.

    ``http.server`` hands the request line over as latin-1 text, so encoding it back gives the
    original bytes; bytes that are not valid UTF-8 are kept for the parser to judge.  A line
    break (``%0A``) between JSON tokens is valid JSON, as in EventLogging: such an event is
    written out again on one line.  Any other line break stays, and makes a parse error.
    """
    raw = query.encode("latin-1", "replace").strip(b"?;").replace(b"+", b" ")
    line = clean_line(unquote_to_bytes(raw), max_line_bytes)
    if b"\n" in line or b"\r" in line:
        try:
            return clean_line(orjson.dumps(orjson.loads(line)), max_line_bytes)
        except (orjson.JSONDecodeError, TypeError):
            pass
    return line


def decode_events(body: bytes, max_line_bytes: int) -> list[bytes] | None:
    """One line per event of a JSON array (or a single JSON object); ``None`` if neither."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        return None
    try:
        return [clean_line(orjson.dumps(event), max_line_bytes) for event in value]
    except TypeError:  # an event nested deeper than orjson writes: the body is unreadable
        return None


def _socket(request: Request) -> socket.socket:
    """The connection's socket (a stream server's request is the socket itself)."""
    return request if isinstance(request, socket.socket) else request[1]
