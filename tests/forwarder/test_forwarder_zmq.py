"""``el-monitor forward --input tcp://HOST:PORT`` as a real process subscribed to a ZeroMQ
publisher in the test, as EventLogging's consumers subscribed to its processors: EventLogging's
raw client and server lines stored with exactly the per-table counts the same lines give from
a file; JSON events among hostile ones (truncated, invalid UTF-8, 10 MB) counted, not crashing;
SIGTERM drains what was received.

PUB/SUB loses what is published before the subscription arrives (the slow joiner), so the
publisher is an XPUB that reads the forwarder's subscription and publishes only after it; it
has no send limit, so a slow forwarder holds the publisher back instead of losing messages.
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest
from harness.processes import term_with_parent
from harness.wait import wait_until
from helpers import ROOT, SCHEMAS, ProcessOutput, overall_counts, valid_lines
from sources.support import Publisher

from el_monitor.store import open_store

from .running import EL_MONITOR, assert_books_balance
from .support import bad_corpus, count_rows

CLIENT_FORMAT = "%q %{recvFrom}s %{seqId}d %t %h %{userAgent}i"
SERVER_FORMAT = "%{seqId}d EventLogging %j"
CLIENT_LOG = ROOT / "examples" / "traffic" / "client.log"


@pytest.fixture
def publisher():
    pub = Publisher()
    yield pub
    pub.close()


class Subscriber:
    """``el-monitor forward --input tcp://...`` subscribed to ``publisher``, logging its totals
    every 0.1 s so a test can wait until it has read everything."""

    def __init__(self, publisher: Publisher, db_url: str, *extra: str) -> None:
        args = ["forward", "--schemas", str(SCHEMAS), "--db", db_url, "--instance", "zmq"]
        args += ["--input", publisher.uri, "--stats-interval", "0.1", *extra]
        self.proc = subprocess.Popen(
            [*EL_MONITOR, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=term_with_parent,
        )
        self.output = ProcessOutput(self.proc)
        try:
            publisher.wait_subscribed()
        except AssertionError:
            self.kill()
            raise AssertionError(self.output.text()[-3000:]) from None

    def wait_read(self, raw: int) -> None:
        """Until its totals say it has read ``raw`` lines."""
        self.output.wait_for(f"'raw': {raw},", timeout=120)

    def stop(self) -> tuple[dict[str, int], str]:
        """SIGTERM; the summary's overall counts and its stderr, once it exited 0."""
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.output.finish(120)
        assert self.proc.returncode == 0, err.decode(errors="replace")[-3000:]
        return overall_counts(out), err.decode(errors="replace")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(60)


