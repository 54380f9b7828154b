"""Graphite emitter: metric names and values, and a carbon that is down, restarts or stalls.

Every network test talks to a real TCP listener on 127.0.0.1 that we control.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from harness.wait import finishes, wait_until
from helpers import tcp_state

from el_monitor.counts.counters import Interval
from el_monitor.errors import UserError
from el_monitor.event.names import short_hostname
from el_monitor.graphite.emitter import (
    GraphiteSettings,
    MetricEmitter,
    metric_points,
    parse_address,
)
from el_monitor.graphite.names import path_node
from el_monitor.measures import MEASURES, NOT_LOGGED, OVERALL

POINTS = 2 * len(MEASURES)  # a count and a rate per measure: the points of one scope

SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "shared" / "schemas"


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True  # the down-then-up test rebinds a port it just probed
    daemon_threads = True


class Carbon:
    """A carbon plaintext receiver that records ``(name, value, timestamp)`` per line."""

    def __init__(self, port: int = 0) -> None:
        self.lines: list[tuple[str, float, int]] = []
        self.connections: list[socket.socket] = []
        self.clients: list[tuple[str, int]] = []  # the emitter's end of each connection
        self.lock = threading.Lock()
        carbon = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                with carbon.lock:
                    carbon.connections.append(self.request)
                    carbon.clients.append(self.client_address)
                for raw in self.rfile:
                    name, value, stamp = raw.decode("ascii").split()
                    with carbon.lock:
                        carbon.lines.append((name, float(value), int(stamp)))

        self.server = _Server(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    def received(self) -> dict[str, tuple[float, int]]:
        with self.lock:
            return {name: (value, stamp) for name, value, stamp in self.lines}

    def wait_for(self, count: int, timeout: float = 30.0) -> None:
        wait_until(
            lambda: len(self.lines) >= count,
            timeout,
            lambda: f"{count} lines at carbon (got {len(self.lines)})",
        )

    def drop_connections(self) -> None:
        """What a carbon restart looks like to a client: its connection is closed."""
        with self.lock:
            for conn in self.connections:
                conn.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class StalledCarbon:
    """Accepts connections and never reads: a carbon stuck on its disk."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen()
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                self.accepted.append(self.listener.accept()[0])

    def close(self) -> None:
        self.listener.close()
        for conn in self.accepted:
            conn.close()


def sender_in_write(sender: threading.Thread) -> bool:
    """Whether the emitter's sender thread is inside graphitesend's ``send_list``, i.e. in
    the middle of handing a batch to carbon's socket (a write that may block)."""
    frame = sys._current_frames().get(sender.ident or -1)
    while frame is not None:
        if frame.f_code.co_name == "send_list":
            return True
        frame = frame.f_back
    return False


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def interval(scopes: dict[str, dict[str, int]], start: float = 1000.0, end: float = 1010.7):
    return Interval(start, end, scopes)


def schema_names() -> list[str]:
    names = sorted(p.name for p in SCHEMAS_DIR.iterdir()) if SCHEMAS_DIR.is_dir() else []
    return names or [f"Schema{i}" for i in range(55)]


@pytest.fixture
def carbon() -> Iterator[Carbon]:
    server = Carbon()
    yield server
    server.close()


@pytest.fixture
def emitters() -> Iterator[Callable[..., MetricEmitter]]:
    made: list[MetricEmitter] = []

    def make(port: int, **options: object) -> MetricEmitter:
        options.setdefault("instance", "fwd1")
        emitter = MetricEmitter(GraphiteSettings("127.0.0.1", port, **options))  # type: ignore[arg-type]
        made.append(emitter)
        return emitter

    yield make
    for emitter in made:
        emitter.close(0.5)


# --- names and values ---------------------------------------------------------------------


