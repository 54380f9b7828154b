"""The beacon's HTTP server: asyncio streams on one event loop, routing, decoding events.

No thread per connection: an idle or slow connection costs a socket and a small task, so
thousands of them starve no one.  A request has a total deadline (request line, headers and
body together), so trickling a byte now and then buys nothing; an idle keep-alive connection
is closed after ``idle_seconds``.  At the connection limit the oldest connection that is not
being answered (idle, or still sending its request) is closed to make room; only when every
connection is being answered is a new one turned away with 503.  Every answer is counted
before it is sent.  Capsule fields come from the request (receive host, time, user agent),
never from the client's address.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Awaitable
from http import HTTPStatus
from typing import Protocol
from urllib.parse import unquote_to_bytes

import orjson

from el_monitor.ingest.sources.base import OPTOUT_FLAG
from el_monitor.ingest.sources.httpwire import (
    CONTINUE,
    BadRequest,
    Request,
    read_head,
    response,
)
from el_monitor.ingest.sources.lines import clean_line

logger = logging.getLogger(__name__)

BEACON_PATH = "/beacon/event"
EVENTS_PATH = "/v1/events"
_ROUTES = {BEACON_PATH: "GET", EVENTS_PATH: "POST"}
"""path → the one method it answers."""
_BUSY_HEADERS = {"Retry-After": "1"}
LINGER_SECONDS = 2.0


class Receiver(Protocol):
    """What the server needs of the source it feeds (``HttpSource``)."""

    name: str
    hostname: str
    max_line_bytes: int
    max_body_bytes: int
    max_connections: int
    request_seconds: float
    idle_seconds: float

    def accept(self, lines: list[bytes], defaults: dict[str, object]) -> Awaitable[bool]: ...

    def count(self, status: int) -> None: ...


class _Connection:
    """A connection's task and whether it is being answered (then it is never evicted)."""

    __slots__ = ("task", "answering")

    def __init__(self, task: asyncio.Task | None) -> None:
        self.task = task
        self.answering = False


