"""The whole chain, real processes on the real NATS: ``el-monitor publish`` (a file, then the
HTTP beacon) into a stream, two ``el-monitor forward`` members of one group out of it, and
every table holding exactly what was sent (records keep the uuids the publisher gave)."""

from __future__ import annotations

import json
import urllib.request

from harness.jetstream import TestStream
from harness.wait import wait_until
from publish.support import Publisher, publish_args

from .jetstream_support import Corpus, Member, stored, waiting_members
from .running import assert_books_balance


def publisher_args(stream: TestStream, uri: str) -> list[str]:
    """Publish into the test's stream (it exists: the publisher uses it as it is)."""
    return publish_args(uri, f"{stream.subject}?stream={stream.name}", server=stream.server)


def test_a_file_published_then_forwarded(jetstream_stream, mysql_url, members, tmp_path):
    stream, corpus = jetstream_stream, Corpus(2000)
    log = tmp_path / "events.jsonl"
    log.write_bytes(b"\n".join(corpus.lines) + b"\n")
    members += [Member(mysql_url, stream.uri("group"), f"fw{n}") for n in (1, 2)]
    waiting_members(stream, "group", 2)

    tally, err = Publisher(publisher_args(stream, f"file://{log}")).finish()
    assert tally["read"] == tally["published"] == 2000, err[-3000:]
    stored(mysql_url, corpus.tables, members)
    wait_until(lambda: stream.acknowledged("group") == tally["messages"], 60, "all acknowledged")
    totals = [member.stop() for member in members]
    for counts in totals:
        assert_books_balance(counts)
    assert sum(c["raw"] for c in totals) == 2000
    assert sum(c["inserted"] for c in totals) == corpus.valid


def test_beacon_requests_published_then_forwarded(jetstream_stream, mysql_url, members):
    stream, corpus = jetstream_stream, Corpus(1000)
    valid = [line for line in corpus.lines if _is_json(line)]
    publisher = Publisher(publisher_args(stream, "http://127.0.0.1:0"), http=True)
    members.append(Member(mysql_url, stream.uri("group"), "fw1"))
    try:
        url = f"http://127.0.0.1:{publisher.port}/v1/events"
        for start in range(0, len(valid), 50):  # POST batches of 50, as clients do
            body = b"[" + b",".join(valid[start : start + 50]) + b"]"
            request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=30) as answer:
                assert answer.status == 202
    finally:
        tally, err = publisher.terminate()
    assert tally["published"] == len(valid), err[-3000:]
    stored(mysql_url, corpus.tables, members)
    counts = members[0].stop()
    assert_books_balance(counts)
    assert (counts["raw"], counts["inserted"]) == (len(valid), corpus.valid)


def _is_json(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False
