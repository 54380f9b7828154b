"""``el-monitor publish`` from files and stdin into a stream on the shared NATS server: the
stream made with its limits, every line published once (again: deduplicated), a followed
file's checkpoint at what JetStream acknowledged."""

from __future__ import annotations

import json
import signal
import socket

from harness.nats import SHARED_URL, stream_config
from harness.processes import free_ports
from harness.wait import wait_until
from helpers import udp_socket, valid_lines

from el_monitor.ingest.sources.jetstream_address import stream_for_subject

from .support import Publisher, checkpoint_offset, once_each, publish_args, stream_lines

LINES = 2500  # a few chunks, so several messages are in flight at once


def test_the_stream_is_made_with_the_limits_asked(subject, tmp_path):
    log = tmp_path / "events.jsonl"
    log.write_bytes(b"\n".join(valid_lines(10)) + b"\n")
    options = "?max_age=2h&max_bytes=32M&duplicate_window=30s"
    tally, err = Publisher(publish_args(f"file://{log}", subject + options)).finish()
    assert tally["published"] == 10, err
    config = stream_config(SHARED_URL, stream_for_subject(subject))
    assert config.subjects == [subject]
    assert config.storage == "file"
    assert config.max_age == 7200
    assert config.max_bytes == 32 << 20
    assert config.discard == "new"  # a full stream refuses; it never drops what is unread
    assert config.duplicate_window == 30


def test_a_file_is_published_once_and_again_adds_nothing(subject, tmp_path):
    lines = valid_lines(LINES)
    log = tmp_path / "events.jsonl"
    log.write_bytes(b"\n".join(lines) + b"\n")
    publisher = Publisher(publish_args(f"file://{log}", subject))
    tally, err = publisher.finish()
    assert publisher.proc.returncode == 0, err[-3000:]
    assert tally["read"] == tally["published"] == LINES, tally
    assert tally["failed"] == tally["duplicates"] == tally["refused"] == 0, tally
    stored = stream_lines(subject, tmp_path)
    assert sorted(line for _, line, _ in stored) == sorted(lines)
    assert len(stored) == LINES
    # Each line keeps its own uuid: what the forwarder would give it.
    assert once_each([u for u, _, _ in stored]) == {json.loads(line)["uuid"] for line in lines}
    assert all(set(d) == {"recvFrom", "timestamp"} for _, _, d in stored)
    messages = tally["messages"]
    assert messages > 1

    again, err = Publisher(publish_args(f"file://{log}", subject)).finish()
    assert again["published"] == again["duplicates"] == LINES, err[-3000:]  # all deduplicated
    assert len(stream_lines(subject, tmp_path)) == LINES


def test_stdin_is_published(subject, tmp_path):
    lines = valid_lines(300)
    publisher = Publisher(publish_args("stdin://", subject), stdin=b"\n".join(lines) + b"\n")
    tally, err = publisher.finish()
    assert publisher.proc.returncode == 0 and tally["published"] == 300, err[-3000:]
    assert sorted(line for _, line, _ in stream_lines(subject, tmp_path)) == sorted(lines)


def test_a_followed_file_is_checkpointed_at_what_jetstream_has(subject, tmp_path):
    log, state = tmp_path / "events.jsonl", tmp_path / "state"
    state.mkdir()
    first, second = valid_lines(LINES), valid_lines(700, start=LINES)
    log.write_bytes(b"\n".join(first) + b"\n")
    args = publish_args(f"file://{log}?follow=1", subject, "--checkpoint-dir", str(state))

    def stored() -> int:
        return len(stream_lines(subject, tmp_path))

    publisher = Publisher(args)
    wait_until(lambda: stored() == LINES, 60, "the file's lines in the stream")
    tally, err = publisher.terminate()
    assert publisher.proc.returncode == 0, err[-3000:]
    assert tally["published"] == LINES
    assert checkpoint_offset(state, log) == log.stat().st_size

    with log.open("ab") as f:
        f.write(b"\n".join(second) + b"\n")
    publisher = Publisher(args)  # resumes at the checkpoint: only the new lines
    wait_until(lambda: stored() >= LINES + 700, 60, "the appended lines in the stream")
    tally, err = publisher.terminate()
    assert tally["published"] == 700 and tally["duplicates"] == 0, err[-3000:]
    found = stream_lines(subject, tmp_path)
    assert sorted(line for _, line, _ in found) == sorted(first + second)
    assert checkpoint_offset(state, log) == log.stat().st_size