class BeaconServer:
    """Serves on a bound socket from the event loop's thread (every method runs there)."""

    def __init__(self, source: Receiver, sock: socket.socket) -> None:
        self.source = source
        self.sock = sock
        self.connections: dict[_Connection, None] = {}  # insertion order: oldest first
        self.draining = False
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        limit = head_limit(self.source.max_line_bytes)
        self._server = await asyncio.start_server(
            self._serve, sock=self.sock, limit=limit, backlog=1024
        )

    def stop_accepting(self) -> None:
        """No new connections; a request from here on is answered 503 and nothing queued."""
        self.draining = True
        if self._server is not None:
            self._server.close()

    async def close(self, grace: float) -> None:
        """End idle connections now, wait up to ``grace`` for answers being sent, then cut
        what is left; returns once every connection's task has ended."""
        self.stop_accepting()
        for conn in self.connections:
            if not conn.answering and conn.task is not None:
                conn.task.cancel()
        tasks = [c.task for c in self.connections if c.task is not None]
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=grace)
        if late:
            logger.warning("%s: %d answers cut off at close", self.source.name, len(late))
            for task in late:
                task.cancel()
            await asyncio.wait(late, timeout=grace)

    def _make_room(self) -> bool:
        """At the connection limit, close the oldest connection not being answered."""
        for conn in self.connections:
            if not conn.answering and conn.task is not None:
                conn.task.cancel()
                del self.connections[conn]
                return True
        return False

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = _Connection(asyncio.current_task())
        try:
            if len(self.connections) >= self.source.max_connections and not self._make_room():
                await self._send(writer, HTTPStatus.SERVICE_UNAVAILABLE, "busy", _BUSY_HEADERS)
                return
            self.connections[conn] = None
            while await self._one_request(conn, reader, writer):
                pass
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError):
            pass  # a client that vanishes or stalls mid-answer is routine
        except asyncio.CancelledError:
            writer.transport.abort()  # evicted, or the server is closing
        except Exception:
            logger.exception("%s: request failed", self.source.name)
        finally:
            self.connections.pop(conn, None)
            writer.close()

    async def _one_request(
        self, conn: _Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Read, handle and answer one request; whether the connection stays open."""
        source = self.source
        try:
            async with asyncio.timeout(source.idle_seconds):
                first = await reader.readexactly(1)
        except (TimeoutError, asyncio.IncompleteReadError):
            return False  # idle keep-alive connection, or the client closed it
        try:
            async with asyncio.timeout(source.request_seconds):
                request = await read_head(reader, first, head_limit(source.max_line_bytes))
                method = _ROUTES.get(request.path)
                if method is None:
                    raise BadRequest(HTTPStatus.NOT_FOUND, "not found")
                if request.method != method:
                    raise BadRequest(HTTPStatus.METHOD_NOT_ALLOWED, f"use {method}", Allow=method)
                body = await self._read_body(request, reader, writer)
        except BadRequest as exc:
            conn.answering = True
            await self._send(writer, exc.status, exc.text, exc.headers, close=True)
            conn.answering = False
            await _linger(reader, writer)
            return False
        except TimeoutError:
            conn.answering = True
            await self._send(writer, HTTPStatus.REQUEST_TIMEOUT, "too slow", close=True)
            return False
        conn.answering = True
        status, text, headers = await self._handle(request, body)
        keep = status < 400 and request.keep_alive() and not self.draining
        await self._send(writer, status, text, headers, close=not keep)
        conn.answering = False
        return keep

    async def _read_body(
        self, request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bytes:
        size = request.content_length()
        limit = self.source.max_body_bytes
        if size is None:
            if request.method == "POST":
                raise BadRequest(HTTPStatus.LENGTH_REQUIRED, "Content-Length required")
            return b""
        if size > limit:
            raise BadRequest(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {limit} bytes")
        if size and request.headers.get("expect", "").lower() == "100-continue":
            writer.write(CONTINUE)
        try:
            return await reader.readexactly(size)
        except asyncio.IncompleteReadError as exc:
            raise ConnectionResetError("body shorter than Content-Length") from exc

    async def _handle(
        self, request: Request, body: bytes
    ) -> tuple[HTTPStatus, str, dict[str, str] | None]:
        source = self.source
        if request.method == "GET":
            line = decode_beacon(request.query, source.max_line_bytes)
            if not line:
                return HTTPStatus.BAD_REQUEST, "empty beacon: send /beacon/event?<json>", None
            return await self._accept([line], request, HTTPStatus.NO_CONTENT)
        lines = decode_events(body, source.max_line_bytes)
        if lines is not None:
            return await self._accept(lines, request, HTTPStatus.ACCEPTED)
        # Pass the bad body down anyway, so it is counted and logged as a parse error.
        raw = body[: source.max_line_bytes + 1] if len(body) > source.max_line_bytes else body
        if raw.strip():
            busy = await self._accept([raw], request, HTTPStatus.BAD_REQUEST)
            if busy[0] != HTTPStatus.BAD_REQUEST:
                return busy
        return HTTPStatus.BAD_REQUEST, "body must be a JSON array of events", None

    async def _accept(
        self, lines: list[bytes], request: Request, status: HTTPStatus
    ) -> tuple[HTTPStatus, str, dict[str, str] | None]:
        if not self.draining and await self.source.accept(lines, self._defaults(request)):
            return status, "", None
        return HTTPStatus.SERVICE_UNAVAILABLE, "busy; retry later", _BUSY_HEADERS

    def _defaults(self, request: Request) -> dict[str, object]:
        """Capsule fields this request supplies; the per-event uuid is added by ``accept``."""
        defaults: dict[str, object] = {
            "recvFrom": self.source.hostname,
            "timestamp": int(time.time()),
        }
        headers = request.headers
        agent = headers.get("user-agent")
        if agent is not None:
            defaults["userAgent"] = agent
        if any(headers.get(h, "").strip() == "1" for h in ("dnt", "sec-gpc")):
            defaults[OPTOUT_FLAG] = True  # honoured later in the pipeline, not dropped here
        return defaults

    async def _send(
        self,
        writer: asyncio.StreamWriter,
        status: HTTPStatus,
        text: str = "",
        headers: dict[str, str] | None = None,
        close: bool = False,
    ) -> None:
        self.source.count(status)  # before answering, so a client never sees it lag
        writer.write(response(status, text, headers, close))
        with contextlib.suppress(ConnectionError, TimeoutError):
            async with asyncio.timeout(self.source.request_seconds):
                await writer.drain()


async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Before closing on a request we did not read to its end: say we are done writing and
    discard what the client still sends, for a moment, so that closing with unread data does
    not reset the connection before the client has read our answer."""
    with contextlib.suppress(OSError, TimeoutError):
        if writer.can_write_eof():
            writer.write_eof()
        async with asyncio.timeout(LINGER_SECONDS):
            while await reader.read(65536):
                pass


def head_limit(max_line_bytes: int) -> int:
    """Longest request head read: a beacon line percent-encoded (3 bytes a byte) and headers."""
    return 3 * max_line_bytes + 1024


def decode_beacon(query: str, max_line_bytes: int) -> bytes:
    """The event of a beacon query string, decoded as EventLogging decodes ``%q``.

    The request target is kept as latin-1 text, so encoding it back gives the original bytes;
    bytes that are not valid UTF-8 are kept for the parser to judge.  A line
    break (``%0A``) between JSON tokens is valid JSON, as in EventLogging: such an event is
    written out again on one line.  Any other line break stays, and makes a parse error.
    """
    raw = query.encode("latin-1", "replace").strip(b"?;").replace(b"+", b" ")
    line = clean_line(unquote_to_bytes(raw), max_line_bytes)
    if b"\n" in line or b"\r" in line:
        try:
            return clean_line(_one_line(orjson.loads(line)), max_line_bytes)
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
        return [clean_line(_one_line(event), max_line_bytes) for event in value]
    except TypeError:  # an event nested deeper than orjson writes: the body is unreadable
        return None


def _one_line(event: object) -> bytes:
    """``event`` as one line of JSON, in bytes of its own size.  What orjson.dumps returns
    keeps orjson's whole working buffer allocated under it (16 KB for a 1.1 KB event, orjson
    3.13): queued as it is, a full 64 MB queue of real-size events held 600 MB."""
    return memoryview(orjson.dumps(event)).tobytes()
