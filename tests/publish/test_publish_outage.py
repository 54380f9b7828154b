"""JetStream stopped and started again under ``el-monitor publish`` (a private nats-server,
so the shared one is untouched): the beacon answers 503 with Retry-After meanwhile and every
event it answered 2xx is in the stream afterwards; a followed file waits, tries again, and
neither loses nor repeats a line."""

from __future__ import annotations

import json
import re
from pathlib import Path

from beacon.support import Burst
from harness.nats import NatsServer
from harness.wait import wait_until
from helpers import valid_lines

from .support import Publisher, checkpoint_offset, once_each, publish_args, stream_lines


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


class FollowedFile:
    """A log ``publish`` follows into the private server: ``lines`` lines written before
    JetStream goes away (``cut``), as many again while it is away."""

    def __init__(self, tmp_path: Path, server: NatsServer, lines: int, *extra: str) -> None:
        self.tmp_path, self.server, self.lines = tmp_path, server, lines
        self.log, self.state = tmp_path / "events.jsonl", tmp_path / "state"
        self.state.mkdir()
        self.first, self.second = valid_lines(lines), valid_lines(lines, start=lines)
        self.log.write_bytes(b"\n".join(self.first) + b"\n")
        self.subject = "elm.outage.file"  # the server is the test's own
        self.args = publish_args(
            f"file://{self.log}?follow=1", self.subject, "--checkpoint-dir", str(self.state),
            *extra, server=server.url,
        )  # fmt: skip

    def stored(self) -> list[tuple[str, bytes, dict]]:
        return stream_lines(self.subject, self.tmp_path, self.server.url)

    def checkpoint(self) -> int:
        return checkpoint_offset(self.state, self.log)

    def cut(self) -> Publisher:
        """Publish the first lines, stop JetStream, write the rest; returns once the
        publisher has failed to publish them."""
        size = self.log.stat().st_size
        publisher = Publisher(self.args)
        try:
            wait_until(lambda: len(self.stored()) == self.lines, 60, "the first lines stored")
            wait_until(lambda: self.checkpoint() == size, 60, "the checkpoint past them")
            self.server.stop()
            with self.log.open("ab") as f:
                f.write(b"\n".join(self.second) + b"\n")
            publisher.output.wait_for("cannot publish")  # it tries, and keeps trying
        except BaseException:
            publisher.kill()
            raise
        assert self.checkpoint() == size  # not past what JetStream has
        return publisher

    def assert_all_once(self) -> None:
        found = self.stored()
        assert len(found) == 2 * self.lines
        assert once_each([json.loads(line)["uuid"] for _, line, _ in found]) == {
            json.loads(line)["uuid"] for line in self.first + self.second
        }
        assert self.checkpoint() == self.log.stat().st_size


def test_a_followed_file_waits_for_jetstream_and_skips_nothing(private_nats, tmp_path):
    followed = FollowedFile(tmp_path, private_nats, 1500)
    publisher = followed.cut()
    try:
        private_nats.start()
        wait_until(lambda: len(followed.stored()) >= 3000, 120, "the rest, once it is back")
        tally, err = publisher.terminate()
    finally:
        publisher.kill()
    assert publisher.proc.returncode == 0, err[-3000:]
    assert tally["read"] == 3000 and tally["failed"] >= 1, tally
    followed.assert_all_once()


def test_sigterm_while_jetstream_is_away_keeps_the_checkpoint_back(private_nats, tmp_path):
    followed = FollowedFile(tmp_path, private_nats, 1000, "--drain-seconds", "1")
    publisher = followed.cut()
    try:
        tally, err = publisher.terminate()
    finally:
        publisher.kill()
    assert publisher.proc.returncode == 1, err[-3000:]
    left = re.search(r"(\d+) events read were not acknowledged", err)
    assert left and 0 < int(left.group(1)) <= 1000, err[-3000:]
    assert followed.checkpoint() < followed.log.stat().st_size

    private_nats.start()
    again = Publisher(followed.args)  # from the checkpoint: what JetStream never acknowledged
    try:
        wait_until(lambda: len(followed.stored()) >= 2000, 60, "the rest, once it is back")
        tally, err = again.terminate()
    finally:
        again.kill()
    assert again.proc.returncode == 0, err[-3000:]
    followed.assert_all_once()
