"""Forwarder processes consuming one JetStream stream as one group (real NATS, real MariaDB):
exact per-table counts across 1, 2 and 3 members and across ``--workers 2``; a member
SIGKILLed mid-batch whose messages another stores once; the database down while consuming
(nothing acknowledged that is not stored) and back (everything stored once)."""

from __future__ import annotations

import time

import pytest
from harness.jetstream import TestStream
from harness.wait import wait_until

from .jetstream_support import Corpus, Member, answers, stored, table_counts, waiting_members
from .running import assert_books_balance

pytestmark = pytest.mark.mysql


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
    assert_books_balance(counts)
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
    and consumes on; every event stored once.  (A restarted server may deliver again what it
    had acknowledged, its acks not yet on disk: those come back as duplicates, not rows.)"""
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
    assert counts["inserted"] == before.valid + after.valid
    assert counts["raw"] - counts["duplicate"] - counts["invalid"] == counts["inserted"]
    assert f"forwarding {stream.uri('group')} into" in member.output.text()
