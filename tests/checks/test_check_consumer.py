"""check_el_consumer against the real NATS JetStream (each test its own stream and durable pull
consumer, deleted afterwards): OK while a member pulls and acknowledges, WARNING and CRITICAL
by the pending and unacknowledged thresholds while members work slowly, CRITICAL when messages
wait and nobody pulls (a backlog growing under a producer, and the messages a dead member
held), UNKNOWN for a missing stream or consumer and for a server that does not answer."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from typing import NamedTuple

import pytest
from harness.wait import wait_until

from el_monitor.checks import consumer as check_consumer

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
NATS_URL = os.environ.get("EL_TEST_NATS_URL", "nats://127.0.0.1:4222")
FAST = ("--interval", "0.5", "-t", "20")


class Group(NamedTuple):
    """A stream with one durable pull consumer (explicit ack), and its check address."""

    stream: str
    subject: str
    consumer: str

    @property
    def uri(self) -> str:
        return f"{NATS_URL}/{self.stream}?consumer={self.consumer}"


async def _connect():
    import nats

    return await nats.connect(NATS_URL, connect_timeout=2, allow_reconnect=False)


def _reachable() -> bool:
    host, _, port = NATS_URL.removeprefix("nats://").partition(":")
    try:
        socket.create_connection((host, int(port or 4222)), timeout=2).close()
    except OSError:
        return False
    return True


@pytest.fixture
def group() -> Iterator[Group]:
    if not _reachable():
        pytest.skip(f"no NATS server at {NATS_URL} (set EL_TEST_NATS_URL)")
    tag = uuid.uuid4().hex[:12]
    made = Group(f"ELCHECK_{tag}", f"elcheck.{tag}", f"forwarders-{tag}")

    async def create() -> None:
        from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

        client = await _connect()
        try:
            js = client.jetstream()
            await js.add_stream(StreamConfig(name=made.stream, subjects=[made.subject]))
            config = ConsumerConfig(durable_name=made.consumer, ack_policy=AckPolicy.EXPLICIT)
            await js.add_consumer(made.stream, config)
        finally:
            await client.close()

    async def delete() -> None:
        client = await _connect()
        try:
            await client.jetstream().delete_stream(made.stream)  # its consumers go with it
        finally:
            await client.close()

    asyncio.run(create())
    try:
        yield made
    finally:
        asyncio.run(delete())


def publish(group: Group, count: int) -> None:
    async def send() -> None:
        client = await _connect()
        try:
            js = client.jetstream()
            for i in range(count):
                await js.publish(group.subject, b'{"n": %d}' % i)
        finally:
            await client.close()

    asyncio.run(send())


class Member:
    """A forwarder of the group, as a fetch loop on its own thread: ``batch`` messages per
    pull, acknowledged (or held, ``ack=False``), with ``pause`` seconds of "work" between
    pulls.  ``taken`` counts the messages it was delivered."""

    def __init__(self, group: Group, batch: int = 10, pause: float = 0.0, ack: bool = True):
        self.group, self.batch, self.pause, self.ack = group, batch, pause, ack
        self.taken = 0
        self.pulling = threading.Event()
        self.stopping = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        wait_until(lambda: self.pulling.is_set() or self.error, 30, "the member to bind")
        assert self.error is None, repr(self.error)

    def _run(self) -> None:
        try:
            asyncio.run(self._loop())
        except BaseException as exc:  # shown by stop()
            self.error = exc

    async def _loop(self) -> None:
        import nats.errors

        client = await _connect()
        try:
            js = client.jetstream()
            sub = await js.pull_subscribe_bind(self.group.consumer, self.group.stream)
            self.pulling.set()
            while not self.stopping.is_set():
                try:
                    messages = await sub.fetch(self.batch, timeout=2)
                except nats.errors.TimeoutError:
                    continue
                self.taken += len(messages)
                if self.ack:
                    for message in messages:
                        await message.ack()
                if self.pause:
                    await asyncio.sleep(self.pause)  # the member's work on the batch
        finally:
            await client.close()

    def stop(self) -> None:
        self.stopping.set()
        self._thread.join(30)
        assert not self._thread.is_alive()
        assert self.error is None, repr(self.error)


def waiting(group: Group) -> int:
    """Pull requests the server holds for the consumer now."""

    async def read() -> int:
        client = await _connect()
        try:
            info = await client.jetstream().consumer_info(group.stream, group.consumer)
        finally:
            await client.close()
        return info.num_waiting or 0

    return asyncio.run(read())


def check(capsys, *args: str) -> tuple[int, str, dict[str, str]]:
    """Run the plugin in-process: exit code, status line, perfdata label -> value;thresholds."""
    code = check_consumer.main(list(args))
    out = capsys.readouterr().out
    text, _, perf = out.splitlines()[0].partition(" | ")
    return code, text, dict(item.split("=", 1) for item in perf.split())


def value(perf: dict[str, str], label: str) -> int:
    return int(perf[label].split(";")[0])


def test_ok_while_a_member_pulls_and_acknowledges(group, capsys):
    publish(group, 50)
    member = Member(group)
    try:
        wait_until(lambda: member.taken == 50, 60, "the member to take all 50")

        # Its pull request is outstanding but for the moments between two pulls: wait for a
        # check that caught it.
        def seen() -> tuple | None:
            result = check(capsys, "--stream", group.uri, *FAST)
            return result if result[0] != OK or value(result[2], "waiting") >= 1 else None

        code, text, perf = wait_until(seen, 60, "a check seeing the member's pull request")
    finally:
        member.stop()
    assert code == OK, text
    assert text.startswith("EL_CONSUMER OK - 0 pending, 0 unacknowledged; ")
    assert f"(consumer {group.consumer} of {group.stream})" in text
    assert perf["pending"] == "0;100000;1000000;0"
    assert value(perf, "ack_pending") == value(perf, "redelivered") == 0
    assert set(perf) == {"pending", "ack_pending", "redelivered", "waiting", "delivered"}


@pytest.mark.parametrize(
    "thresholds, expected, words",
    [
        (("-w", "20", "-c", "100000"), WARNING, "(> 20)"),
        (("-w", "20", "-c", "50"), CRITICAL, "(> 50)"),
    ],
)
def test_pending_thresholds_while_a_slow_member_consumes(
    group, capsys, thresholds, expected, words
):
    publish(group, 2000)
    member = Member(group, batch=1, pause=0.05)  # about 20 a second: 2,000 last a while
    try:
        # A second between the readings: the slow member surely pulls in it.
        code, text, perf = check(
            capsys, "--stream", group.uri, *FAST, "--interval", "1", *thresholds
        )
    finally:
        member.stop()
    assert code == expected, text
    assert " pending " + words in text and "nobody consumes" not in text
    assert value(perf, "delivered") > 0 and value(perf, "pending") > 50


def test_unacknowledged_thresholds(group, capsys):
    publish(group, 30)
    member = Member(group, batch=5, ack=False)  # takes all, acknowledges none, keeps pulling
    try:
        wait_until(lambda: member.taken == 30, 60, "the member to take all 30")
        args = ("--ack-pending-warning", "10", "--ack-pending-critical", "100")
        code, text, perf = check(capsys, "--stream", group.uri, *FAST, *args)
    finally:
        member.stop()
    assert code == WARNING, text
    assert "0 pending, 30 unacknowledged (> 10)" in text
    assert perf["ack_pending"] == "30;10;100;0"


def test_critical_when_a_backlog_grows_and_nobody_pulls(group, capsys):
    publish(group, 10)
    producing = threading.Event()
    stopping = threading.Event()

    def produce() -> None:
        while not stopping.is_set():
            publish(group, 1)
            producing.set()

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    try:
        assert producing.wait(30)
        code, text, perf = check(capsys, "--stream", group.uri, *FAST)
    finally:
        stopping.set()
        producer.join(30)
    assert code == CRITICAL, text
    assert "EL_CONSUMER CRITICAL - nobody consumes: " in text
    assert " in 0.5 s), no pull request waiting and nothing delivered or acknowledged" in text
    assert value(perf, "waiting") == value(perf, "delivered") == 0
    assert value(perf, "pending") > 10


def test_critical_when_a_dead_member_holds_messages_and_nobody_pulls(group, capsys):
    publish(group, 8)
    member = Member(group, batch=8, ack=False)
    wait_until(lambda: member.taken == 8, 60, "the member to take all 8")
    member.stop()  # it died holding them: they wait for the ack wait, and a puller
    wait_until(lambda: waiting(group) == 0, 60, "its last pull request to expire")
    code, text, perf = check(capsys, "--stream", group.uri, *FAST)
    assert code == CRITICAL, text
    assert "nobody consumes: 8 messages wait, no pull request waiting" in text
    assert "0 pending, 8 unacknowledged" in text
    assert value(perf, "ack_pending") == 8


def test_unknown_for_a_missing_stream_or_consumer(group, capsys):
    missing_stream = f"{NATS_URL}/{group.stream}_GONE?consumer={group.consumer}"
    code, text, perf = check(capsys, "--stream", missing_stream, *FAST)
    assert (code, perf) == (UNKNOWN, {})
    assert text == (
        f"EL_CONSUMER UNKNOWN - stream {group.stream}_GONE not found at {NATS_URL}: check --stream"
    )
    missing_consumer = f"{NATS_URL}/{group.stream}?consumer=nobody"
    code, text, _ = check(capsys, "--stream", missing_consumer, *FAST)
    assert code == UNKNOWN
    assert text == (
        f"EL_CONSUMER UNKNOWN - consumer nobody not found in stream {group.stream}: check --stream"
    )


@pytest.mark.parametrize("listening", [False, True], ids=["nothing-listens", "never-answers"])
def test_unknown_for_an_unreachable_server(capsys, listening):
    with socket.socket() as server:  # a free port: closed, or listening and never speaking
        server.bind(("127.0.0.1", 0))
        port = server.getsockname()[1]
        if listening:
            server.listen()
        else:
            server.close()
        code, text, _ = check(capsys, "--stream", f"nats://127.0.0.1:{port}/S?consumer=c", *FAST)
    assert code == UNKNOWN
    assert text.startswith(f"EL_CONSUMER UNKNOWN - cannot reach NATS at nats://127.0.0.1:{port} (")
    assert ("no answer to the NATS handshake" if listening else "Connect call failed") in text


@pytest.mark.parametrize(
    "args, words",
    [
        (("--stream", "nats://127.0.0.1:4222/S"), "names no consumer"),
        (("--stream", "nats://127.0.0.1:4222/S?consumer=c", "--interval", "10"), "shorter than"),
    ],
)
def test_usage_errors_are_unknown(capsys, args, words):
    code, text, _ = check(capsys, *args)
    assert code == UNKNOWN and words in text, text