def test_points_cover_every_measure_with_zeros_rates_and_the_interval_end() -> None:
    counts = {OVERALL: {"raw": 21, "valid": 20, "invalid": 1}, "NavigationTiming": {"raw": 21}}
    points = metric_points(interval(counts), None, "eventlogging", "fwd1", 1010)
    by_name = {name: (value, stamp) for name, value, stamp in points}
    assert len(points) == len(by_name) == 2 * len(MEASURES) * 2
    assert by_name["eventlogging.fwd1.overall.raw.count"] == (21, 1010)
    assert by_name["eventlogging.fwd1.overall.raw.rate"] == (pytest.approx(21 / 10.7), 1010)
    assert by_name["eventlogging.fwd1.schema.NavigationTiming.raw.count"] == (21, 1010)
    # Measures absent from the interval are 0, never missing: no events is not silence.
    assert by_name["eventlogging.fwd1.schema.NavigationTiming.invalid.count"] == (0, 1010)
    assert by_name["eventlogging.fwd1.overall.spooled.rate"] == (0.0, 1010)
    assert isinstance(by_name["eventlogging.fwd1.overall.raw.count"][0], int)


def test_error_breakdown_names_and_only_positive_deltas() -> None:
    errors = {
        "Edit-Attempt": {
            ("validation", "$.a.b[2].c"): 3,
            ("validation", "$"): 2,
            ("validation", "$.gone"): 0,
            ("store", None): 1,
        },
        OVERALL: {("unknown-schema", None): 4, ("parse", None): -1},
    }
    points = metric_points(interval({OVERALL: {}}), errors, "el", "fwd1", 5)
    errs = {name: value for name, value, _ in points if ".errors." in name}
    assert errs == {
        "el.fwd1.schema.Edit-Attempt.errors.validation.a_b_2__c.count": 3,
        "el.fwd1.schema.Edit-Attempt.errors.validation.root.count": 2,
        "el.fwd1.schema.Edit-Attempt.errors.store.none.count": 1,
        "el.fwd1.overall.errors.unknown_schema.none.count": 4,
    }


def test_paths_that_sanitise_alike_are_summed_not_overwritten() -> None:
    errors = {"S": {("validation", "$.a.b"): 2, ("validation", "$.a_b"): 5}}
    points = metric_points(interval({}), errors, "el", "i", 5)
    assert points == [("el.i.schema.S.errors.validation.a_b.count", 7, 5)]


@pytest.mark.parametrize(
    ("path", "node"),
    [
        (None, "none"),
        ("$", "root"),
        ("$.a.b[2].c", "a_b_2__c"),
        ("$.event['odd key']", "event__odd_key__"),
        ("$.x-y", "x_y"),
    ],
)
def test_path_node(path: str | None, node: str) -> None:
    assert path_node(path) == node


def test_instance_defaults_to_short_hostname_and_is_one_node() -> None:
    assert GraphiteSettings("h").instance_name() == short_hostname()
    assert "." not in short_hostname()
    assert GraphiteSettings("h", instance="web1.eqiad wmnet").instance_name() == "web1_eqiad_wmnet"
    points = metric_points(interval({OVERALL: {}}), None, "el", "a.b", 1)
    assert points[0][0] == "el.a_b.overall.raw.count"


