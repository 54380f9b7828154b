"""Sources against real pipes, files, and loopback sockets."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness.wait import finishes, wait_until

from el_monitor.errors import UserError
from el_monitor.ingest.sources import open_source
from el_monitor.ingest.sources.base import Chunk
from el_monitor.ingest.sources.beacon import decode_beacon
from el_monitor.ingest.sources.file import FilePosition
from el_monitor.ingest.sources.http import HttpSource
from el_monitor.ingest.sources.lines import MAX_CHUNK_LINES, LineSplitter
from el_monitor.ingest.sources.udp import UdpSource

IDLE = 0.05


class Reader:
    """Pulls a source's chunks with a deadline, so a missing line fails instead of hanging."""

    def __init__(self, source, stop: threading.Event | None = None) -> None:
        self.source = source
        self.stop = stop or threading.Event()
        self.it: Iterator[Chunk] = source.chunks(self.stop)
        self.chunks: list[Chunk] = []

    def lines(self, count: int, timeout: float = 30.0) -> list[bytes]:
        got: list[bytes] = []
        deadline = time.monotonic() + timeout
        while len(got) < count:
            assert time.monotonic() < deadline, f"only {len(got)} of {count} lines: {got[-3:]}"
            chunk = next(self.it)
            if chunk.lines:
                self.chunks.append(chunk)
                got.extend(chunk.lines)
        assert len(got) == count, got
        return got

    def quiet(self, seconds: float = 0.3) -> list[bytes]:
        """Lines arriving within ``seconds`` (expected: none)."""
        got: list[bytes] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            got.extend(next(self.it).lines)
        return got

    def rest(self) -> list[bytes]:
        return [line for chunk in self.it for line in chunk.lines]


def numbered(start: int, stop: int) -> list[bytes]:
    return [b'{"n": %d}' % i for i in range(start, stop)]


def append(path: Path, lines: list[bytes], end: bytes = b"\n") -> None:
    with open(path, "ab") as f:
        f.write(b"".join(line + end for line in lines))


# -- line splitting -----------------------------------------------------------------------------


def test_splitter_boundaries_do_not_depend_on_how_bytes_arrive() -> None:
    rng = random.Random(7)
    data = b"".join(
        rng.choice([b"", b"x" * rng.randrange(0, 40)]) + rng.choice([b"\n", b"\r\n"])
        for _ in range(3000)
    )
    whole = LineSplitter(16)
    expected = [line for batch in whole.feed(data) for line in batch[0]] + whole.take()[0]
    pieces = LineSplitter(16)
    got: list[bytes] = []
    i = 0
    while i < len(data):
        step = rng.randrange(1, 50)
        for lines, end in pieces.feed(data[i : i + step]):
            got.extend(lines)
            assert data[end - 1 : end] == b"\n"  # a batch always ends on a line boundary
        i += step
    got.extend(pieces.finish()[0])
    assert got == expected
    assert all(line and len(line) <= 17 and not line.endswith(b"\r") for line in got)
    assert any(len(line) == 17 for line in got)


def test_splitter_cuts_chunks_at_the_line_limit() -> None:
    splitter = LineSplitter(100, base=10)
    data = b"".join(line + b"\n" for line in numbered(0, 2500))
    batches = splitter.feed(data)
    assert [len(lines) for lines, _ in batches] == [MAX_CHUNK_LINES, MAX_CHUNK_LINES]
    assert batches[0][1] == 10 + data.index(b'{"n": 1000}')
    lines, end = splitter.take()
    assert len(lines) == 500 and end == 10 + len(data)


# -- stdin ------------------------------------------------------------------------------------

CHILD = """
import json, sys, threading
from el_monitor.ingest.sources import open_source
source = open_source("stdin://", idle_interval=0.05, max_line_bytes=8)
lines, idle = [], 0
with open(sys.argv[1], "a") as progress:  # what was read so far, for the test to wait on
    for chunk in source.chunks(threading.Event()):
        if not chunk.lines:
            idle += 1
        lines.extend(line.decode() for line in chunk.lines)
        progress.write(json.dumps({"lines": lines, "idle": idle}) + "\\n")
        progress.flush()
print(json.dumps({"lines": lines, "idle": idle}))
"""


