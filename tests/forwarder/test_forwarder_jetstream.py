"""Forwarder processes consuming one JetStream stream as one group (real NATS, real MariaDB):
exact per-table counts across 1, 2 and 3 members and across ``--workers 2``; a member
SIGKILLed mid-batch whose messages another stores once; the database down while consuming
(nothing acknowledged that is not stored) and back (everything stored once)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from harness.jetstream import TestStream
from harness.wait import wait_until
from helpers import SCHEMAS, ProcessOutput, overall_counts

from el_monitor.store import StoreUnavailable, open_store
from el_monitor.store.mapping import table_name

from .running import assert_books_balance
from .support import events

pytestmark = pytest.mark.mysql
AT = 1795842000


class Corpus:
    """Lines as ``support.events`` makes them (one in 7 invalid, one in 50 not JSON), every
    other valid one without a uuid (the stream names it), and the rows they must give."""

    def __init__(self, count: int, start: int = 0) -> None:
        lines, _ = events(count, start, AT)
        self.lines: list[bytes] = []
        self.tables: Counter[str] = Counter()
        for i, line in zip(range(start, start + count), lines, strict=True):
            if i % 50 != 49 and i % 7 != 0:
                capsule = json.loads(line)
                self.tables[table_name(capsule["schema"], str(capsule["revision"]))] += 1
                if i % 2:
                    del capsule["uuid"]
                line = json.dumps(capsule).encode()
            self.lines.append(line)

    @property
    def valid(self) -> int:
        return sum(self.tables.values())

    def publish(self, stream: TestStream) -> None:
        """Half as raw lines (one to a message, then ten), half as records of 50."""
        half = len(self.lines) // 2
        stream.publish_lines(self.lines[: half // 2])
        stream.publish_lines(self.lines[half // 2 : half], per_message=10)
        stream.publish_records(self.lines[half:])


def table_counts(db_url: str) -> Counter[str]:
    """Rows per event table (empty while the database cannot be read)."""
    try:
        store = open_store(db_url)
    except StoreUnavailable:
        return Counter()
    try:
        quote = store.dialect.quote
        return Counter(
            {
                t: store.query(f"SELECT COUNT(*) FROM {quote(t)}")[0][0]
                for t in store.tables()
                if not t.startswith("el_monitor_")
            }
        )
    except StoreUnavailable:
        return Counter()
    finally:
        store.close()


class Member:
    """``el-monitor forward`` in the group, as its own instance."""

    def __init__(self, db_url: str, uri: str, instance: str, *options: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "el_monitor.cli", "forward", "--schemas", str(SCHEMAS),
             "--db", db_url, "--input", uri, "--instance", instance,
             "--flush-interval", "0.2", "--batch-size", "200", *options],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        self.output = ProcessOutput(self.proc)

    def alive(self) -> bool:
        code = self.proc.poll()
        assert code is None, f"a member exited ({code}):\n{self.output.text()[-3000:]}"
        return True

    def stop(self) -> dict[str, int]:
        """SIGTERM; its summary's overall counts (it must exit 0)."""
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.output.finish(120)
        assert self.proc.returncode == 0, err.decode(errors="replace")[-3000:]
        return overall_counts(out)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)


@pytest.fixture
def members() -> Iterator[list[Member]]:
    started: list[Member] = []
    yield started
    for member in started:
        member.kill()


def waiting_members(stream: TestStream, consumer: str, count: int) -> None:
    """Until ``count`` members have a pull request waiting (they are all in the group)."""
    wait_until(
        lambda: _waiting(stream, consumer) >= count, 120, f"{count} members pulling from {consumer}"
    )


def _waiting(stream: TestStream, consumer: str) -> int:
    return stream.has_consumer(consumer) and stream.consumer(consumer).num_waiting or 0


def answers(stream: TestStream, consumer: str) -> bool:
    try:
        return stream.has_consumer(consumer)
    except Exception:  # noqa: BLE001 - not back yet (no responders, timeout)
        return False


def stored(db_url: str, expected: Counter[str], members: list[Member], timeout: float = 120):
    def done() -> bool:
        assert all(m.alive() for m in members)
        return table_counts(db_url) == expected

    wait_until(done, timeout, lambda: f"{expected.total()} rows, have {table_counts(db_url)}")


@pytest.mark.parametrize("count", [1, 2, 3])
def test_members_split_the_stream_exactly(
    jetstream_stream: TestStream, mysql_url: str, members: list[Member], count: int
) -> None:
    stream, corpus = jetstream_stream, Corpus(1500)
    uri = stream.uri("group")
    members += [Member(mysql_url, uri, f"fw{n}") for n in range(count)]
    waiting_members(stream, "group", count)
    corpus.publish(stream)
    stored(mysql_url, corpus.tables, members)
    wait_until(lambda: stream.acknowledged("group") == stream.published, 60, "all acknowledged")

    totals = [m.stop() for m in members]
    for counts in totals:
        assert_books_balance(counts)
    # Every line went to exactly one member: the raw counts add up, nothing was stored twice.
    assert sum(c["raw"] for c in totals) == len(corpus.lines)
    assert sum(c["inserted"] for c in totals) == corpus.valid
    if count > 1:
        assert sum(1 for c in totals if c["raw"]) >= 2, totals  # the group did split it
    assert stream.consumer("group").num_redelivered == 0


