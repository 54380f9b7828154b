"""``http://`` input: an EventLogging beacon endpoint, a thread per connection.

``GET /beacon/event?<json>`` answers 204 and ``POST /v1/events`` (a JSON array) 202; the
request's handling and decoding live in ``beacon``.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import threading
import uuid
from http import HTTPStatus
from http.server import HTTPServer
from typing import Any

from el_monitor.event.names import short_hostname
from el_monitor.ingest.sources.base import Chunk
from el_monitor.ingest.sources.beacon import BeaconHandler
from el_monitor.ingest.sources.network import (
    POLL_SECONDS,
    QUEUE_LINES,
    BufferedSource,
    listen_error,
    resolve,
)

logger = logging.getLogger(__name__)

MAX_CONNECTIONS = 512  # open beacon connections, a thread each; more are answered 503
Request = socket.socket | tuple[bytes, socket.socket]  # what socketserver hands a server
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\n"
    b"Content-Length: 0\r\n\r\n"
)


class HttpSource(BufferedSource):
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
        self.hostname = short_hostname()
        self.requests = 0
        self.rejected = 0
        self.busy = 0
        self._count_lock = threading.Lock()
        family, address = resolve(name, socket.SOCK_STREAM, host, port)
        try:
            self._server = BeaconServer(family, address, self)
        except OSError as exc:
            raise listen_error(name, port, exc) from exc
        bound, bound_port = self._server.server_address[:2]
        self.address: tuple[str, int] = (str(bound), bound_port)
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


class BeaconServer(HTTPServer):
    """A thread per connection, tracked so ``close`` can end idle keep-alive ones and join them.

    (``ThreadingHTTPServer`` does not join daemon threads, and non-daemon ones would hold the
    process open on a stuck client.)
    """

    request_queue_size = 128

    def __init__(self, family: int, address: tuple, source: HttpSource) -> None:
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


def _socket(request: Request) -> socket.socket:
    """The connection's socket (a stream server's request is the socket itself)."""
    return request if isinstance(request, socket.socket) else request[1]