def test_stdin_ticks_while_silent_and_reads_to_eof(tmp_path: Path) -> None:
    progress = tmp_path / "progress.jsonl"
    progress.touch()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(progress)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert child.stdin is not None
    child.stdin.write(b"one\r\n\ntwo\nthr")
    child.stdin.flush()

    def ticked_while_silent() -> bool:
        reports = [json.loads(line) for line in progress.read_text().splitlines()]
        return any(r["lines"] == ["one", "two"] and r["idle"] >= 4 for r in reports)

    # The partial "thr" is held while stdin is silent, and the source ticks meanwhile.
    wait_until(ticked_while_silent, 60, "the child to read 'one', 'two' and then tick idle")
    child.stdin.write(b"ee\n" + b"y" * 20 + b"\nlast")
    out, _ = child.communicate(timeout=10)
    result = json.loads(out)
    assert result["lines"] == ["one", "two", "three", "y" * 9, "last"]
    assert result["idle"] >= 4


# -- file: read to end --------------------------------------------------------------------------


def test_file_reads_to_end(tmp_path: Path) -> None:
    log = tmp_path / "events.log"
    log.write_bytes(b'{"a": 1}\r\n\n{"b": 2}\n' + b"z" * 300_000 + b"\nno newline")
    source = open_source(f"file://{log}", max_line_bytes=10)
    chunks = list(source.chunks(threading.Event()))
    source.close()
    lines = [line for chunk in chunks for line in chunk.lines]
    assert lines == [b'{"a": 1}', b'{"b": 2}', b"z" * 11, b"no newline"]
    assert all(chunk.position is None for chunk in chunks)
    assert not (tmp_path / ".events.log.el-monitor.checkpoint").exists()


