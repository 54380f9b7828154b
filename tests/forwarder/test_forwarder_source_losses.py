"""What a source loses before the pipeline sees it, in the forwarder's books: lines a UDP
receiver drops while its queue is full (received = raw + dropped), datagrams the kernel drops
while the receiver does not read, and damaged JetStream record
messages it terminates, each shown under the summary, in the ``--stats-interval`` line and in
Graphite.  Real processes, sockets, NATS and a carbon listener."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
from pathlib import Path

import pytest
from harness.jetstream import TestStream
from harness.wait import wait_until
from helpers import SCHEMAS, ProcessOutput, overall_counts, udp_sockets, valid_lines

from el_monitor.ingest.sources.jetstream_messages import RECORD_HEADER, RECORD_VERSION
from el_monitor.ingest.sources.journal import encode

from .carbon import CarbonCapture
from .jetstream_support import Member, waiting_members
from .running import EL_MONITOR
from .support import count_rows

INSTANCE = "fw-drops"
DATAGRAMS, PER_DATAGRAM = 40, 150  # 6,000 lines, about 1.8 MB: the kernel buffer holds them
DROPPED = re.compile(r"^(udp://[\d.:]+): ([\d,]+) lines dropped \(the queue was full; ", re.M)


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _flood(port: int, lines: list[bytes], senders: int = 8) -> None:
    """Datagrams of PER_DATAGRAM lines from ``senders`` sockets in turn (their own source
    ports, which SO_REUSEPORT spreads over the workers)."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(senders)]
    try:
        for n, i in enumerate(range(0, len(lines), PER_DATAGRAM)):
            socks[n % senders].sendto(b"\n".join(lines[i : i + PER_DATAGRAM]), ("127.0.0.1", port))
    finally:
        for sock in socks:
            sock.close()