def test_a_member_killed_mid_batch_is_taken_over(
    jetstream_stream: TestStream, mysql_url: str, members: list[Member]
) -> None:
    stream, corpus = jetstream_stream, Corpus(1200)
    uri = stream.uri("group", ack_wait=2)
    corpus.publish(stream)
    # It commits every 300 valid events and never by age: it stops with a batch in hand.
    doomed = Member(mysql_url, uri, "doomed", "--batch-size", "300", "--flush-interval", "600")
    members.append(doomed)

    def mid_batch() -> bool:
        if not stream.has_consumer("group"):
            return False
        info = stream.consumer("group")
        rows = table_counts(mysql_url).total()
        return doomed.alive() and info.num_pending == 0 and rows >= 600 and info.num_ack_pending
        # num_pending 0: all delivered to it; some stored, the rest held unacknowledged

    wait_until(mid_batch, 120, "the first member holding a batch it has not committed")
    held = stream.consumer("group").num_ack_pending
    doomed.kill()
    assert table_counts(mysql_url).total() < corpus.valid

    heir = Member(mysql_url, uri, "heir")
    members.append(heir)
    stored(mysql_url, corpus.tables, [heir])  # 0 lost, 0 duplicated, per table
    wait_until(lambda: stream.acknowledged("group") == stream.published, 60, "all acknowledged")
    counts = heir.stop()
    # What the first had stored but not yet acknowledged (its commit boundary inside a
    # record, or its acks not yet sent) comes again: counted duplicate, no second row.
    assert_books_balance(counts, store_errors=counts["duplicate"])
    assert counts["raw"] > 0 and held > 0
    assert counts["inserted"] + 600 <= corpus.valid  # it stored only what the first had not


@pytest.mark.parametrize("spool", [False, True], ids=["held", "spooled"])
def test_database_down_while_consuming(
    jetstream_stream: TestStream, mariadb_servers, members: list[Member], tmp_path, spool: bool
) -> None:
    """Without a spool the member holds what it cannot store: nothing acknowledged, nothing
    redelivered to the group meanwhile.  With one, what is spooled is acknowledged."""
    server = mariadb_servers(1)
    stream = jetstream_stream
    before, during = Corpus(300), Corpus(300, start=300)
    options = ["--spool-dir", str(tmp_path / "spool")] if spool else []
    member = Member(server.url, stream.uri("group", ack_wait=2), "fw1", *options)
    members.append(member)
    stream.publish_lines(before.lines)
    stored(server.url, before.tables, members)
    wait_until(lambda: stream.acknowledged("group") == 300, 60, "the first 300 acknowledged")

    server.stop()
    stream.publish_lines(during.lines)
    if spool:
        wait_until(lambda: stream.acknowledged("group") == 600, 60, "all 600 spooled and acked")
        assert any((tmp_path / "spool").iterdir())
    else:
        wait_until(lambda: stream.consumer("group").num_ack_pending == 300, 60, "the next 300 held")
        # Three ack waits with the database away: none acknowledged, none redelivered.
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            info = stream.consumer("group")
            assert stream.acknowledged("group") == 300 and info.num_redelivered == 0, info
            time.sleep(0.2)

    server.start()
    stored(server.url, before.tables + during.tables, members)
    wait_until(lambda: stream.acknowledged("group") == 600, 60, "all 600 acknowledged")
    counts = member.stop()
    assert_books_balance(counts)
    assert (counts["raw"], counts["inserted"]) == (600, before.valid + during.valid)
    assert counts["spooled"] == (during.valid if spool else 0)


def test_workers_share_one_consumer(
    jetstream_stream: TestStream, mysql_url: str, members: list[Member]
) -> None:
    stream, corpus = jetstream_stream, Corpus(1500)
    members.append(Member(mysql_url, stream.uri("group"), "fw", "--workers", "2"))
    waiting_members(stream, "group", 2)
    corpus.publish(stream)
    stored(mysql_url, corpus.tables, members)
    wait_until(lambda: stream.acknowledged("group") == stream.published, 60, "all acknowledged")
    counts = members[0].stop()
    assert_books_balance(counts)
    assert (counts["raw"], counts["inserted"]) == (len(corpus.lines), corpus.valid)


def test_nats_restarted_under_a_member(private_nats, mysql_url: str, members: list[Member]):
    """The server goes away and comes back (same store): the member logs it, keeps running,
    and consumes on; every event stored once."""
    stream, before, after = TestStream(private_nats.url), Corpus(300), Corpus(300, start=300)
    stream.create()
    member = Member(mysql_url, stream.uri("group"), "fw1")
    members.append(member)
    stream.publish_lines(before.lines)
    stored(mysql_url, before.tables, members)
    wait_until(lambda: stream.acknowledged("group") == 300, 60, "the first 300 acknowledged")

    private_nats.stop()
    member.output.wait_for("lost the connection")
    assert member.alive()
    private_nats.start()
    wait_until(lambda: answers(stream, "group"), 60, "JetStream back with the consumer")
    stream.publish_lines(after.lines)
    stored(mysql_url, before.tables + after.tables, members)
    wait_until(lambda: stream.acknowledged("group") == 600, 60, "all 600 acknowledged")
    counts = member.stop()
    assert_books_balance(counts)
    assert (counts["raw"], counts["inserted"]) == (600, before.valid + after.valid)
    assert f"forwarding {stream.uri('group')} into" in member.output.text()
