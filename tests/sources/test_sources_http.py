"""The HTTP beacon source on a loopback socket: GET beacons decoded like EventLogging's, POSTed
events, rejections that pass nothing down, 503 when the queue is full, idle connections making
room at the connection limit, and keep-alive connections ended by close."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator

import pytest
from harness.wait import wait_until
from helpers import event_defaults

from el_monitor.ingest.sources import open_source
from el_monitor.ingest.sources.base import Chunk
from el_monitor.ingest.sources.beacon import decode_beacon, decode_events
from el_monitor.ingest.sources.http import HttpSource

from .support import IDLE, Reader


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
    [uuid] = chunk.uuids
    assert len(uuid) == 32
    assert defaults == {}
    assert "127.0.0.1" not in repr(chunk)


def test_decode_beacon_keeps_undecodable_bytes() -> None:
    assert decode_beacon("?%7B%22a%22%3A%22%FF%22%7D;", 100) == b'{"a":"\xff"}'
    assert decode_beacon("%7B%7D", 1) == b"{}"
    assert decode_beacon("x" * 10, 3) == b"xxxx"


def test_a_posted_event_waits_in_the_queue_at_its_own_size() -> None:
    """A line costs what it holds: not orjson's working buffer (16 KB under each line)."""
    event = {f"field{n}": n * 1000 for n in range(40)}
    body = json.dumps([event] * 100).encode()
    tracemalloc.start()
    try:
        lines = decode_events(body, 65536)
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert lines is not None and [json.loads(line) for line in lines] == [event] * 100
    assert held < 2 * sum(map(len, lines)) + 100 * 100, held


def test_post_array_is_one_chunk_with_a_uuid_per_event(beacon: HttpSource) -> None:
    events = [{"schema": "A", "n": i} for i in range(3)]
    status, _ = request(beacon, "POST", "/v1/events", json.dumps(events).encode(), {"Sec-GPC": "1"})
    assert status == 202
    reader = Reader(beacon)
    assert reader.lines(3) == [b'{"schema":"A","n":%d}' % i for i in range(3)]
    events = event_defaults(reader.chunks)
    assert len({d["uuid"] for d in events}) == 3
    assert all(d["_optout"] is True for d in events)
    assert all("userAgent" not in d for d in events)


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
        conn = http.client.HTTPConnection(*small.address, timeout=5)
        conn.request("GET", "/beacon/event?%7B%7D")
        response = conn.getresponse()
        assert response.status == 503 and response.getheader("Retry-After") == "1"
        assert small.busy == 1
        conn.close()
        assert Reader(small).lines(2) == [b"1", b"2"]
        assert request(small, "GET", "/beacon/event?%7B%7D")[0] == 204
    finally:
        small.close()


def test_at_the_connection_limit_an_idle_connection_makes_room() -> None:
    small = HttpSource("http://few", "127.0.0.1", 0, idle_interval=IDLE, max_connections=2)
    idle = [socket.create_connection(small.address, timeout=5) for _ in range(2)]  # sending nothing
    try:
        wait_until(lambda: len(small._server.connections) == 2, 60, "two open connections")
        assert request(small, "GET", "/beacon/event?%7B%7D")[0] == 204
        assert idle[0].recv(1) == b""  # the oldest idle connection was closed for it
        assert small.busy == 0 and Reader(small).lines(1) == [b"{}"]
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
    assert threading.active_count() <= before - 1  # the server's thread is gone
    assert conn.sock.recv(1) == b""  # and the connection closed
    conn.close()


def exchange(source: HttpSource, data: bytes) -> bytes:
    """Send raw bytes; everything the server answers until it closes the connection."""
    with socket.create_connection(source.address, timeout=10) as conn:
        conn.sendall(data)
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
        return received


def test_pipelined_requests_and_100_continue_on_one_connection(beacon: HttpSource) -> None:
    answer = exchange(
        beacon,
        b"GET /beacon/event?%7B%7D HTTP/1.1\r\nHost: x\r\n\r\n"
        b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"
        b"[{}]"
        b"GET /beacon/event?%7B%7D HTTP/1.0\r\n\r\n",  # 1.0 without keep-alive: the last one
    )
    statuses = [line.split()[1] for line in answer.split(b"\r\n") if line.startswith(b"HTTP/1.1")]
    assert statuses == [b"204", b"100", b"202", b"204"]
    assert answer.endswith(b"Connection: close\r\n\r\n")
    assert Reader(beacon).lines(3) == [b"{}"] * 3


@pytest.mark.parametrize(
    "data, status",
    [
        (b"GET /beacon/event?" + b"x" * 300_000 + b" HTTP/1.1\r\n\r\n", b"414"),
        (b"GET /beacon/event?%7B%7D HTTP/1.1\r\nX: " + b"y" * 20_000 + b"\r\n\r\n", b"431"),
        (b"GET /beacon/event?%7B%7D HTTP/1.1\r\n" + b"X: y\r\n" * 200 + b"\r\n", b"431"),
        (b"GET /beacon/event?%7B%7D HTTP/2.0\r\n\r\n", b"505"),
        (b"GET  /beacon/event HTTP/1.1\r\n\r\n", b"400"),
        (b"GET /beacon/event?%7B%7D HTTP/1.1\r\nBad Header: 1\r\n\r\n", b"400"),
        (b"GET /beacon/event?%7B%7D HTTP/1.1\r\n folded\r\n\r\n", b"400"),
        (b"POST /v1/events HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n[]", b"400"),
    ],
)
def test_malformed_requests_are_refused_and_the_connection_closed(
    beacon: HttpSource, data: bytes, status: bytes
) -> None:
    answer = exchange(beacon, data)
    assert answer.startswith(b"HTTP/1.1 " + status) and answer.count(b"\r\nServer:") == 1
    assert b"Connection: close" in answer
    assert Reader(beacon).quiet(0.1) == []
    assert (beacon.requests, beacon.rejected) == (1, 1)
