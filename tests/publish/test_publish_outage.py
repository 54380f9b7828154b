"""JetStream stopped and started again under ``el-monitor publish`` (a private nats-server,
so the shared one is untouched): the beacon answers 503 with Retry-After meanwhile and every
event it answered 2xx is in the stream afterwards; a followed file waits, tries again, and
neither loses nor repeats a line."""

from __future__ import annotations

import json
import re

from beacon.support import Burst
from harness.wait import wait_until
from helpers import valid_lines

from .support import Publisher, once_each, publish_args, stream_lines


def test_the_beacon_answers_503_while_jetstream_is_away(private_nats, tmp_path):
    subject = "elm.outage.http"
    args = publish_args(
        "http://127.0.0.1:0", subject, "--max-body-bytes", "200000", server=private_nats.url
    )
    publisher = Publisher(args, http=True)
    burst = Burst(publisher.port, clients=4)
    try:
        wait_until(lambda: burst.count() >= 2000, 120, "2,000 events answered 2xx")
        private_nats.stop()
        wait_until(lambda: burst.statuses.get(503, 0) >= 20, 120, "503s while JetStream is away")
        before = burst.count()
        private_nats.start()  # the same port and store: the stream is still there
        wait_until(lambda: burst.count() >= before + 2000, 120, "2,000 more answered 2xx")
        burst.stop()
        tally, err = publisher.terminate()
    finally:
        burst.stop()
        publisher.kill()
    seen = f"answers {burst.statuses}; stderr:\n{err[-3000:]}"
    assert publisher.proc.returncode == 0, seen
    assert set(burst.statuses) == {202, 503}, seen
    assert burst.retry_after == {"1"}, seen
    stored = [
        json.loads(line)["uuid"] for _, line, _ in stream_lines(subject, tmp_path, private_nats.url)
    ]
    found = once_each(stored)
    assert len(set(burst.answered) & found) == len(burst.answered), seen  # every 2xx is there
    # Beyond them, at most the requests in flight when the server went: published, but
    # answered 503 for want of an acknowledgement.
    assert found <= set(burst.sent), seen
    assert tally["busy"] == burst.statuses[503] and tally["failed"] >= 1, tally
    assert "cannot publish" in err


def test_a_followed_file_waits_for_jetstream_and_skips_nothing(private_nats, tmp_path):
    subject = "elm.outage.file"
    log, state = tmp_path / "events.jsonl", tmp_path / "state"
    state.mkdir()
    first, second = valid_lines(1500), valid_lines(1500, start=1500)
    log.write_bytes(b"\n".join(first) + b"\n")
    args = publish_args(
        f"file://{log}?follow=1", subject, "--checkpoint-dir", str(state), server=private_nats.url
    )

    def stored() -> list[tuple[str, bytes, dict]]:
        return stream_lines(subject, tmp_path, private_nats.url)

    publisher = Publisher(args)
    try:
        wait_until(lambda: len(stored()) == 1500, 60, "the first lines in the stream")
        private_nats.stop()
        with log.open("ab") as f:
            f.write(b"\n".join(second) + b"\n")
        publisher.output.wait_for("cannot publish")  # it tries, and keeps trying
        (checkpoint,) = state.iterdir()
        assert json.loads(checkpoint.read_text())["offset"] < log.stat().st_size
        private_nats.start()
        wait_until(lambda: len(stored()) >= 3000, 120, "the appended lines, once it is back")
        tally, err = publisher.terminate()
    finally:
        publisher.kill()
    assert publisher.proc.returncode == 0, err[-3000:]
    found = stored()
    assert once_each([json.loads(line)["uuid"] for _, line, _ in found]) == {
        json.loads(line)["uuid"] for line in first + second
    }
    assert len(found) == 3000
    assert tally["read"] == 3000 and tally["failed"] >= 1, tally
    assert json.loads(checkpoint.read_text())["offset"] == log.stat().st_size


def test_sigterm_while_jetstream_is_away_keeps_the_checkpoint_back(private_nats, tmp_path):
    subject = "elm.outage.drain"
    log, state = tmp_path / "events.jsonl", tmp_path / "state"
    state.mkdir()
    first, second = valid_lines(1000), valid_lines(1000, start=1000)
    log.write_bytes(b"\n".join(first) + b"\n")
    size = log.stat().st_size
    args = publish_args(
        f"file://{log}?follow=1", subject, "--checkpoint-dir", str(state),
        "--drain-seconds", "1", server=private_nats.url,
    )  # fmt: skip

    def stored() -> list[tuple[str, bytes, dict]]:
        return stream_lines(subject, tmp_path, private_nats.url)

    publisher = Publisher(args)
    try:
        wait_until(lambda: len(stored()) == 1000, 60, "the first lines in the stream")
        (checkpoint,) = state.iterdir()
        wait_until(lambda: json.loads(checkpoint.read_text())["offset"] == size, 60, "checkpoint")
        private_nats.stop()
        with log.open("ab") as f:
            f.write(b"\n".join(second) + b"\n")
        publisher.output.wait_for("cannot publish")
        tally, err = publisher.terminate()
    finally:
        publisher.kill()
    assert publisher.proc.returncode == 1, err[-3000:]
    left = re.search(r"(\d+) events read were not acknowledged", err)
    assert left and 0 < int(left.group(1)) <= 1000, err[-3000:]
    assert json.loads(checkpoint.read_text())["offset"] == size  # not past what JetStream has

    private_nats.start()
    again = Publisher(args)  # from the checkpoint: the lines JetStream never acknowledged
    try:
        wait_until(lambda: len(stored()) >= 2000, 60, "the rest, once it is back")
        tally, err = again.terminate()
    finally:
        again.kill()
    assert again.proc.returncode == 0, err[-3000:]
    found = stored()
    assert len(found) == 2000
    assert once_each([json.loads(line)["uuid"] for _, line, _ in found]) == {
        json.loads(line)["uuid"] for line in first + second
    }
