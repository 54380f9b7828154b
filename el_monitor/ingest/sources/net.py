"""``udp://`` and ``http://`` inputs: network receivers feeding the pipeline through a buffer.

Receivers run on background threads and never wait for the pipeline: a full ``ChunkBuffer``
makes UDP count a drop (it has no backpressure) and HTTP answer 503 (clients retry).  Nothing
here records a client's address, by privacy policy.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import socket
import socketserver
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import unquote_to_bytes

import orjson

from el_monitor.errors import UserError
from el_monitor.ingest.sources import ChunkBuffer, clean_line, split_lines
from el_monitor.ingest.sources.base import IDLE, Chunk

logger = logging.getLogger(__name__)

QUEUE_LINES = 100_000
MAX_CONNECTIONS = 512  # open beacon connections, a thread each; more are answered 503
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\n"
    b"Content-Length: 0\r\n\r\n"
)
RCVBUF_BYTES = 8 * 1024 * 1024
POLL_SECONDS = 0.1
"""How often receiver threads look at the closing flag."""
BEACON_PATH = "/beacon/event"
EVENTS_PATH = "/v1/events"
_ROUTES = {BEACON_PATH: ("GET", "_beacon"), EVENTS_PATH: ("POST", "_events")}
"""path → (the one method it answers, handler method name)."""


class _BufferedSource:
    """The pipeline side shared by UDP and HTTP: drain the buffer, tick while it is empty."""

    name: str
    _merge: bool

    def __init__(self, name: str, idle_interval: float, queue_lines: int) -> None:
        self.name = name
        self._idle = idle_interval
        self._buffer = ChunkBuffer(queue_lines)
        self._closing = threading.Event()

    def chunks(self, stop: threading.Event) -> Iterator[Chunk]:
        while not stop.is_set() and not self._closing.is_set():
            taken = self._buffer.take(self._idle)
            if not taken:
                yield IDLE
            elif self._merge:
                yield Chunk([line for chunk in taken for line in chunk.lines])
            else:
                yield from taken

    def commit(self, position: object) -> None:
        """Network input cannot be replayed, so there is nothing to checkpoint."""


def _resolve(uri: str, kind: int, host: str, port: int) -> tuple[int, tuple]:
    """Address family and socket address for host:port."""
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=kind)[0]
    except socket.gaierror as exc:
        raise UserError(f"{uri}: cannot resolve {host!r} ({exc.strerror}); use an IP") from exc
    return family, address


def _listen_error(uri: str, port: int, exc: OSError) -> UserError:
    if exc.errno == errno.EADDRINUSE:
        fix = "stop the other listener or pick another port"
        return UserError(f"{uri}: port {port} is in use; {fix}")
    return UserError(f"{uri}: cannot listen ({exc.strerror}); check the host and port")


class UdpSource(_BufferedSource):
    """Lines from datagrams (each may hold several newline-separated lines)."""

    _merge = True

    def __init__(
        self,
        name: str,
        host: str,
        port: int,
        *,
        idle_interval: float = 0.2,
        max_line_bytes: int = 65536,
        queue_lines: int = QUEUE_LINES,
    ) -> None:
        super().__init__(name, idle_interval, queue_lines)
        self._max = max_line_bytes
        self.received = 0
        self.dropped = 0
        family, address = _resolve(name, socket.SOCK_DGRAM, host, port)
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            self._sock.bind(address)
        except OSError as exc:
            self._sock.close()
            raise _listen_error(name, port, exc) from exc
        try:  # a deep kernel queue absorbs bursts while the pipeline is busy
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF_BYTES)
        except OSError:
            logger.debug("%s: could not raise SO_RCVBUF", name)
        self._sock.settimeout(POLL_SECONDS)
        self.address: tuple[str, int] = self._sock.getsockname()[:2]
        self._thread = threading.Thread(target=self._receive, name=f"udp {name}", daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._closing.is_set():
            try:
                data = self._sock.recv(65535)
            except TimeoutError:
                continue
            except OSError:
                if self._closing.is_set():
                    return
                logger.exception("%s: receive failed", self.name)
                time.sleep(POLL_SECONDS)
                continue
            lines = split_lines(data, self._max)
            if not lines:
                continue
            if self._buffer.offer([Chunk(lines)]):
                self.received += len(lines)
            else:
                self.dropped += len(lines)

    def close(self) -> None:
        if self._closing.is_set():
            return
        self._closing.set()
        self._thread.join()
        self._sock.close()


class HttpSource(_BufferedSource):
    """An EventLogging beacon endpoint: ``GET /beacon/event?<json>`` and ``POST /v1/events``.

    Each event becomes its own chunk so its ``defaults`` can carry a fresh uuid4; ``recvFrom``,
    ``timestamp`` and ``userAgent`` come from the request, never the client address.
    """

    _merge = False

    def __init__(
        self,
        name: str,
        host: str,
        port: int,
        *,
        idle_interval: float = 0.2,
        max_line_bytes: int = 65536,
        max_body_bytes: int = 65536,
        queue_lines: int = QUEUE_LINES,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        super().__init__(name, idle_interval, queue_lines)
        self.max_line_bytes = max_line_bytes
        self.max_body_bytes = max_body_bytes
        self.max_connections = max_connections
        self.hostname = socket.gethostname().split(".")[0]
        self.requests = 0
        self.rejected = 0
        self.busy = 0
        self._count_lock = threading.Lock()
        family, address = _resolve(name, socket.SOCK_STREAM, host, port)
        try:
            self._server = _BeaconServer(family, address, self)
        except OSError as exc:
            raise _listen_error(name, port, exc) from exc
        self.address: tuple[str, int] = self._server.server_address[:2]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": POLL_SECONDS},
            name=f"http {name}",
            daemon=True,
        )
        self._thread.start()

    def offer(self, lines: list[bytes], defaults: dict[str, object]) -> bool:
        """Queue one chunk per line, each with its own uuid; all or nothing."""
        chunks = [Chunk([line], {**defaults, "uuid": uuid.uuid4().hex}) for line in lines]
        return self._buffer.offer(chunks)

    def count(self, status: int) -> None:
        with self._count_lock:
            self.requests += 1
            if 400 <= status < 500:
                self.rejected += 1
            elif status == HTTPStatus.SERVICE_UNAVAILABLE:
                self.busy += 1

    def close(self) -> None:
        if self._closing.is_set():
            return
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._server.close_connections()
        self._thread.join()


class _BeaconServer(HTTPServer):
    """A thread per connection, tracked so ``close`` can end idle keep-alive ones and join them.

    (``ThreadingHTTPServer`` does not join daemon threads, and non-daemon ones would hold the
    process open on a stuck client.)
    """

    request_queue_size = 128

    def __init__(self, family: int, address: tuple, source: HttpSource) -> None:
        self.address_family = family
        self.source = source
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._connections_lock = threading.Lock()
        super().__init__(address, _BeaconHandler)

    def server_bind(self) -> None:
        """Bind without ``HTTPServer``'s reverse DNS lookup of the host, which can stall."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def process_request(self, request: socket.socket, client_address: object) -> None:
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
                request.sendall(_BUSY)
            self.shutdown_request(request)
            return
        thread.start()

    def _serve(self, request: socket.socket, client_address: object) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)

    def shutdown_request(self, request: socket.socket) -> None:
        with self._connections_lock:
            self._connections.pop(request, None)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End every connection's handler: shut the socket down under it, then join it."""
        with self._connections_lock:
            connections = list(self._connections.items())
        for conn, _ in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                conn.shutdown(socket.SHUT_RDWR)
        for _, thread in connections:
            thread.join(timeout=2)
            if thread.is_alive():
                logger.warning("%s: a request handler did not stop", self.source.name)

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that vanishes mid-request is routine, not a traceback on stderr."""
        logger.debug("%s: request failed", self.source.name, exc_info=True)


class _BeaconHandler(BaseHTTPRequestHandler):
    """Routes every method through ``_dispatch`` so unknown paths are 404 and methods 405."""

    protocol_version = "HTTP/1.1"
    server_version = "el-monitor"
    sys_version = ""
    timeout = 15  # idle keep-alive connections are closed after this many seconds
    server: _BeaconServer

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
            defaults["_optout"] = True  # honoured later in the pipeline, not dropped here
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
    original bytes; bytes that are not valid UTF-8 are kept for the parser to judge.
    """
    raw = query.encode("latin-1", "replace").strip(b"?;").replace(b"+", b" ")
    return clean_line(unquote_to_bytes(raw), max_line_bytes)


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
