"""What ``forward --workers`` builds before it forks: the shares of the inputs (files cut into
pieces every worker takes from, followed files dealt one per worker, one port for every
worker's socket), one process's files read one after another, the names and directories that
keep workers apart, and the sum of their counts."""

from __future__ import annotations

import datetime
import socket
import threading

import pytest

from el_monitor.counts.counters import (
    Counters,
    SourceTally,
    combined,
    snapshot_from_record,
    snapshot_record,
)
from el_monitor.errors import UserError
from el_monitor.ingest.event_logs import EventLogs, dated_log_files, log_name
from el_monitor.ingest.sources.pieces import PieceSource
from el_monitor.ingest.sources.sharing import FileSequence, Share, open_share, plan_shares
from el_monitor.ingest.workers import Worker, stranded_spools
from el_monitor.measures import OVERALL


def _files(tmp_path, sizes: list[int]) -> list[str]:
    uris = []
    for number, size in enumerate(sizes):
        path = tmp_path / f"f{number}.log"
        path.write_bytes(b"".join(b"%d-%d\n" % (number, i) for i in range(size)))
        uris.append(f"file://{path}")
    return uris


def test_files_read_to_their_end_are_pieces_every_worker_takes(tmp_path):
    uris = _files(tmp_path, [10, 100, 40, 50])
    shares = plan_shares(uris, 2)
    assert len(shares) == 2 and shares[0] == shares[1]
    assert shares[0].uris == tuple(uris) and shares[0].pieces is not None
    sources = [open_share(share) for share in shares]
    assert all(isinstance(source, PieceSource) for source in sources)
    lines = [
        line for source in sources for chunk in source.chunks(threading.Event())
        for line in chunk.lines
    ]  # fmt: skip
    for source in sources:
        source.close()
    expected = [b"%d-%d" % (n, i) for n, size in enumerate([10, 100, 40, 50]) for i in range(size)]
    assert sorted(lines) == sorted(expected)


def test_one_process_reads_its_files_in_order(tmp_path):
    uris = _files(tmp_path, [10, 100, 40, 50])
    (share,) = plan_shares(uris, 1)
    assert share == Share(tuple(uris))
    source = open_share(share)
    assert isinstance(source, FileSequence)
    lines = [line for chunk in source.chunks(threading.Event()) for line in chunk.lines]
    source.close()
    assert lines[:2] == [b"0-0", b"0-1"] and lines[-1] == b"3-49" and len(lines) == 200


def test_followed_files_are_dealt_one_per_worker_by_size(tmp_path):
    uris = [f"{uri}?follow=1" for uri in _files(tmp_path, [10, 100, 40])]
    assert [share.uris for share in plan_shares(uris, 3)] == [(uris[1],), (uris[2],), (uris[0],)]
    with pytest.raises(UserError, match="take one worker each: use --workers 3"):
        plan_shares(uris, 2)
    with pytest.raises(UserError, match="a followed file is read by one process"):
        plan_shares(uris[:1], 2)


def test_fewer_pieces_than_workers_start_fewer_workers(tmp_path):
    uris = _files(tmp_path, [3, 4])  # a piece each
    shares = plan_shares(uris, 5)
    assert len(shares) == 2
    assert shares[0].pieces is not None
    shares[0].pieces.close()


def test_network_inputs_get_one_socket_per_worker_on_one_port():
    shares = plan_shares(["udp://127.0.0.1:0"], 2)
    try:
        ports = {share.sock.getsockname()[1] for share in shares if share.sock is not None}
        assert len(shares) == 2 and len(ports) == 1 and 0 not in ports
        listening = plan_shares(["http://127.0.0.1:0"], 2)
        for share in listening:
            assert share.sock is not None
            assert share.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1
            share.sock.close()
    finally:
        for share in shares:
            if share.sock is not None:
                share.sock.close()


def test_a_port_in_use_is_one_error():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        with pytest.raises(UserError, match=f"port {port} is in use"):
            plan_shares([f"udp://127.0.0.1:{port}"], 2)


def test_worker_names_and_directories(tmp_path):
    first, second = Worker(1), Worker(2)
    assert (first.instance(""), first.instance("fwd"), second.instance("fwd")) == (
        "",
        "fwd",
        "fwd-w2",
    )
    with pytest.raises(UserError, match="shorter --instance"):
        second.instance("x" * 62)
    assert first.spool_dir("/s") == "/s" and second.spool_dir("/s") == "/s/w2"
    assert first.spool_dir(None) is None
    (tmp_path / "w2").mkdir()
    (tmp_path / "w3" / "http-journal").mkdir(parents=True)
    (tmp_path / "w3" / "http-journal" / "000000000001.wal").write_bytes(b"x")
    (tmp_path / "w2" / "1.jsonl").write_bytes(b"x")
    assert stranded_spools(str(tmp_path), 2) == [tmp_path / "w3"]
    assert stranded_spools(str(tmp_path), 1) == [tmp_path / "w2", tmp_path / "w3"]


def test_worker_log_files_carry_their_suffix_and_are_found_by_day(tmp_path):
    logs = EventLogs(tmp_path, suffix="-w2")
    logs.roll(now=1795842000)
    logs.raw(b"x")
    logs.close()
    (tmp_path / "valid-2026-11-28.jsonl").write_bytes(b"")
    (tmp_path / "valid-2026-11-28-w2.jsonl").write_bytes(b"")
    (tmp_path / "valid-notaday.jsonl").write_bytes(b"")
    assert (tmp_path / "all-2026-11-28-w2.jsonl").exists()
    day = datetime.date(2026, 11, 28)
    assert log_name("all-2026-11-28-w2.jsonl") == ("all", day)
    assert log_name("all-2026-13-28.jsonl") is None
    assert [p.name for _, p in dated_log_files(tmp_path, "valid")] == [
        "valid-2026-11-28-w2.jsonl",
        "valid-2026-11-28.jsonl",
    ]


def test_workers_counts_sum():
    one, two = Counters(), Counters()
    one.schema("A").raw, one.schema("A").valid = 3, 3
    two.schema("A").raw, two.schema("A").invalid = 2, 2
    two.schema("B").raw, two.schema("B").valid = 1, 1
    two.schema("A").errors[("type", "/x")] = 2
    two.not_logged = 4
    one.source_tally = lambda: SourceTally(dropped=7, busy=1)
    two.source_tally = lambda: SourceTally(dropped=5, damaged=2)
    snapshots = [snapshot_from_record(snapshot_record(c.snapshot())) for c in (one, two)]
    total = combined(snapshots)
    assert total.get("A", "raw") == 5 and total.get("B", "valid") == 1
    assert total.get(OVERALL, "raw") == 6 and total.get(OVERALL, "not_logged") == 4
    losses = {m: total.get(OVERALL, m) for m in ("dropped", "damaged", "refused", "busy")}
    assert losses == {"dropped": 12, "damaged": 2, "refused": 0, "busy": 1}
    assert total.errors["A"] == {("type", "/x"): 2} == total.errors[OVERALL]
    assert combined([]).get(OVERALL, "raw") == 0


def test_a_jetstream_consumer_is_joined_by_every_worker():
    uri = "nats://127.0.0.1:4222/S?consumer=group"
    assert plan_shares([uri], 3) == [Share((uri,))] * 3
    with pytest.raises(UserError, match="names no consumer"):
        plan_shares(["nats://127.0.0.1:4222/S"], 2)
