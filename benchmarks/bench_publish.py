"""Publishing to JetStream (issue 14): ``el-monitor publish --input http://...`` taking POST
batches of 50 real-size NavigationTiming events, in events/s answered 202, against nats-py
publishing the same records straight to JetStream (the ceiling: what client and server allow
on this machine at the time), measured in the same run on the shared NATS server.

The clients are asyncio connections with keep-alive, several requests in flight, each POST a
JSON array of 50 corpus lines (those that are JSON at all: the corpus's malformed lines would
turn their whole POST into a 400).  The run is checked: every request answered 202, and the
stream holds exactly one message of 50 events per answer.
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import corpus_events
from beacon_client import is_json, post_all, post_body
from bench_cli import listening_port
from measure import log, use_test_harness
from results import EVENTS, Figure, Planned, Reference, at_least

from el_monitor.ingest.publish.publisher import message_id
from el_monitor.ingest.sources.jetstream_address import stream_for_subject
from el_monitor.ingest.sources.journal import encode

BATCH = 50  # events a POST
IN_FLIGHT = 64  # raw publishes awaiting their acknowledgement at once (the ceiling)
TARGET = 20_000
PUBLISH = Planned(
    "real NavigationTiming: publish, HTTP POST of 50 -> JetStream", EVENTS, at_least(TARGET, EVENTS)
)
RAW = "real NavigationTiming: nats-py JetStream publish of the same records (ceiling)"


def publish(lines: Sequence[bytes], tmp: Path) -> list[Figure]:
    """The beacon's figure and its ceiling (or why they were not measured)."""
    use_test_harness(corpus_events.ROOT)
    from harness.nats import SHARED_URL, delete_stream, shared_reason

    reason = shared_reason()
    if reason:
        return [PUBLISH.not_measured(reason)]
    events = [line for line in lines if is_json(line)]
    batches = [events[i : i + BATCH] for i in range(0, len(events) - BATCH + 1, BATCH)]
    subjects = [f"elm.bench.p{i}.{secrets.token_hex(4)}" for i in range(2)]
    try:
        log(f"publish: nats-py straight to JetStream, {len(batches):,} records of {BATCH} ...")
        raw_rate, raw_problem = asyncio.run(_raw(SHARED_URL, subjects[0], batches))
        ceiling = Reference("nats-py publish", raw_rate)
        log(f"publish: el-monitor publish, {len(batches):,} POSTs of {BATCH} ...")
        rate, problem = _beacon(SHARED_URL, subjects[1], batches, tmp)
    finally:
        for subject in subjects:
            delete_stream(SHARED_URL, stream_for_subject(subject))
    return [
        Figure(RAW, raw_rate, EVENTS, "1 run", problem=raw_problem),
        PUBLISH.measured(rate, "1 run", ceiling, problem),
    ]


async def _raw(server: str, subject: str, batches: list[list[bytes]]) -> tuple[float, str]:
    """Records as ``publish`` makes them, encoded before the clock starts, then published
    with IN_FLIGHT awaiting acknowledgement."""
    import nats

    defaults = {"recvFrom": "bench", "timestamp": int(time.time())}
    records = []
    for batch in batches:
        uuids = [uuid.uuid4().hex for _ in batch]
        records.append((message_id(uuids), encode(defaults, uuids, batch)))
    nc = await nats.connect(server)
    try:
        js = nc.jetstream()
        stream = stream_for_subject(subject)
        await js.add_stream(name=stream, subjects=[subject], duplicate_window=120)
        window = asyncio.Semaphore(IN_FLIGHT)

        async def one(msg_id: str, body: bytes) -> None:
            async with window:
                await js.publish(subject, body, headers={"Nats-Msg-Id": msg_id}, stream=stream)

        start = time.perf_counter()
        await asyncio.gather(*(one(m, b) for m, b in records))
        seconds = time.perf_counter() - start
        stored = (await js.stream_info(stream)).state.messages
    finally:
        await nc.close()
    problem = "" if stored == len(records) else f"{stored} of {len(records)} records stored"
    return len(records) * BATCH / seconds, problem


def _beacon(server: str, subject: str, batches: list[list[bytes]], tmp: Path) -> tuple[float, str]:
    cmd = [
        sys.executable, "-m", "el_monitor.cli", "-v", "publish",
        "--input", "http://127.0.0.1:0", "--to", f"{server}/{subject}",
        "--max-body-bytes", "1000000",
    ]  # fmt: skip
    errors = tmp / "publish.err"
    with errors.open("wb") as err:
        child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err)
    try:
        port = listening_port(child, errors)
        bodies = [post_body(batch) for batch in batches]
        seconds, statuses = asyncio.run(post_all(port, bodies))
        child.send_signal(signal.SIGTERM)
        out, _ = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    answered = statuses.count(202)
    stored = asyncio.run(_messages(server, stream_for_subject(subject)))
    problem = ""
    if answered != len(bodies):
        problem = f"{len(bodies) - answered} POSTs not answered 202 ({sorted(set(statuses))})"
    elif stored != answered or child.returncode != 0:
        problem = f"{stored} messages stored for {answered} answers; exit {child.returncode}"
    log(f"publish: {out.decode().strip()}")
    return answered * BATCH / seconds, problem


async def _messages(server: str, stream: str) -> int:
    import nats

    nc = await nats.connect(server)
    try:
        return (await nc.jetstream().stream_info(stream)).state.messages
    finally:
        await nc.close()
