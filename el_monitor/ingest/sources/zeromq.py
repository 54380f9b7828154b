"""``tcp://`` input: EventLogging's own ZeroMQ stream, read as its consumers read it.

EventLogging's processors published on a ZeroMQ PUB socket and its consumers subscribed with a
SUB socket connected to it, subscribed to everything, one line per message (raw lines or JSON
events).  This source is such a consumer, so el-monitor can sit beside a running EventLogging
and count and validate what it sees, or replace one of its consumers.

ZeroMQ connects (and reconnects, with back-off, after the publisher restarts) on its own I/O
thread; a receiver thread here moves messages into the shared byte-bounded ``ChunkBuffer``.  A
message is cut into lines like a UDP datagram (several lines, an over-long line kept to one
byte past ``max_line_bytes`` so the parser counts it).  Memory is bounded by ZeroMQ's RCVHWM
(messages queued before this thread takes them), the largest message it accepts (the buffer's
size: a bigger one could never be queued, and ZeroMQ drops that connection and reconnects)
and the buffer; what does not fit the buffer is counted in ``dropped``, as UDP does.

PUB/SUB is fire-and-forget: a publisher drops messages for a subscriber that is slow or not
yet connected, and tells nobody, so what is lost upstream is a count nobody can know.  For a
durable feed, publish into NATS JetStream (``el-monitor publish``) and forward from
``nats://``.
"""

from __future__ import annotations

import logging
import socket
import time
from typing import NamedTuple
from urllib.parse import parse_qs, urlsplit

import zmq
from zmq.utils.monitor import recv_monitor_message

from el_monitor.errors import UserError
from el_monitor.ingest.sources.lines import split_lines
from el_monitor.ingest.sources.network import (
    POLL_SECONDS,
    QUEUE_BYTES,
    QUEUE_LINES,
    ReceiverSource,
    resolve,
)

log = logging.getLogger(__name__)

RCVHWM = 10_000
"""Messages ZeroMQ holds for this subscriber before the publisher starts dropping them."""
RECONNECT_MAX_MS = 5000
"""Back-off ceiling between reconnection attempts to a publisher that is away."""
_WATCHED = zmq.EVENT_CONNECTED | zmq.EVENT_DISCONNECTED | zmq.EVENT_CONNECT_RETRIED
SHAPE = "tcp://HOST:PORT[?subscribe=PREFIX]"


class ZmqAddress(NamedTuple):
    """Where the publisher is, and the message prefix subscribed to (empty: everything)."""

    endpoint: str
    host: str
    port: int
    subscribe: bytes


def parse_zmq_uri(uri: str) -> ZmqAddress:
    """``tcp://HOST:PORT[?subscribe=PREFIX]``, EventLogging's reader address; a mistake is
    one ``UserError`` line."""
    parts = urlsplit(uri)
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or not port or parts.path not in ("", "/") or parts.fragment:
        raise UserError(f"malformed input {uri!r}: write {SHAPE}, the publisher's address")
    if parts.username or parts.password:
        raise UserError(f"malformed input {uri!r}: write {SHAPE}, the publisher's address")
    query = parse_qs(parts.query, keep_blank_values=True)
    if set(query) - {"subscribe"} or len(query.get("subscribe", [""])) != 1:
        raise UserError(f"malformed input {uri!r}: the only option is ?subscribe=PREFIX")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    subscribe = query.get("subscribe", [""])[0].encode()
    return ZmqAddress(f"tcp://{host}:{port}", parts.hostname, port, subscribe)


class ZmqSource(ReceiverSource):
    """Lines from a ZeroMQ publisher (each message may hold several lines)."""

    _merge = True

    def __init__(
        self,
        name: str,
        address: ZmqAddress,
        *,
        idle_interval: float = 0.2,
        max_line_bytes: int = 65536,
        queue_bytes: int = QUEUE_BYTES,
        queue_lines: int = QUEUE_LINES,
    ) -> None:
        super().__init__(name, idle_interval, queue_bytes, queue_lines)
        resolve(name, socket.SOCK_STREAM, address.host, address.port)  # ZeroMQ would not say
        self._endpoint = address.endpoint
        self._retrying = False
        self._max = max_line_bytes
        self._context = zmq.Context(io_threads=1)
        self._sock = self._context.socket(zmq.SUB)
        try:
            self._sock.setsockopt(zmq.RCVHWM, RCVHWM)
            self._sock.setsockopt(zmq.MAXMSGSIZE, queue_bytes)
            self._sock.setsockopt(zmq.RECONNECT_IVL_MAX, RECONNECT_MAX_MS)
            self._sock.setsockopt(zmq.LINGER, 0)
            self._sock.setsockopt(zmq.SUBSCRIBE, address.subscribe)
            self._monitor = self._sock.get_monitor_socket(_WATCHED)
            self._sock.connect(address.endpoint)
        except zmq.ZMQError as exc:
            self._context.destroy(linger=0)
            raise UserError(f"{name}: cannot subscribe to {address.endpoint} ({exc})") from exc
        self.start()

    def _receive(self) -> None:
        """Move messages into the buffer until told to stop; the socket is this thread's."""
        poller = zmq.Poller()
        poller.register(self._sock, zmq.POLLIN)
        poller.register(self._monitor, zmq.POLLIN)
        full = False
        while self._receiving.is_set():
            ready = dict(poller.poll(int(POLL_SECONDS * 1000)))
            if self._monitor in ready:
                self._connection_event()
            if self._sock not in ready:
                continue
            while self._receiving.is_set():
                try:
                    data = self._sock.recv(zmq.NOBLOCK, copy=True)
                except zmq.Again:
                    break
                except zmq.ZMQError:
                    log.exception("%s: receive failed", self.name)
                    time.sleep(POLL_SECONDS)  # not spinning on a socket that keeps failing
                    break
                lines = split_lines(data, self._max)
                if not lines:
                    continue
                if self._take(lines):
                    full = False
                    continue
                if not full:
                    log.warning("%s: queue full, dropping events until the pipeline catches up "
                                "(%d dropped so far)", self.name, self.dropped)  # fmt: skip
                full = True

    def _connection_event(self) -> None:
        """Log the connection's ups and downs once each: a publisher away is otherwise silent."""
        event = recv_monitor_message(self._monitor)["event"]
        if event == zmq.EVENT_CONNECTED:
            log.info("%s: connected to the publisher", self.name)
            self._retrying = False
        elif event == zmq.EVENT_DISCONNECTED:
            log.warning("%s: the publisher went away; reconnecting (what it publishes "
                        "meanwhile is lost)", self.name)  # fmt: skip
        elif event == zmq.EVENT_CONNECT_RETRIED and not self._retrying:
            log.warning("%s: no publisher answers at %s; retrying", self.name, self._endpoint)
            self._retrying = True

    def _release(self) -> None:
        """What ZeroMQ still holds, not yet received, is given up with the socket."""
        self._sock.disable_monitor()
        self._monitor.close()
        self._sock.close()
        self._context.term()
        if self.dropped:
            log.warning("%s: %d events dropped while the queue was full", self.name, self.dropped)
