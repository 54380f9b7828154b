"""``http://`` input: an EventLogging beacon endpoint served by asyncio on one thread.

``GET /beacon/event?<json>`` answers 204 and ``POST /v1/events`` (a JSON array) 202.  This is
the pipeline's side; the server and request handling live in ``beacon``, HTTP framing in
``httpwire`` and the write-ahead journal in ``journal``.

What a 2xx promises:

- Always: the events are in the byte-bounded queue, which is full → 503 with ``Retry-After``
  (the backpressure when the pipeline stalls).  On stop the server answers 503 to anything
  new and closes its listener, then the queue is handed over to the end, so the forwarder
  stores, spools or (database away, no spool) writes a rescue file of it before exiting.
- With a journal (``--spool-dir``): also on disk.  The request is appended to the journal and
  answered only after an fsync covering it, so the events survive SIGKILL and are replayed at
  the next start (idempotent by their uuid).  The journal holds raw requests until the
  checkpoint passes them, as the spool holds batches; a request whose sender asked not to be
  tracked (DNT, GPC) is only counted, so it is never written there.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import socket
import threading
import uuid
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path

from el_monitor.counts.counters import SourceTally
from el_monitor.errors import UserError
from el_monitor.event.names import short_hostname
from el_monitor.ingest.sources.base import OPTOUT_FLAG, Chunk
from el_monitor.ingest.sources.beacon import BeaconServer
from el_monitor.ingest.sources.journal import Journal, encode, request_chunks
from el_monitor.ingest.sources.network import (
    LINE_OVERHEAD,
    QUEUE_BYTES,
    QUEUE_LINES,
    BufferedSource,
    bound_sockets,
)

logger = logging.getLogger(__name__)

RESERVED_FILES = 256  # descriptors kept for the database, logs, spool and journal
REQUEST_SECONDS = 10.0  # the whole request: request line, headers and body
IDLE_SECONDS = 15.0  # a keep-alive connection with no request in progress
CLOSE_GRACE = 5.0  # how long close waits for answers being sent
JOURNAL_DIR = "http-journal"  # under --spool-dir


def raise_open_files_limit() -> int:
    """Raise the soft limit on open files to the hard one (each connection holds one), and
    return the limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            logger.debug("could not raise the open files limit from %d", soft)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def connection_limit(requested: int | None) -> int:
    """How many connections a beacon serves at once: ``requested``, else as many as open
    files allow (raised to the hard limit) beside the ones kept for everything else."""
    files = raise_open_files_limit()
    return requested or max(16, files - RESERVED_FILES)


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
        queue_bytes: int = QUEUE_BYTES,
        queue_lines: int = QUEUE_LINES,
        max_connections: int | None = None,
        request_seconds: float = REQUEST_SECONDS,
        idle_seconds: float = IDLE_SECONDS,
        journal_dir: str | Path | None = None,
        sock: socket.socket | None = None,
    ) -> None:
        """``sock``, when given, is already listening (a worker's share of the port) and is
        served instead of binding ``host:port``."""
        super().__init__(name, idle_interval, queue_bytes, queue_lines)
        self.max_line_bytes = max_line_bytes
        self.max_body_bytes = max_body_bytes
        self.max_connections = connection_limit(max_connections)
        self.request_seconds = request_seconds
        self.idle_seconds = idle_seconds
        self.hostname = short_hostname()
        self.requests = 0
        self.rejected = 0
        self.busy = 0
        self.journal = Journal(journal_dir) if journal_dir is not None else None
        if sock is None:
            try:
                (sock,) = bound_sockets(name, socket.SOCK_STREAM, host, port)
            except UserError:
                if self.journal is not None:
                    self.journal.close()
                raise
        bound, bound_port = sock.getsockname()[:2]
        self.address: tuple[str, int] = (str(bound), bound_port)
        self._loop = asyncio.new_event_loop()
        self._server = BeaconServer(self, sock)
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"http {name}")
        self._thread.daemon = True
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._server.start(), self._loop).result()
        logger.info("%s: listening on http://%s:%d", name, bound, bound_port)

    def _before_live(self, stop: threading.Event) -> Iterator[Chunk]:
        """What the journal holds past its checkpoint, all of it even when stopping (a live
        position committed after a partial replay would drop the rest)."""
        if self.journal is None:
            return iter(())
        return self._replay(self.journal)

    def _replay(self, journal: Journal) -> Iterator[Chunk]:
        events = 0
        for chunks in journal.replay():
            events += sum(len(chunk.lines) for chunk in chunks)
            yield from chunks
        if events:
            logger.warning("%s: replayed %d accepted events from the journal in %s",
                           self.name, events, journal.directory)  # fmt: skip

    async def accept(self, lines: list[bytes], defaults: dict[str, object]) -> bool:
        """Queue a request's events (one chunk, a uuid each), all or nothing; with a
        journal, return only once they are on disk.  Runs on the event loop's thread, the
        queue's only producer."""
        uuids = [uuid.uuid4().hex for _ in lines]
        journal = self.journal
        if journal is None or defaults.get(OPTOUT_FLAG):  # DNT/GPC: counted, never written
            return self._buffer.offer(request_chunks(defaults, uuids, lines, None))
        if not self._buffer.fits(len(lines), sum(map(len, lines)) + LINE_OVERHEAD * len(lines)):
            return False
        try:
            position, mark = journal.append(encode(defaults, uuids, lines))
        except OSError as exc:
            logger.error("%s: cannot write the journal (%s); answering 503", self.name, exc)
            return False
        if not self._buffer.offer(request_chunks(defaults, uuids, lines, position)):
            raise RuntimeError("the queue refused what it said fits: a second producer?")
        try:
            await journal.synced(mark)
        except OSError:
            return False  # queued, but not durable: the client is told to retry
        return True

    def count(self, status: int) -> None:
        """Every answer, on the event loop's thread."""
        self.requests += 1
        if status == HTTPStatus.SERVICE_UNAVAILABLE:
            self.busy += 1
        elif status >= 400:  # the client's fault (505 too: a version we do not speak)
            self.rejected += 1

    def stop_receiving(self) -> None:
        """Answer 503 from now on and close the listener; returns once that is in force, so
        nothing more can be queued."""
        if self._loop.is_running():
            done = threading.Event()

            def stop() -> None:
                self._server.stop_accepting()
                done.set()

            self._loop.call_soon_threadsafe(stop)
            done.wait()

    def tally(self) -> SourceTally:
        """The requests it refused: 4xx (the client's fault) and 503 (busy; clients retry)."""
        return SourceTally(refused=self.rejected, busy=self.busy)

    def commit(self, position: object) -> None:
        if self.journal is not None:
            self.journal.commit(position)

    def close(self) -> None:
        if self._closing.is_set():
            return
        self._closing.set()
        closing = asyncio.run_coroutine_threadsafe(self._server.close(CLOSE_GRACE), self._loop)
        try:
            closing.result(timeout=3 * CLOSE_GRACE)
        except TimeoutError:
            logger.warning("%s: connections did not close in time", self.name)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
        if self.journal is not None:
            self.journal.close()