def test_error_names_are_capped_per_emitter(carbon: Carbon, emitters) -> None:
    emitter = emitters(carbon.port, max_error_names=2)
    errors = {"S": {("validation", f"$.items[{i}]"): 1 for i in range(5)}}
    emitter.submit(interval({}), errors)
    carbon.wait_for(3)
    assert carbon.received() == {
        "eventlogging.fwd1.schema.S.errors.validation.items_0_.count": (1, 1010),
        "eventlogging.fwd1.schema.S.errors.validation.items_1_.count": (1, 1010),
        "eventlogging.fwd1.schema.S.errors.validation.other.count": (3, 1010),
    }


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("graphite:2003", ("graphite", 2003)),
        ("graphite.example.org", ("graphite.example.org", 2003)),
        ("10.0.0.1:2103", ("10.0.0.1", 2103)),
        ("[::1]:2004", ("::1", 2004)),
        ("[::1]", ("::1", 2003)),
        (" carbon:2003 ", ("carbon", 2003)),
    ],
)
def test_parse_address(text: str, address: tuple[str, int]) -> None:
    assert parse_address(text) == address


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "host"),
        (":2003", "host"),
        ("graphite:", "port ''"),
        ("graphite:abc", "port 'abc'"),
        ("graphite:70000", "port '70000'"),
        ("graphite:0", "port '0'"),
        ("::1:2003", "brackets"),
        ("http://graphite:2003", "not a URL"),
        ("gra phite", "host"),
        ("[::1]:x", "port 'x'"),
    ],
)
def test_parse_address_garbage(text: str, why: str) -> None:
    with pytest.raises(UserError, match="expected HOST\\[:PORT\\]") as caught:
        parse_address(text)
    assert why in str(caught.value)


@pytest.mark.parametrize(
    "options",
    [
        {"host": ""},
        {"port": 0},
        {"prefix": "event logging"},
        {"prefix": "a..b"},
        {"prefix": ""},
        {"interval": 0},
        {"buffer_points": 0},
        {"send_timeout": float("nan")},
    ],
)
def test_settings_refuse_nonsense(options: dict) -> None:
    with pytest.raises(UserError):
        GraphiteSettings(**{"host": "graphite", **options})


# --- the sender ---------------------------------------------------------------------------


def test_lines_reach_carbon_with_names_values_and_timestamps(carbon: Carbon, emitters) -> None:
    emitter = emitters(carbon.port, instance="web1.eqiad")
    counts = {OVERALL: {"raw": 30, "valid": 25}, "Edit-Attempt": {"raw": 30, "valid": 25}}
    emitter.submit(Interval(100.0, 110.0, counts), {"Edit-Attempt": {("validation", "$.x"): 5}})
    carbon.wait_for(2 * POINTS + 1)
    got = carbon.received()
    assert len(got) == 2 * POINTS + 1  # two scopes and one error group
    assert got["eventlogging.web1_eqiad.overall.duplicate.count"] == (0, 110)
    assert got["eventlogging.web1_eqiad.overall.raw.count"] == (30, 110)
    assert got["eventlogging.web1_eqiad.overall.raw.rate"] == (3.0, 110)
    assert got["eventlogging.web1_eqiad.schema.Edit-Attempt.valid.rate"] == (2.5, 110)
    assert got["eventlogging.web1_eqiad.schema.Edit-Attempt.opted_out.count"] == (0, 110)
    assert got["eventlogging.web1_eqiad.schema.Edit-Attempt.errors.validation.x.count"] == (5, 110)
    emitter.close()
    assert (emitter.sent, emitter.dropped) == (2 * POINTS + 1, 0)


def test_carbon_down_then_up_gets_the_backlog(caplog: pytest.LogCaptureFixture, emitters) -> None:
    caplog.set_level(logging.DEBUG, logger="el_monitor.graphite.emitter")
    port = closed_port()
    emitter = emitters(port, retry_min=0.05, retry_max=0.2)
    emitter.submit(interval({OVERALL: {"raw": 1}}, 0, 10), None)
    wait_until(lambda: "cannot send metrics" in caplog.text, 30, "the outage warning")
    emitter.submit(interval({OVERALL: {"raw": 2}}, 10, 20), None)
    # Several refused retries (each logged at debug level): still one warning for the outage.
    wait_until(
        lambda: caplog.text.count("still unreachable") >= 3, 30, "three more refused retries"
    )
    assert caplog.text.count("cannot send metrics") == 1
    assert emitter.buffered == 2 * POINTS and emitter.sent == 0

    carbon = Carbon(port)
    try:
        carbon.wait_for(2 * POINTS)
        assert carbon.lines[0] == ("eventlogging.fwd1.overall.raw.count", 1, 10)
        assert ("eventlogging.fwd1.overall.raw.count", 2, 20) in carbon.lines
        wait_until(lambda: emitter.sent == 2 * POINTS, 30, "sent to be counted")
        assert emitter.dropped == 0
        assert f"sending to 127.0.0.1:{port} again" in caplog.text
    finally:
        emitter.close()
        carbon.close()


