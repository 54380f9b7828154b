"""The write-ahead journal on its own: what a restart replays (past the checkpoint, up to a torn
record), segments deleted once checkpointed, and a journal one forwarder holds at a time."""

from __future__ import annotations

import http.client
import threading

import pytest
from helpers import event_defaults
from sources.support import IDLE, Reader

from el_monitor.errors import UserError
from el_monitor.ingest.sources import journal as journal_module
from el_monitor.ingest.sources.http import HttpSource
from el_monitor.ingest.sources.journal import Journal, Position


def beacon(directory) -> HttpSource:
    return HttpSource("http://j", "127.0.0.1", 0, idle_interval=IDLE, journal_dir=directory)


def post_each(source: HttpSource, bodies: list[bytes]) -> None:
    """Concurrent clients, so fsyncs are shared between requests."""

    def send(body: bytes) -> None:
        conn = http.client.HTTPConnection(*source.address, timeout=30)
        conn.request("POST", "/v1/events", body)
        assert conn.getresponse().status == 202
        conn.close()

    threads = [threading.Thread(target=send, args=(b,)) for b in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_a_restart_replays_what_lies_past_the_checkpoint(tmp_path):
    first = beacon(tmp_path)
    post_each(first, [b'[{"n": %d}, {"n": %d}]' % (i, i + 100) for i in range(10)])
    reader = Reader(first)
    reader.lines(20)
    positions = [c.position for c in reader.chunks]
    assert len(positions) == 10 and None not in positions  # a request: a chunk, a position
    first.commit(positions[4])  # the first 5 requests (10 events) are durable downstream
    first.close()
    second = beacon(tmp_path)
    try:
        replayed = Reader(second)
        got = replayed.lines(10)
        assert got == [line for c in reader.chunks[5:] for line in c.lines]
        assert event_defaults(replayed.chunks) == event_defaults(reader.chunks[5:])
        # the same uuids: a replay of a stored event adds no row
        assert replayed.quiet(0.2) == []
        second.commit(replayed.chunks[-1].position)
    finally:
        second.close()
    assert not list(tmp_path.glob("*.wal"))  # all checkpointed: the journal is gone


def test_a_torn_record_ends_the_replay(tmp_path):
    first = beacon(tmp_path)
    post_each(first, [b'[{"n": 1}]'])
    post_each(first, [b'[{"n": 2}]'])
    Reader(first).lines(2)
    first.close()
    (segment,) = tmp_path.glob("*.wal")
    segment.write_bytes(segment.read_bytes()[:-3])  # a crash in the middle of an append
    second = beacon(tmp_path)
    try:
        replayed = Reader(second)
        assert replayed.lines(1) == [b'{"n":1}']
        assert replayed.quiet(0.2) == []
    finally:
        second.close()


def test_old_segments_go_once_the_checkpoint_passes_them(tmp_path, monkeypatch):
    monkeypatch.setattr(journal_module, "SEGMENT_BYTES", 200)
    source = beacon(tmp_path)
    try:
        post_each(source, [b'[{"pad": "%s"}]' % (b"x" * 150)] * 5)
        reader = Reader(source)
        reader.lines(5)
        assert len(list(tmp_path.glob("*.wal"))) == 5
        source.commit(reader.chunks[-1].position)
        assert len(list(tmp_path.glob("*.wal"))) == 1  # the one still being written
    finally:
        source.close()


def test_one_forwarder_at_a_time(tmp_path):
    held = Journal(tmp_path)
    try:
        with pytest.raises(UserError, match="in use"):
            Journal(tmp_path)
    finally:
        held.close()
    assert Journal(tmp_path).checkpoint == Position(0, 0)


def test_a_request_that_asks_not_to_be_tracked_is_never_journaled(tmp_path):
    source = beacon(tmp_path)
    try:
        conn = http.client.HTTPConnection(*source.address, timeout=30)
        conn.request("POST", "/v1/events", b'[{"user": "secret-token-4711"}]', {"DNT": "1"})
        assert conn.getresponse().status == 202
        conn.close()
        reader = Reader(source)
        reader.lines(1)
        chunk = reader.chunks[0]
        assert chunk.defaults["_optout"] is True and chunk.position is None
        assert b"secret-token-4711" not in b"".join(p.read_bytes() for p in tmp_path.glob("*"))
    finally:
        source.close()