def test_udp_datagrams_are_published(subject, tmp_path):
    [port] = free_ports(1)
    publisher = Publisher(
        publish_args(f"udp://127.0.0.1:{port}", subject, "--stats-interval", "0.1")
    )
    lines = valid_lines(1000)
    try:
        publisher.output.wait_for("publishing to")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for i in range(0, 1000, 5):  # five lines a datagram
                sock.sendto(b"\n".join(lines[i : i + 5]) + b"\n", ("127.0.0.1", port))
        wait_until(lambda: len(stream_lines(subject, tmp_path)) >= 1000, 60, "the datagrams")
        publisher.output.wait_for("published 1000 in")  # the counts, logged with -v
        tally, err = publisher.terminate()
    finally:
        publisher.kill()
    assert publisher.proc.returncode == 0 and tally["published"] == 1000, err[-3000:]
    assert sorted(line for _, line, _ in stream_lines(subject, tmp_path)) == sorted(lines)


def test_udp_lines_dropped_on_a_full_queue_are_in_the_tally(subject, tmp_path):
    """A burst into a 1 MiB queue: every line sent was read or dropped (the kernel dropped
    none), what was read is in the stream, and the tally says how many were dropped."""
    [port] = free_ports(1)
    publisher = Publisher(publish_args(f"udp://127.0.0.1:{port}", subject, "--queue-mb", "1"))
    lines = valid_lines(6000)
    try:
        publisher.output.wait_for("publishing to")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for i in range(0, len(lines), 150):  # about 45 KB a datagram
                sock.sendto(b"\n".join(lines[i : i + 150]), ("127.0.0.1", port))
        wait_until(lambda: udp_socket(port).queued == 0, 60, "the publisher to read them all")
        assert udp_socket(port).drops == 0
        tally, err = publisher.terminate()
    finally:
        publisher.kill()
    assert publisher.proc.returncode == 0, err[-3000:]
    assert tally["read"] + tally["dropped"] == len(lines)
    assert tally["published"] == tally["read"] == len(stream_lines(subject, tmp_path))


def test_udp_datagrams_the_kernel_dropped_are_in_the_tally(subject, tmp_path):
    """A publisher that stops reading (SIGSTOP) lets its socket buffer fill, and the kernel
    drops what follows: once it reads again it publishes what was queued, and its tally gives
    the kernel's own count, so that every datagram sent (one line each) is in the stream or
    was dropped, by the kernel or from the queue."""
    [port] = free_ports(1)
    publisher = Publisher(publish_args(f"udp://127.0.0.1:{port}", subject))
    sent = 0
    try:
        publisher.output.wait_for("publishing to")
        publisher.proc.send_signal(signal.SIGSTOP)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            while not udp_socket(port).drops:  # until its buffer, whatever its size, is full
                assert sent < 1_000_000, "the kernel never dropped a datagram"
                for line in valid_lines(1000, start=sent):
                    sock.sendto(line, ("127.0.0.1", port))
                sent += 1000
        drops = udp_socket(port).drops
        publisher.proc.send_signal(signal.SIGCONT)
        wait_until(lambda: udp_socket(port).queued == 0, 60, "the publisher to read them all")
        tally, err = publisher.terminate()
    finally:
        publisher.proc.send_signal(signal.SIGCONT)
        publisher.kill()
    assert publisher.proc.returncode == 0, err[-3000:]
    assert tally["kernel_dropped"] == drops > 0
    assert tally["read"] + tally["dropped"] + drops == sent
    assert tally["published"] == tally["read"] == len(stream_lines(subject, tmp_path))