def test_carbon_restart_loses_nothing(carbon: Carbon, emitters) -> None:
    emitter = emitters(carbon.port)
    emitter.submit(interval({OVERALL: {"raw": 1}}, 0, 10), None)
    carbon.wait_for(POINTS)
    carbon.drop_connections()
    # The first write after a peer's close would "succeed" into the void; the emitter notices
    # the closed connection first and reconnects. It can only notice a close that reached its
    # end: the kernel has the FIN once the emitter's end of the connection is in CLOSE_WAIT.
    (client,) = carbon.clients
    wait_until(
        lambda: tcp_state(client[1], carbon.port) == "CLOSE_WAIT",
        30,
        "carbon's close to reach the emitter's end of the connection",
    )
    emitter.submit(interval({OVERALL: {"raw": 2}}, 10, 20), None)
    carbon.wait_for(2 * POINTS)
    assert len(carbon.connections) == 2
    assert ("eventlogging.fwd1.overall.raw.count", 2, 20) in carbon.lines


def test_stalled_carbon_never_slows_submit_and_drops_are_counted(
    caplog: pytest.LogCaptureFixture, emitters
) -> None:
    """While the sender is stuck in a write to a carbon that never reads, ``submit`` still
    returns, every time, and the points it pushes out of the full buffer are counted.

    No stopwatch: a round of 200 submits that starts and ends inside one and the same write
    (the sender in graphitesend's ``send_list`` before and after, ``sent`` unchanged) proves
    that none of them waited for it. Until the kernel's socket buffers are full a write may
    still complete during a round, so rounds are repeated until one is spanned by a write.
    """
    caplog.set_level(logging.WARNING, logger="el_monitor.graphite.emitter")
    stalled = StalledCarbon()
    try:
        before = set(threading.enumerate())
        # A write blocks for up to send_timeout: an hour, so no write ends during the test.
        emitter = emitters(stalled.port, buffer_points=5000, send_timeout=3600.0)
        (sender,) = set(threading.enumerate()) - before
        scopes = {name: {"raw": 1} for name in schema_names()} | {OVERALL: {"raw": 55}}
        per_interval = len(metric_points(interval(scopes), None, "p", "i", 0))
        submitted = 0

        def submit_round() -> None:
            nonlocal submitted
            for _ in range(200):
                emitter.submit(interval(scopes), None)
                submitted += per_interval

        counts: tuple[int, int] = (0, 0)

        def round_spanned_by_one_write() -> bool:
            nonlocal counts
            sent = emitter.sent
            in_write = sender_in_write(sender)
            counts = (emitter.buffered, emitter.dropped)
            finishes(submit_round, 60, "200 submits to return while the sender writes")
            return in_write and emitter.sent == sent and sender_in_write(sender)

        wait_until(
            round_spanned_by_one_write,
            120,
            "a round of submits spanned by one write to a carbon that never reads",
        )
        # No batch left the buffer during that round: each submit pushed out the oldest points.
        buffered, dropped = counts
        assert emitter.buffered == 5000
        assert emitter.dropped == dropped + buffered + 200 * per_interval - 5000

        # close() gives up on the stuck write (it does not wait for the hour-long timeout) and
        # counts what it could not send.
        finishes(lambda: emitter.close(timeout=0.5), 60, "close() to give up on the write")
        wait_until(
            lambda: (
                emitter.sent + emitter.dropped == submitted
                and "buffered at shutdown are lost" in caplog.text
            ),
            30,
            lambda: (
                f"every point counted ({emitter.sent} sent + {emitter.dropped} dropped "
                f"of {submitted})"
            ),
        )
        assert "dropped" in caplog.text
    finally:
        stalled.close()


