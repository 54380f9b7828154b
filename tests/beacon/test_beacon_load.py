"""The beacon under load: a queue bounded in bytes answers 503 + Retry-After when the pipeline
stalls, and thousands of idle or trickling connections (slowloris) starve no real client."""

from __future__ import annotations

import asyncio
import http.client
import json
import resource
import threading

from harness.wait import wait_until
from helpers import valid_lines
from sources.support import IDLE, Reader

from el_monitor.ingest.sources.http import HttpSource, raise_open_files_limit
from el_monitor.ingest.sources.network import chunk_cost

BOUND = 1024 * 1024


def post(address: tuple[str, int], body: bytes) -> tuple[int, str | None]:
    conn = http.client.HTTPConnection(*address, timeout=30)
    try:
        conn.request("POST", "/v1/events", body)
        response = conn.getresponse()
        response.read()
        return response.status, response.getheader("Retry-After")
    finally:
        conn.close()


def test_a_stalled_pipeline_fills_the_byte_bound_then_503(tmp_path):
    source = HttpSource("http://bound", "127.0.0.1", 0, idle_interval=IDLE, queue_bytes=BOUND)
    body = json.dumps([{"schema": "Big", "pad": "x" * 60_000}]).encode()  # one 60 KB event
    answers: list[tuple[int, str | None]] = []
    lock = threading.Lock()

    def client() -> None:
        for _ in range(10):
            answer = post(source.address, body)
            with lock:
                answers.append(answer)

    try:
        clients = [threading.Thread(target=client) for _ in range(8)]
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join()
        # Nothing was taken from the queue (the pipeline stalls): it filled up to its bound.
        accepted = sum(1 for status, _ in answers if status == 202)
        refused = [retry for status, retry in answers if status == 503]
        assert accepted + len(refused) == 80
        assert refused and set(refused) == {"1"}
        assert source.busy == len(refused)
        assert source._buffer.peak <= BOUND
        assert BOUND - source.queued_bytes < 2 * chunk_cost_of(body)  # full, not refusing early
        # Everything answered 202 comes out, and then there is room again.
        assert len(Reader(source).lines(accepted)) == accepted
        assert source.queued_bytes == 0
        assert post(source.address, body)[0] == 202
    finally:
        source.close()


def chunk_cost_of(body: bytes) -> int:
    from el_monitor.ingest.sources.base import Chunk

    return chunk_cost(Chunk([body]))


SLOW_REQUEST = b"POST /v1/events HTTP/1.1\r\nHost: beacon\r\nX-Slow: "


class Slowloris:
    """``count`` connections from an event loop on its own thread: the even ones send nothing,
    the odd ones trickle a header a byte every ``every`` seconds.  ``state`` counts the open
    ones, the most open at once, and how they ended (408, closed by the server, refused)."""

    def __init__(self, port: int, count: int, every: float) -> None:
        self.port, self.count, self.every = port, count, every
        self.state = {"open": 0, "peak": 0, "refused": 0, "408": 0, "closed": 0, "tried": 0}
        self.loop = asyncio.new_event_loop()
        self.stop = asyncio.Event()
        self.thread = threading.Thread(
            target=self.loop.run_until_complete, args=(self._run(),), daemon=True
        )
        self.thread.start()

    async def _one(self, index: int) -> None:
        state = self.state
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError:
            state["refused"] += 1
            return
        finally:
            state["tried"] += 1
        state["open"] += 1
        state["peak"] = max(state["peak"], state["open"])
        trickle = index % 2 == 1
        try:
            if trickle:
                writer.write(SLOW_REQUEST)
            while not self.stop.is_set():
                if trickle:
                    writer.write(b"x")
                    await writer.drain()
                try:
                    data = await asyncio.wait_for(reader.read(1024), self.every)
                except TimeoutError:
                    continue
                state["408" if data.startswith(b"HTTP/1.1 408") else "closed"] += 1
                break
        except OSError:
            state["closed"] += 1
        finally:
            state["open"] -= 1
            writer.close()

    async def _run(self) -> None:
        tasks = []
        for start in range(0, self.count, 500):  # connect in waves, not all SYNs at once
            tasks += [
                asyncio.ensure_future(self._one(i))
                for i in range(start, min(start + 500, self.count))
            ]
            while self.state["tried"] < len(tasks) and not self.stop.is_set():
                await asyncio.sleep(0.01)
        await asyncio.gather(*tasks)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(120)
        self.loop.close()


def test_thousands_of_idle_and_trickling_connections_starve_no_real_request():
    # Both ends are in this process: two descriptors a connection.
    count = min(10_000, (raise_open_files_limit() - 1000) // 2 // 500 * 500)
    assert count >= 2000, f"only {resource.getrlimit(resource.RLIMIT_NOFILE)} open files here"
    source = HttpSource(
        "http://many", "127.0.0.1", 0, idle_interval=IDLE, idle_seconds=600, request_seconds=600
    )
    attack = Slowloris(source.address[1], count, every=2.0)
    state = attack.state
    try:
        wait_until(lambda: state["open"] == count, 300, lambda: f"{count} connections: {state}")
        lines = valid_lines(40)
        statuses = [post(source.address, b"[" + line + b"]")[0] for line in lines]
        assert statuses == [202] * 40, state
        assert list(map(json.loads, Reader(source).lines(40))) == list(map(json.loads, lines))
        assert state["open"] == count and state["refused"] == 0  # none was dropped for them
        assert source.busy == 0
    finally:
        attack.close()
        source.close()


def test_a_request_has_a_total_deadline_and_idle_connections_end():
    source = HttpSource(
        "http://strict", "127.0.0.1", 0, idle_interval=IDLE, idle_seconds=1, request_seconds=1
    )
    attack = Slowloris(source.address[1], 40, every=0.1)  # a byte every 0.1 s, 10 per second
    state = attack.state
    try:
        wait_until(lambda: state["peak"] == 40, 60, lambda: f"40 connections: {state}")
        wait_until(lambda: state["open"] == 0, 60, lambda: f"every connection ended: {state}")
        assert (state["408"], state["closed"], state["refused"]) == (20, 20, 0)
        assert post(source.address, b"[{}]")[0] == 202  # and the server still serves
    finally:
        attack.close()
        source.close()