def test_file_chunks_are_bounded(tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    append(log, numbered(0, 5000))
    source = open_source(f"file://{log}")
    chunks = list(source.chunks(threading.Event()))
    assert [line for c in chunks for line in c.lines] == numbered(0, 5000)
    assert max(len(c.lines) for c in chunks) <= MAX_CHUNK_LINES


@pytest.mark.parametrize(
    "uri, message",
    [
        ("kafka://broker:9092", "unknown input"),
        ("file://relative/path", "absolute path"),
        ("file:///x?follow=maybe", "follow=1"),
        ("file:///x?tail=1", "follow=1"),
        ("file:///nonexistent/el-monitor.log", "cannot read"),
        ("udp://127.0.0.1", "HOST:PORT"),
        ("udp://127.0.0.1:99999", "bad port"),
        ("http://127.0.0.1:0/path", "HOST:PORT"),
        ("stdin://x", "stdin://"),
    ],
)
def test_bad_uris_are_user_errors(uri: str, message: str) -> None:
    with pytest.raises(UserError, match=message) as info:
        open_source(uri)
    assert uri.split("?")[0] in str(info.value) and "\n" not in str(info.value)


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not a regular file"):
        open_source(f"file://{tmp_path}")


@pytest.mark.parametrize("scheme, kind", [("udp", socket.SOCK_DGRAM), ("http", socket.SOCK_STREAM)])
def test_port_in_use_is_a_user_error(scheme: str, kind: int) -> None:
    with socket.socket(socket.AF_INET, kind) as taken:
        taken.bind(("127.0.0.1", 0))
        if kind == socket.SOCK_STREAM:
            taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(UserError, match="in use"):
            open_source(f"{scheme}://127.0.0.1:{port}")


# -- file: follow -------------------------------------------------------------------------------


def follow(log: Path, **kwargs) -> Reader:
    return Reader(open_source(f"file://{log}?follow=1", idle_interval=IDLE, **kwargs))


def test_follow_reads_appends_and_holds_a_partial_line(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    append(log, numbered(0, 3))
    reader = follow(log)
    assert reader.lines(3) == numbered(0, 3)
    with open(log, "ab") as f:
        f.write(b"half")
    assert reader.quiet(0.2) == []
    assert reader.chunks[-1].position.offset == log.stat().st_size - 4
    append(log, [b"-line", b"next"])
    assert reader.lines(2) == [b"half-line", b"next"]
    pos = reader.chunks[-1].position
    assert pos == FilePosition(log.stat().st_dev, log.stat().st_ino, log.stat().st_size)
    reader.source.close()


def test_follow_holds_and_truncates_an_overlong_partial_line(tmp_path: Path) -> None:
    log = tmp_path / "long.log"
    log.write_bytes(b"x" * 1000)
    reader = follow(log, max_line_bytes=50)
    assert reader.quiet(0.2) == []
    append(log, [b"", b"ok"])
    assert reader.lines(2) == [b"x" * 51, b"ok"]


def test_follow_across_rename_rotation(tmp_path: Path) -> None:
    log = tmp_path / "r.log"
    append(log, numbered(0, 5))
    reader = follow(log)
    assert reader.lines(5) == numbered(0, 5)
    log.rename(tmp_path / "r.log.1")
    append(tmp_path / "r.log.1", numbered(5, 8))  # the writer had not reopened yet
    with open(tmp_path / "r.log.1", "ab") as f:
        f.write(b'{"n": 8}')  # its last line lacks a newline: still a line once rotated
    append(log, numbered(9, 12))
    assert reader.lines(7) == numbered(5, 12)
    assert reader.chunks[-1].position.inode == log.stat().st_ino
    append(log, numbered(12, 13))
    assert reader.lines(1) == numbered(12, 13)
    reader.source.close()


def test_follow_across_copytruncate(tmp_path: Path) -> None:
    log = tmp_path / "c.log"
    append(log, numbered(0, 50))
    reader = follow(log)
    assert reader.lines(50) == numbered(0, 50)
    os.truncate(log, 0)
    append(log, numbered(50, 52))
    assert reader.lines(2) == numbered(50, 52)
    assert reader.chunks[-1].position.offset == log.stat().st_size


def test_follow_stops_promptly(tmp_path: Path) -> None:
    log = tmp_path / "s.log"
    log.write_bytes(b"")
    reader = follow(log)
    assert reader.quiet(0.1) == []
    # Stop while the source waits for appends (the timer's delay is part of the test: the
    # source is idle when the stop comes). Promptly, counted rather than timed: once the stop
    # is set, at most the one idle tick already under way, and never another look.
    threading.Timer(0.1, reader.stop.set).start()

    def after_stop() -> list[Chunk]:
        return [chunk for chunk in reader.it if reader.stop.is_set()]

    late = finishes(after_stop, 60, "the follow source to stop")
    assert len(late) <= 1 and not any(chunk.lines for chunk in late)
    reader.source.close()
    reader.source.close()


def test_checkpoint_is_atomic_json_in_checkpoint_dir(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "x.log"
    log.parent.mkdir()
    append(log, numbered(0, 2))
    reader = follow(log, checkpoint_dir=str(tmp_path))
    reader.lines(2)
    reader.source.commit(reader.chunks[-1].position)
    record = json.loads((tmp_path / ".x.log.el-monitor.checkpoint").read_text())
    st = log.stat()
    assert record == {"path": str(log), "dev": st.st_dev, "inode": st.st_ino, "offset": st.st_size}
    assert sorted(p.name for p in tmp_path.iterdir()) == [".x.log.el-monitor.checkpoint", "logs"]


def test_crash_rereads_exactly_the_uncommitted_lines(tmp_path: Path) -> None:
    log = tmp_path / "k.log"
    append(log, numbered(0, 2500))
    first = follow(log)
    assert first.lines(2500) == numbered(0, 2500)
    assert len(first.chunks) >= 3
    first.source.commit(first.chunks[0].position)  # chunks 2.. were never made durable
    del first  # SIGKILL: no close, no further commit
    append(log, numbered(2500, 2600))
    committed = MAX_CHUNK_LINES
    again = follow(log)
    assert again.lines(2600 - committed) == numbered(committed, 2600)
    assert again.quiet(0.15) == []
    again.source.close()


def test_restart_resumes_in_the_rotated_file(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    append(log, numbered(0, 10))
    first = follow(log)
    first.lines(10)
    first.source.commit(first.chunks[-1].position)
    first.source.close()
    log.rename(tmp_path / "app.log.1")
    append(tmp_path / "app.log.1", numbered(10, 13))
    append(log, numbered(13, 15))
    again = follow(log)
    assert again.lines(5) == numbered(10, 15)
    assert again.quiet(0.15) == []
    again.source.close()


def test_restart_after_truncation_starts_over(tmp_path: Path) -> None:
    log = tmp_path / "t.log"
    append(log, numbered(0, 10))
    first = follow(log)
    first.lines(10)
    first.source.commit(first.chunks[-1].position)
    first.source.close()
    log.write_bytes(b"")
    append(log, numbered(10, 11))
    again = follow(log)
    assert again.lines(1) == numbered(10, 11)
    again.source.close()


def test_corrupt_checkpoint_is_a_user_error(tmp_path: Path) -> None:
    log = tmp_path / "z.log"
    log.write_bytes(b"a\n")
    (tmp_path / ".z.log.el-monitor.checkpoint").write_text("{not json")
    with pytest.raises(UserError, match="corrupt"):
        Reader(open_source(f"file://{log}?follow=1")).lines(1)


# -- UDP -----------------------------------------------------------------------------------------


def udp_send(address: tuple[str, int], *datagrams: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for datagram in datagrams:
            sock.sendto(datagram, address)


def test_udp_lines_from_datagrams() -> None:
    source = open_source("udp://127.0.0.1:0", idle_interval=IDLE, max_line_bytes=20)
    reader = Reader(source)
    udp_send(source.address, b"a\nb\r\n\nc", b"d\n", b"e" * 30)
    assert reader.lines(5) == [b"a", b"b", b"c", b"d", b"e" * 21]
    assert source.name == "udp://127.0.0.1:0"
    source.close()
    source.close()
    assert not source._thread.is_alive()


def test_udp_full_queue_drops_and_counts() -> None:
    source = UdpSource("udp://test", "127.0.0.1", 0, idle_interval=IDLE, queue_lines=10)
    udp_send(source.address, *[b"x\ny\nz"] * 5)
    wait_until(lambda: source.received + source.dropped == 15, 60, "15 lines counted")
    assert (source.received, source.dropped) == (9, 6)
    assert len(Reader(source).lines(9)) == 9
    source.close()


# -- HTTP ----------------------------------------------------------------------------------------


@pytest.fixture
def beacon() -> Iterator[HttpSource]:
    source = open_source("http://127.0.0.1:0", idle_interval=IDLE, max_body_bytes=1000)
    assert isinstance(source, HttpSource)
    yield source
    source.close()


def first_chunk(source: HttpSource) -> Chunk:
    reader = Reader(source)
    reader.lines(1)
    return reader.chunks[0]


def request(
    source: HttpSource,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(*source.address, timeout=5)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_get_beacon_decodes_like_eventlogging(beacon: HttpSource) -> None:
    path = "/beacon/event?%7B%22schema%22%3A%22Edit%22%2C%22q%22%3A%22a+b%25%22%7D;"
    sent = time.time()
    status, body = request(beacon, "GET", path, headers={"User-Agent": "Mozilla/5.0 test"})
    assert (status, body) == (204, b"")
    chunk = first_chunk(beacon)
    answered = time.time()
    assert chunk.lines == [b'{"schema":"Edit","q":"a b%"}']
    defaults = dict(chunk.defaults)
    assert defaults.pop("userAgent") == "Mozilla/5.0 test"
    assert defaults.pop("recvFrom") == socket.gethostname().split(".")[0]
    assert int(sent) <= defaults.pop("timestamp") <= answered  # when it was received
    assert len(defaults.pop("uuid")) == 32
    assert defaults == {}
    assert "127.0.0.1" not in repr(chunk)


def test_decode_beacon_keeps_undecodable_bytes() -> None:
    assert decode_beacon("?%7B%22a%22%3A%22%FF%22%7D;", 100) == b'{"a":"\xff"}'
    assert decode_beacon("%7B%7D", 1) == b"{}"
    assert decode_beacon("x" * 10, 3) == b"xxxx"


def test_post_array_is_one_chunk_per_event(beacon: HttpSource) -> None:
    events = [{"schema": "A", "n": i} for i in range(3)]
    status, _ = request(beacon, "POST", "/v1/events", json.dumps(events).encode(), {"Sec-GPC": "1"})
    assert status == 202
    reader = Reader(beacon)
    assert reader.lines(3) == [b'{"schema":"A","n":%d}' % i for i in range(3)]
    uuids = {chunk.defaults["uuid"] for chunk in reader.chunks}
    assert len(uuids) == 3
    assert all(chunk.defaults["_optout"] is True for chunk in reader.chunks)
    assert all("userAgent" not in chunk.defaults for chunk in reader.chunks)


def test_post_object_is_one_event(beacon: HttpSource) -> None:
    assert request(beacon, "POST", "/v1/events", b'{"a": 1}', {"DNT": "1"})[0] == 202
    chunk = first_chunk(beacon)
    assert chunk.lines == [b'{"a":1}'] and chunk.defaults["_optout"] is True


def test_post_garbage_is_rejected_but_passed_down(beacon: HttpSource) -> None:
    status, body = request(beacon, "POST", "/v1/events", b"not json\n{")
    assert status == 400 and body.startswith(b"body must be")
    assert request(beacon, "POST", "/v1/events", b"42")[0] == 400
    assert Reader(beacon).lines(2) == [b"not json\n{", b"42"]
    assert (beacon.requests, beacon.rejected) == (2, 2)


def test_post_of_an_event_nested_deeper_than_orjson_writes_is_passed_down(beacon):
    body = b'[{"a": ' + b"[" * 300 + b"]" * 300 + b"}]"  # orjson reads it, cannot write it
    assert request(beacon, "POST", "/v1/events", body)[0] == 400
    assert Reader(beacon).lines(1) == [body]


HUGE = "9" * 5000  # more digits than int() takes from a string


@pytest.mark.parametrize(
    "method, path, body, headers, status",
    [
        ("POST", "/v1/events", b"[" + b"1," * 600 + b"1]", {}, 413),
        ("POST", "/v1/events", b"[]", {"Content-Length": "999999"}, 413),
        ("POST", "/v1/events", b"[]", {"Content-Length": "5000", "Expect": "100-continue"}, 413),
        ("POST", "/v1/events", b"[]", {"Content-Length": HUGE}, 413),
        ("POST", "/v1/events", b"[]", {"Content-Length": HUGE, "Expect": "100-continue"}, 413),
        ("POST", "/v1/events", None, {}, 411),
        ("POST", "/v1/events", b"[]", {"Transfer-Encoding": "chunked"}, 411),
        ("GET", "/nowhere", None, {}, 404),
        ("PUT", "/v1/events", b"[]", {}, 405),
        ("GET", "/v1/events", None, {}, 405),
        ("BREW", "/beacon/event?x", None, {}, 405),
        ("GET", "/beacon/event", None, {}, 400),
    ],
)
def test_http_rejections_pass_nothing_down(
    beacon: HttpSource, method: str, path: str, body, headers, status: int
) -> None:
    conn = http.client.HTTPConnection(*beacon.address, timeout=5)
    conn.putrequest(method, path, skip_accept_encoding=True)
    for key, value in headers.items():
        conn.putheader(key, value)
    if body is not None and "Content-Length" not in headers and "Transfer-Encoding" not in headers:
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body if "Content-Length" not in headers else None)
    response = conn.getresponse()
    assert response.status == status
    assert len(response.read()) < 80
    conn.close()
    assert Reader(beacon).quiet(0.1) == []
    assert (beacon.requests, beacon.rejected) == (1, 1)


def test_full_queue_answers_503(beacon: HttpSource) -> None:
    small = HttpSource("http://small", "127.0.0.1", 0, idle_interval=IDLE, queue_lines=2)
    try:
        assert request(small, "POST", "/v1/events", b"[1, 2]")[0] == 202
        status, _ = request(small, "GET", "/beacon/event?%7B%7D")
        assert status == 503 and small.busy == 1
        assert Reader(small).lines(2) == [b"1", b"2"]
        assert request(small, "GET", "/beacon/event?%7B%7D")[0] == 204
    finally:
        small.close()


def test_connections_past_the_limit_are_answered_503_at_once() -> None:
    import socket

    small = HttpSource("http://few", "127.0.0.1", 0, idle_interval=IDLE, max_connections=2)
    idle = [socket.create_connection(small.address, timeout=5) for _ in range(2)]  # sending nothing
    try:
        wait_until(lambda: len(small._server._connections) == 2, 60, "two open connections")
        # The answer is sent before the request is read: a reset may overtake it.
        with contextlib.suppress(ConnectionError):
            assert request(small, "GET", "/beacon/event?%7B%7D")[0] == 503
        assert small.busy == 1 and Reader(small).quiet(0.1) == []
        idle.pop().close()
        wait_until(lambda: len(small._server._connections) == 1, 60, "a connection closed")
        assert request(small, "GET", "/beacon/event?%7B%7D")[0] == 204
    finally:
        for conn in idle:
            conn.close()
        small.close()


def test_close_ends_idle_keepalive_connections() -> None:
    source = open_source("http://127.0.0.1:0", idle_interval=IDLE)
    conn = http.client.HTTPConnection(*source.address, timeout=5)
    for _ in range(2):  # one connection, two requests: keep-alive works
        conn.request("GET", "/beacon/event?%7B%7D")
        assert conn.getresponse().read() == b""
    before = threading.active_count()
    source.close()  # without waiting for the keep-alive timeout (15 s):
    assert threading.active_count() <= before - 2  # server and handler threads are gone
    conn.close()
