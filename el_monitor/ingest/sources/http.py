"""``http://`` input: an EventLogging beacon endpoint, a thread per connection.

``GET /beacon/event?<json>`` answers 204 and ``POST /v1/events`` (a JSON array) 202.  This is
the pipeline's side (a bounded queue, a chunk and a uuid per event); the HTTP server and its
request handling live in ``beacon``.
"""

from __future__ import annotations

import logging
import socket
import threading
import uuid
from http import HTTPStatus

from el_monitor.event.names import short_hostname
from el_monitor.ingest.sources.base import Chunk
from el_monitor.ingest.sources.beacon import BeaconServer
from el_monitor.ingest.sources.network import (
    POLL_SECONDS,
    QUEUE_LINES,
    BufferedSource,
    listen_error,
    resolve,
)

logger = logging.getLogger(__name__)

MAX_CONNECTIONS = 512  # open beacon connections, a thread each; more are answered 503


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