def test_close_is_bounded_when_carbon_is_down(emitters) -> None:
    # Reconnects back off for ten minutes: close() must not wait for that, nor for carbon.
    emitter = emitters(closed_port(), retry_min=600.0, retry_max=600.0)
    emitter.submit(interval({OVERALL: {"raw": 1}}), None)
    finishes(lambda: emitter.close(timeout=0.3), 60, "close() to return with carbon down")
    wait_until(
        lambda: (emitter.sent, emitter.dropped, emitter.buffered) == (0, POINTS, 0),
        30,
        lambda: f"the unsent points to be counted dropped ({emitter.dropped})",
    )
    emitter.submit(interval({OVERALL: {"raw": 1}}), None)  # after close: counted, not sent
    assert emitter.dropped == 2 * POINTS


def test_close_flushes_what_is_buffered(carbon: Carbon, emitters) -> None:
    emitter = emitters(carbon.port)
    for k in range(20):
        emitter.submit(interval({OVERALL: {"raw": k}}, 10 * k, 10 * k + 10), None)
    emitter.close(timeout=30.0)  # ample: flushing, not the clock, is what is tested
    assert (emitter.sent, emitter.dropped) == (20 * POINTS, 0)
    carbon.wait_for(20 * POINTS)


def test_submit_never_raises(caplog: pytest.LogCaptureFixture, carbon: Carbon, emitters) -> None:
    emitter = emitters(carbon.port)
    emitter.submit(Interval(0, 10, {OVERALL: {"raw": "many"}}), None)  # type: ignore[dict-item]
    emitter.submit(object(), None)  # type: ignore[arg-type]
    assert "could not queue" in caplog.text
    emitter.close()


def test_events_not_logged_are_sent_overall_only_when_they_grew() -> None:
    """The event logs' failures reach Graphite (and check_el_inserted) like the errors: a
    point in the intervals where some events could not be logged, none otherwise."""
    quiet = {OVERALL: {"raw": 5, NOT_LOGGED: 0}, "NavigationTiming": {"raw": 5}}
    names = [name for name, _, _ in metric_points(interval(quiet), None, "el", "fwd1", 1010)]
    assert not [name for name in names if NOT_LOGGED in name]
    failing = {OVERALL: {"raw": 5, NOT_LOGGED: 4}, "NavigationTiming": {"raw": 5}}
    points = metric_points(interval(failing), None, "el", "fwd1", 1010)
    got = {name: value for name, value, _ in points if NOT_LOGGED in name}
    assert got == {
        "el.fwd1.overall.not_logged.count": 4,
        "el.fwd1.overall.not_logged.rate": pytest.approx(4 / 10.7),
    }


def test_what_a_source_lost_is_sent_overall_only_when_it_grew() -> None:
    """Lines a source dropped and damaged messages it terminated travel as ``not_logged``
    does: one ``overall.<measure>`` point (count and rate) where it grew, nothing elsewhere."""
    quiet = {OVERALL: {"raw": 5, "dropped": 0, "damaged": 0}, "NavigationTiming": {"raw": 5}}
    names = [name for name, _, _ in metric_points(interval(quiet), None, "el", "fwd1", 1010)]
    assert not [name for name in names if "dropped" in name or "damaged" in name]
    lossy = {OVERALL: {"raw": 5, "dropped": 120, "damaged": 0}, "NavigationTiming": {"raw": 5}}
    points = metric_points(interval(lossy), None, "el", "fwd1", 1010)
    got = {name: value for name, value, _ in points if "dropped" in name or "damaged" in name}
    assert got == {
        "el.fwd1.overall.dropped.count": 120,
        "el.fwd1.overall.dropped.rate": pytest.approx(120 / 10.7),
    }