def from_file(lines: list[bytes], tmp_path: Path, fmt: str) -> tuple[dict[str, int], dict]:
    """What the same lines give read from a file: the summary's counts and rows per table."""
    path = tmp_path / "same-lines.log"
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    url = f"sqlite:///{tmp_path / 'from-file.db'}"
    done = subprocess.run(
        [*EL_MONITOR, "forward", "--schemas", str(SCHEMAS), "--db", url, "--format", fmt,
         "--input", f"file://{path}"],
        capture_output=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    return overall_counts(done.stdout), table_counts(url)


def table_counts(db_url: str) -> dict[str, int]:
    """Rows in each event table (the el_monitor_* bookkeeping tables left out)."""
    store = open_store(db_url)
    try:
        quote = store.dialect.quote
        return {
            table: store.query(f"SELECT COUNT(*) FROM {quote(table)}")[0][0]
            for table in store.tables()
            if not table.startswith("el_monitor_")
        }
    finally:
        store.close()


def server_lines(count: int) -> list[bytes]:
    """Server-side events as EventLogging's processors received them: ``seqId EventLogging
    JSON`` (compact JSON: ``%j`` is one space-free field)."""
    compact = [json.dumps(json.loads(line), separators=(",", ":")) for line in valid_lines(count)]
    return [b"%d EventLogging %s" % (i, line.encode()) for i, line in enumerate(compact)]


@pytest.mark.parametrize("kind", ["client", "server"])
def test_eventlogging_raw_lines_stored_with_exact_per_table_counts(
    kind, publisher, sqlite_url, tmp_path
):
    if kind == "client":
        fmt, lines = CLIENT_FORMAT, CLIENT_LOG.read_bytes().splitlines()[:800]
    else:
        fmt, lines = SERVER_FORMAT, server_lines(300)
    expected_counts, expected_tables = from_file(lines, tmp_path, fmt)
    assert expected_counts["raw"] == len(lines) and len(expected_tables) > 3
    if kind == "client":
        assert expected_counts["invalid"] > 0  # the bundled traffic's errors

    forwarder = Subscriber(publisher, sqlite_url, "--format", fmt)
    try:
        publisher.send(*lines)  # one line per message, as EventLogging published them
        forwarder.wait_read(len(lines))
        wait_until(lambda: count_rows(sqlite_url) == expected_counts["inserted"], 120, "rows")
        counts, _ = forwarder.stop()
    finally:
        forwarder.kill()
    assert counts == expected_counts
    assert_books_balance(counts)
    assert table_counts(sqlite_url) == expected_tables


def test_json_events_among_bad_input_are_counted_not_crashing(publisher, sqlite_url):
    lines, expected = bad_corpus()  # truncated JSON, invalid UTF-8, a 10 MB line, ...
    forwarder = Subscriber(publisher, sqlite_url)
    try:
        publisher.send(*lines)
        several = valid_lines(3, start=1000)
        publisher.send(b"\n".join(several) + b"\n")  # one message, three lines
        total = expected["raw"] + len(several)
        forwarder.wait_read(total)
        counts, err = forwarder.stop()
    finally:
        forwarder.kill()
    assert "Traceback" not in err, err[-3000:]
    assert counts["raw"] == total
    assert counts["valid"] == counts["inserted"] == expected["valid"] + len(several)
    assert counts["invalid"] == expected["invalid"]
    assert_books_balance(counts)
    assert count_rows(sqlite_url) == expected["valid"] + len(several)


def test_sigterm_drains_what_was_received(publisher, sqlite_url):
    # Rows wait for an hour or a batch of 100,000: only the drain on SIGTERM writes them.
    forwarder = Subscriber(
        publisher, sqlite_url, "--flush-interval", "3600", "--batch-size", "100000"
    )
    try:
        publisher.send(*valid_lines(500))
        forwarder.wait_read(500)
        assert count_rows(sqlite_url) in (-1, 0)  # read, none written yet
        counts, err = forwarder.stop()
    finally:
        forwarder.kill()
    assert counts["raw"] == counts["valid"] == counts["inserted"] == 500, err[-3000:]
    assert count_rows(sqlite_url) == 500


def test_a_publisher_that_never_comes_is_waited_for(sqlite_url):
    """Nothing listens yet: the forwarder says so once, keeps retrying, and stops cleanly."""
    import socket

    with socket.socket() as probe:  # a free port, closed again: nobody listens on it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [*EL_MONITOR, "forward", "--schemas", str(SCHEMAS), "--db", sqlite_url,
         "--input", f"tcp://127.0.0.1:{port}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=term_with_parent,
    )  # fmt: skip
    output = ProcessOutput(proc)
    try:
        output.wait_for(f"no publisher answers at tcp://127.0.0.1:{port}; retrying")
        proc.send_signal(signal.SIGTERM)
        out, err = output.finish(60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.decode()[-3000:]
    assert overall_counts(out)["raw"] == 0
    assert err.decode().count("retrying") == 1


def test_zmq_cannot_be_shared_between_workers(sqlite_url):
    done = subprocess.run(
        [*EL_MONITOR, "forward", "--schemas", str(SCHEMAS), "--db", sqlite_url,
         "--input", "tcp://127.0.0.1:5556", "--workers", "2"],
        capture_output=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    assert "cannot be shared between workers" in done.stderr.decode()
    assert "Traceback" not in done.stderr.decode()
