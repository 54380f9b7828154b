"""Interval counts out to carbon's plaintext port, without ever holding up the forwarder.

The forwarder calls ``MetricEmitter.submit`` every flush interval from its hot loop.  ``submit``
only turns the interval into ``(name, value, timestamp)`` points and appends them to a bounded
buffer; one daemon thread owns the socket (graphitesend) and does all the waiting: connecting,
sending with a timeout, backing off while carbon is down.  When the buffer is full the oldest
points go first and are counted, because the newest are what a check looks at.

Every point carries its own timestamp, so re-sending a batch after a failed send is harmless:
whisper keeps one value per timestamp and the repeat writes the same value again.
"""

from __future__ import annotations

import contextlib
import logging
import math
import socket
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

import graphitesend

from el_monitor.counts.counters import Interval
from el_monitor.errors import UserError
from el_monitor.event.names import short_hostname
from el_monitor.graphite.names import (
    DEFAULT_PREFIX,
    PREFIX,
    MetricNames,
    node,
)
from el_monitor.hostport import parse_host_port

log = logging.getLogger(__name__)

Socket = socket.socket
Point = tuple[str, float, int]  # (metric name, value, unix timestamp)
ErrorDeltas = Mapping[str, Mapping[tuple[str, str | None], int]]

DEFAULT_PORT = 2003
BATCH_POINTS = 1000  # points per write (one interval of 55 schemas is ~800): a short lock hold
DROP_LOG_INTERVAL = 60.0  # seconds between "points dropped" warnings


