"""``el-monitor publish --input http://...``: the beacon answers 2xx only for events JetStream
has, refuses what the forwarder's beacon refuses, and drains on SIGTERM."""

from __future__ import annotations

import http.client
import json
import urllib.parse

from beacon.support import Burst
from harness.wait import wait_until

from .support import Publisher, once_each, publish_args, stream_lines


def line_uuids(stored: list[tuple[str, bytes, dict]]) -> list[str]:
    """The uuid each stored line carries itself (the burst's), for comparing with answers."""
    return [json.loads(line)["uuid"] for _, line, _ in stored]


def request(port: int, method: str, path: str, body: bytes = b"", **headers: str):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body, headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_batches_are_answered_202_only_once_in_the_stream(subject, tmp_path):
    publisher = Publisher(
        publish_args("http://127.0.0.1:0", subject, "--max-body-bytes", "200000"), http=True
    )
    try:
        burst = Burst(publisher.port, clients=4)
        try:
            wait_until(lambda: burst.count() >= 3000, 120, "3,000 events answered 2xx")
        finally:
            burst.stop()
        assert set(burst.statuses) == {202}, burst.statuses
        stored = stream_lines(subject, tmp_path)
        # Everything answered is in the stream, once, and nothing else is.
        assert once_each(line_uuids(stored)) == set(burst.answered)
        assert len(once_each([u for u, _, _ in stored])) == len(stored)  # producer's uuids too
        for _, _, defaults in stored:
            assert set(defaults) == {"recvFrom", "timestamp"}, defaults
            assert "127.0.0.1" not in json.dumps(defaults)  # never the client's address

        query = urllib.parse.quote(json.dumps({"schema": "Edit", "event": {}}))
        status, _ = request(
            publisher.port, "GET", f"/beacon/event?{query};", DNT="1", **{"User-Agent": "ua/1"}
        )
        assert status == 204
        *_, (_, beacon, defaults) = stream_lines(subject, tmp_path)
        assert json.loads(beacon) == {"schema": "Edit", "event": {}}
        assert defaults["userAgent"] == "ua/1" and defaults["_optout"] is True

        too_large = json.dumps([{"pad": "x" * 1000}] * 250).encode()
        assert request(publisher.port, "POST", "/v1/events", too_large)[0] == 413
        assert request(publisher.port, "POST", "/v1/events", b"not json")[0] == 400
        assert request(publisher.port, "GET", "/nowhere")[0] == 404
        tally, err = publisher.terminate()
    finally:
        publisher.kill()
    assert publisher.proc.returncode == 0, err[-3000:]
    stored = stream_lines(subject, tmp_path)
    assert stored[-1][1] == b"not json"  # passed on, for the forwarder to count as a parse error
    answered = len(burst.answered) + 1  # and the beacon
    assert tally["read"] == tally["published"] == answered + 1 == len(stored), tally
    assert (tally["refused"], tally["busy"], tally["failed"]) == (3, 0, 0), tally


def test_sigterm_mid_burst_answers_2xx_only_for_what_the_stream_has(subject, tmp_path):
    publisher = Publisher(
        publish_args("http://127.0.0.1:0", subject, "--max-body-bytes", "200000"), http=True
    )
    burst = Burst(publisher.port, clients=4)
    try:
        wait_until(lambda: burst.count() >= 3000, 120, "3,000 events answered 2xx")
        tally, err = publisher.terminate()
    finally:
        burst.stop()
        publisher.kill()
    assert publisher.proc.returncode == 0, err[-3000:]
    assert "answering the requests in progress" in err
    stored = line_uuids(stream_lines(subject, tmp_path))
    assert set(burst.answered) <= once_each(stored) <= set(burst.sent)
    assert tally["published"] == len(stored)