@pytest.mark.parametrize("workers", [1, 2])
def test_udp_lines_dropped_on_a_full_queue_are_in_the_books(tmp_path: Path, workers: int) -> None:
    """The forwarder pointed nowhere (an empty --db-file) holds its first batch, so its 1 MiB
    queue fills and the receiver drops the rest; once pointed at a database it stores what it
    queued.  Every line sent is raw or dropped (the kernel dropped none), and the summary (the
    supervisor's sum, with workers), the stats line and Graphite's ``overall.dropped`` (summed
    over instances) all say how many were dropped."""
    db, db_file = tmp_path / "el.db", tmp_path / "db-url"
    db_file.write_text("")
    port = _free_udp_port()
    instances = [INSTANCE] + [f"{INSTANCE}-w{k}" for k in range(2, workers + 1)]
    carbon = CarbonCapture()
    proc = subprocess.Popen(
        [*EL_MONITOR, "forward", "--schemas", str(SCHEMAS), "--db-file", str(db_file),
         "--input", f"udp://127.0.0.1:{port}", "--workers", str(workers), "--queue-mb", "1",
         "--batch-size", "50", "--flush-interval", "0.1", "--stats-interval", "0.2",
         "--instance", INSTANCE, "--graphite", f"127.0.0.1:{carbon.port}",
         "--graphite-interval", "0.5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path,  # a rescue lands here
    )  # fmt: skip
    output = ProcessOutput(proc)
    try:
        bound = lambda: len(udp_sockets(port)) == workers  # noqa: E731
        wait_until(bound, 60, f"the forwarder to bind udp://127.0.0.1:{port}")
        lines = valid_lines(DATAGRAMS * PER_DATAGRAM)
        _flood(port, lines)
        read = lambda: not any(s.queued for s in udp_sockets(port))  # noqa: E731
        wait_until(read, 60, "the forwarder to read them all")
        assert not any(s.drops for s in udp_sockets(port))  # every datagram reached it
        db_file.write_text(f"sqlite:///{db}\n")
        proc.send_signal(signal.SIGHUP)
        output.wait_for("database target is now", count=workers, timeout=120)
        output.wait_for("source lost: dropped")  # while it runs, in the --stats-interval line
        proc.send_signal(signal.SIGTERM)
        out, err = output.finish(120)
        assert proc.returncode == 0, err.decode(errors="replace")[-3000:]
        wait_until(lambda: carbon.done(workers), 60, "the metrics read")
        graphite = sum(
            carbon.total(f"eventlogging.{name}.overall.dropped.count") for name in instances
        )
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
        carbon.close()
    raw = overall_counts(out)["raw"]
    [(source, dropped)] = DROPPED.findall(out.decode())
    assert source == f"udp://127.0.0.1:{port}" and 0 < raw < len(lines)
    assert int(dropped.replace(",", "")) == len(lines) - raw == graphite
    assert count_rows(f"sqlite:///{db}") == raw


def test_a_damaged_record_message_is_in_the_summary(
    jetstream_stream: TestStream, sqlite_url: str, members: list[Member]
) -> None:
    """A record message that fails its check is terminated, not redelivered forever: the
    forwarder's summary says so, and the lines of the good messages are all stored."""
    stream = jetstream_stream
    record = bytearray(encode({}, ["a" * 32], [b"{}"]))
    record[-1] ^= 0xFF
    stream.publish([bytes(record)], {RECORD_HEADER: RECORD_VERSION})
    stream.publish_lines(valid_lines(20))
    uri = stream.uri("damaged")
    member = Member(sqlite_url, uri, "fw-damaged")
    members.append(member)
    waiting_members(stream, "damaged", 1)
    wait_until(lambda: member.alive() and stream.acknowledged("damaged") == 21, 120,
               "every message settled")  # fmt: skip
    member.proc.send_signal(signal.SIGTERM)
    out, err = member.output.finish(120)
    assert member.proc.returncode == 0, err.decode(errors="replace")[-3000:]
    assert overall_counts(out)["raw"] == 20 == count_rows(sqlite_url)
    assert f"{uri}: 1 damaged messages terminated" in out.decode().splitlines()


KERNEL_DROPPED = re.compile(r"^(udp://[\d.:]+): ([\d,]+) datagrams dropped by the kernel ", re.M)


def test_udp_datagrams_the_kernel_dropped_are_in_the_books(tmp_path: Path) -> None:
    """A forwarder that stops reading (SIGSTOP) lets its socket buffer fill, and the kernel
    drops what follows: once it reads again it stores what was queued, and its summary, its
    stats line and Graphite's ``overall.kernel_dropped`` all give the kernel's own count, so
    that every datagram sent (one line each) is a row or a datagram the kernel dropped."""
    db = tmp_path / "el.db"
    port = _free_udp_port()
    carbon = CarbonCapture()
    proc = subprocess.Popen(
        [*EL_MONITOR, "forward", "--schemas", str(SCHEMAS), "--db", f"sqlite:///{db}",
         "--input", f"udp://127.0.0.1:{port}", "--flush-interval", "0.1",
         "--stats-interval", "0.2", "--instance", INSTANCE,
         "--graphite", f"127.0.0.1:{carbon.port}", "--graphite-interval", "0.5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path,
    )  # fmt: skip
    output = ProcessOutput(proc)
    sent = 0
    try:
        wait_until(lambda: udp_sockets(port), 60, f"the forwarder to bind udp://127.0.0.1:{port}")
        proc.send_signal(signal.SIGSTOP)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            while not udp_sockets(port)[0].drops:  # until its buffer, whatever its size, is full
                assert sent < 1_000_000, "the kernel never dropped a datagram"
                for line in valid_lines(1000, start=sent):
                    sender.sendto(line, ("127.0.0.1", port))
                sent += 1000
        proc.send_signal(signal.SIGCONT)
        drops = udp_sockets(port)[0].drops
        wait_until(lambda: count_rows(f"sqlite:///{db}") == sent - drops, 120, "the queued rows")
        output.wait_for(f"source lost: kernel_dropped {drops}")  # the --stats-interval line
        proc.send_signal(signal.SIGTERM)
        out, err = output.finish(120)
        assert proc.returncode == 0, err.decode(errors="replace")[-3000:]
        wait_until(lambda: carbon.done(1), 60, "the metrics read")
        graphite = carbon.total(f"eventlogging.{INSTANCE}.overall.kernel_dropped.count")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            proc.kill()
            proc.wait(30)
        carbon.close()
    [(source, counted)] = KERNEL_DROPPED.findall(out.decode())
    assert source == f"udp://127.0.0.1:{port}"
    assert int(counted.replace(",", "")) == drops == graphite == sent - overall_counts(out)["raw"]