@dataclass(frozen=True)
class GraphiteSettings:
    """Where and how to send; validated here so a bad flag fails at start, not in the thread."""

    host: str
    port: int = DEFAULT_PORT
    prefix: str = DEFAULT_PREFIX
    instance: str = ""  # "" → the short host name
    interval: float = 10.0  # seconds between flushes (the forwarder calls submit at this pace)
    buffer_points: int = 100_000  # points waiting for carbon; the oldest go first past this
    send_timeout: float = 5.0  # seconds a connect or a write to carbon may take
    retry_min: float = 1.0  # first reconnect delay; doubles on each failure...
    retry_max: float = 60.0  # ...up to this
    max_error_names: int = 500  # distinct error metrics; paths past it go to `<code>.other`

    def __post_init__(self) -> None:
        if not self.host:
            raise UserError("Graphite host is empty; give --graphite HOST[:PORT]")
        if not 0 < self.port < 65536:
            raise UserError(f"Graphite port {self.port} is not between 1 and 65535")
        if not PREFIX.fullmatch(self.prefix):
            raise UserError(
                f"Graphite prefix {self.prefix!r} must be dot-separated nodes of "
                "letters, digits, '_' and '-' (e.g. eventlogging)"
            )
        for name in ("interval", "send_timeout", "retry_min", "retry_max"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise UserError(f"Graphite {name} must be a positive number of seconds")
        if self.buffer_points < 1 or self.max_error_names < 0:
            raise UserError("Graphite buffer_points must be ≥ 1 and max_error_names ≥ 0")

    def instance_name(self) -> str:
        """This forwarder's node in metric names."""
        return node(self.instance or short_hostname())


def parse_address(text: str) -> tuple[str, int]:
    """``host:port``, ``host`` (port 2003) or ``[ipv6]:port`` → ``(host, port)``."""
    try:
        return parse_host_port(text, DEFAULT_PORT)  # type: ignore[return-value]
    except ValueError as exc:
        raise UserError(
            f"Graphite address {text!r}: {exc}; "
            "expected HOST[:PORT], e.g. graphite.example.org:2003 or [::1]:2003"
        ) from None


def metric_points(
    interval: Interval,
    snapshot_errors: ErrorDeltas | None,
    prefix: str,
    instance: str,
    timestamp: int,
) -> list[Point]:
    """Every point of one interval: count and rate of each measure for every scope present
    (zeros included, so "no events" is 0 and only a silent forwarder leaves a gap), plus the
    error groups that grew (``snapshot_errors`` holds per-scope deltas, not cumulative counts)
    and the overall-only counts (``not_logged``, the source's losses) that grew."""
    names = MetricNames(prefix, instance, max_error_names=1 << 30)
    return _points(names, interval, snapshot_errors, timestamp)


def _points(
    names: MetricNames, interval: Interval, errors: ErrorDeltas | None, timestamp: int
) -> list[Point]:
    seconds = interval.seconds
    out: list[Point] = []
    append = out.append
    for scope, values in interval.counts.items():
        for measure, count_name, rate_name in names.measures(scope):
            count = values.get(measure, 0)
            append((count_name, count, timestamp))
            append((rate_name, count / seconds, timestamp))
        for sparse, count_name, rate_name in names.sparse(scope):
            count = values.get(sparse, 0)
            if count > 0:
                append((count_name, count, timestamp))
                append((rate_name, count / seconds, timestamp))
    if errors:
        # Summed by name: two paths may sanitise to one node, and carbon would keep only
        # the last of two points with the same name and timestamp.
        totals: dict[str, int] = {}
        for scope, groups in errors.items():
            for (code, path), delta in groups.items():
                if delta > 0:  # counts only grow; a negative delta is a counter reset
                    name = names.error(scope, code, path)
                    totals[name] = totals.get(name, 0) + delta
        out.extend((name, total, timestamp) for name, total in totals.items())
    return out


def plaintext_line(name: str, value: float, timestamp: float | None) -> str:
    """One carbon plaintext line, as graphitesend's formatter writes it but without its
    per-point debug logging (two lines per point under ``-v``) and with exact values: ``%f``
    would print a rate of 4e-7 events/s as 0."""
    return f"{name} {value!r} {int(timestamp if timestamp is not None else time.time())}\n"


class _CarbonClient(graphitesend.GraphiteClient):
    """graphitesend's plaintext client, with a connect that does IPv6 and fractional timeouts
    (the stock one uses an AF_INET socket and ``int(timeout)``) and a disconnect that closes
    the socket instead of leaving it to the garbage collector."""

    socket: Socket | None = None

    def connect(self) -> Socket:
        host, port = self.addr
        try:
            self.socket = socket.create_connection(self.addr, timeout=self.timeout_in_seconds)
        except OSError as exc:
            raise graphitesend.GraphiteSendException(
                f"cannot connect to {host}:{port}: {exc.strerror or exc}"
            ) from exc
        return self.socket

    def disconnect(self) -> None:
        sock, self.socket = getattr(self, "socket", None), None
        if sock is not None:
            sock.close()


class _Connection:
    """The sender thread's link to carbon: lazy connect, backoff after a failure, and one
    warning per outage.  Only ``abort`` may be called from another thread."""

    def __init__(self, settings: GraphiteSettings) -> None:
        self.address = f"{settings.host}:{settings.port}"
        self.settings = settings
        self.client = _CarbonClient(
            graphite_server=settings.host,
            graphite_port=settings.port,
            prefix="",  # names arrive complete: no "systems.<fqdn>." in front
            system_name="",
            group=None,
            suffix=None,
            lowercase_metric_names=False,  # schema names are case-sensitive
            clean_metric_name=False,  # it would turn '-' in schema names into '_'
            connect_on_create=False,  # the caller's thread must never touch the network
            autoreconnect=False,  # its retry loop sleeps; ours backs off without blocking
        )
        self.client.socket = None  # None while disconnected
        self.retry_at = 0.0
        self.backoff = settings.retry_min
        self.down_since: float | None = None
        self.aborted = False  # close() gave up waiting: a failure now is no outage

    def send(self, batch: list[Point], timeout: float) -> bool:
        """Write one batch; on failure disconnect, schedule the retry and say so."""
        client = self.client
        try:
            sock = client.socket
            if sock is not None and _peer_closed(sock):
                self.close()  # carbon restarted: reconnect now rather than lose this batch
                sock = None
            if sock is None:
                client.timeout_in_seconds = timeout
                sock = client.connect()
            sock.settimeout(timeout)
            client.send_list(batch, formatter=plaintext_line)
        except (graphitesend.GraphiteSendException, OSError) as exc:
            self.close()
            cause = exc.__context__
            if cause is not None and not isinstance(cause, OSError):
                raise  # not the network (an unencodable name?): a retry would fail forever
            self._failed(exc)
            return False
        if self.down_since is not None:
            log.warning(
                "graphite: sending to %s again after %.0f s",
                self.address,
                time.monotonic() - self.down_since,
            )
            self.down_since = None
        self.backoff = self.settings.retry_min
        return True

    def retry_in(self) -> float:
        return self.retry_at - time.monotonic()

    def _failed(self, exc: BaseException) -> None:
        now = time.monotonic()
        self.retry_at = now + self.backoff
        self.backoff = min(self.backoff * 2, self.settings.retry_max)
        if self.aborted:
            return
        if self.down_since is None:
            self.down_since = now
            log.warning(
                "graphite: cannot send metrics to %s (%s); keeping up to %d points and "
                "retrying with backoff up to %g s",
                self.address,
                exc,
                self.settings.buffer_points,
                self.settings.retry_max,
            )
        else:
            log.debug("graphite: %s still unreachable: %s", self.address, exc)

    def close(self) -> None:
        self.client.disconnect()

    def abort(self) -> None:
        """Break a send blocked on a carbon that does not read (called by ``close``)."""
        self.aborted = True
        sock = self.client.socket
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def _peer_closed(sock: Socket) -> bool:
    """Carbon never writes on the plaintext port, so anything readable means EOF/reset."""
    sock.setblocking(False)  # a peek, not select(): it works for any descriptor number
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


class MetricEmitter:
    """Sends interval counts to carbon from one daemon thread; ``submit`` never blocks."""

    def __init__(self, settings: GraphiteSettings) -> None:
        self.settings = settings
        self.interval = settings.interval  # the forwarder's flush pace (MetricSink protocol)
        self.instance = settings.instance_name()
        self.sent = 0  # points written to carbon's socket
        self.dropped = 0  # points lost: buffer full, or still buffered at close
        self._names = MetricNames(settings.prefix, self.instance, settings.max_error_names)
        self._buffer: deque[Point] = deque(maxlen=settings.buffer_points)
        self._lock = threading.Lock()  # guards _buffer, dropped, _closed
        self._wake = threading.Event()  # points arrived, or closing
        self._closing = threading.Event()
        self._closed = False
        self._deadline = math.inf
        self._connection = _Connection(settings)
        self._thread = threading.Thread(target=self._run, name="graphite-sender", daemon=True)
        self._thread.start()

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def submit(self, interval: Interval, errors: ErrorDeltas | None = None) -> None:
        """Queue one interval's points; past the buffer's bound the oldest points are dropped."""
        try:
            points = _points(self._names, interval, errors, int(interval.end))
            with self._lock:
                if self._closed:
                    self.dropped += len(points)
                    return
                before = len(self._buffer)
                self._buffer.extend(points)  # the deque's maxlen pushes out the oldest
                self.dropped += before + len(points) - len(self._buffer)
            self._wake.set()
        except Exception:  # a metrics bug must never stop forwarding
            log.exception("graphite: could not queue this interval's metric points")

    def close(self, timeout: float = 2.0) -> None:
        """One last attempt to send what is buffered, bounded by ``timeout``; then stop."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._deadline = time.monotonic() + max(timeout, 0.0)
        self._closing.set()
        self._wake.set()
        self._thread.join(max(timeout, 0.0))
        if self._thread.is_alive():  # stuck writing to a carbon that does not read
            self._connection.abort()
            self._thread.join(0.5)

    # --- the sender thread -------------------------------------------------------------

    def _run(self) -> None:
        connection = self._connection
        reported = (0, -math.inf)  # (dropped count, when) of the last drop warning
        try:
            while not self._closing.is_set():
                reported = self._report_drops(*reported)
                self._wake.clear()
                if not self._buffer:
                    self._wake.wait(DROP_LOG_INTERVAL)
                elif connection.retry_in() > 0:
                    self._closing.wait(connection.retry_in())
                else:
                    self._send_batch(self.settings.send_timeout)
            self._flush()
        except Exception:
            log.exception("graphite: metric sender stopped; metrics are no longer sent")
        finally:
            connection.close()
            self._report_drops(*reported, force=True)
            with self._lock:
                lost = len(self._buffer)
                self._buffer.clear()
                self.dropped += lost
            if lost:
                log.warning("graphite: %d metric points still buffered at shutdown are lost", lost)

    def _flush(self) -> None:
        """The last attempt at close: ignore the backoff, stop at the deadline."""
        while self._buffer:
            remaining = self._deadline - time.monotonic()
            if remaining <= 0.01 or not self._send_batch(
                min(remaining, self.settings.send_timeout)
            ):
                return

    def _send_batch(self, timeout: float) -> bool:
        with self._lock:
            batch = [self._buffer.popleft() for _ in range(min(BATCH_POINTS, len(self._buffer)))]
        try:
            ok = self._connection.send(batch, timeout)
        except Exception:  # unsendable (a bug): drop it rather than retry it forever
            log.exception("graphite: dropped %d metric points that could not be sent", len(batch))
            with self._lock:
                self.dropped += len(batch)
            return False
        if ok:
            self.sent += len(batch)
            return True
        with self._lock:
            # Back at the front, in order; the batch is older than anything queued since, so
            # when there is not room for all of it, its oldest points are the ones to drop.
            room = self.settings.buffer_points - len(self._buffer)
            if len(batch) > room:
                self.dropped += len(batch) - room
                batch = batch[len(batch) - room :]
            self._buffer.extendleft(reversed(batch))
        return False

    def _report_drops(self, last: int, when: float, force: bool = False) -> tuple[int, float]:
        """Warn about dropped points at most once a minute (every drop, if forced at close)."""
        dropped, now = self.dropped, time.monotonic()
        if dropped == last or (not force and now - when < DROP_LOG_INTERVAL):
            return last, when
        log.warning(
            "graphite: dropped %d metric points (%d in total): carbon at %s is not keeping up "
            "and the buffer holds %d points",
            dropped - last,
            dropped,
            self._connection.address,
            self.settings.buffer_points,
        )
        return dropped, now
