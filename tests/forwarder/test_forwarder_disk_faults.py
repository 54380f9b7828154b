"""Disks that fail under a running ``el-monitor forward``: a full or read-only ``--log-dir``
(the logs are best effort, the database is the record) and SQLite on a full disk (an outage:
spool, then drain).  Real tmpfs and bind mounts, a real child process, a real TCP listener
standing in for carbon."""

from __future__ import annotations

import re
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness.mounts import fill, read_only, small_tmpfs
from harness.wait import wait_until
from helpers import valid_lines

from .running import (
    RunningForwarder,
    assert_books_balance,
    log_records,
    one_schema_lines,
    uuids_in,
)
from .support import count_rows

FAILING = "cannot write the event logs"
RESUMED = "event logs in"  # "event logs in DIR writable again after …"
NOT_LOGGED = re.compile(r"writable again after \d+ s; (\d+) events were not logged")


class _Carbon(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _CarbonHandler)


class _CarbonHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        server: _Carbon = self.server  # type: ignore[assignment]
        for line in self.rfile:
            with server.lock:
                server.lines.append(line.decode())


@pytest.fixture
def carbon() -> Iterator[_Carbon]:
    """A plaintext listener keeping every metric line the forwarder sends."""
    server = _Carbon()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _not_logged_points(carbon: _Carbon) -> list[float]:
    with carbon.lock:
        lines = list(carbon.lines)
    return [
        float(line.split()[1])
        for line in lines
        if line.startswith("eventlogging.fw-faults.overall.not_logged.count ")
    ]


def _resume(fw: RunningForwarder, start: int) -> int:
    """Feed one event at a time until the forwarder says its logs work again (it retries them
    with backoff, on the next events); returns the next event number."""
    sent = start

    def resumed() -> bool:
        nonlocal sent
        fw.send(valid_lines(1, start=sent))
        sent += 1
        return fw.alive() and "writable again" in fw.stderr()

    wait_until(resumed, 180, lambda: f"the event logs to work again; stderr:\n{fw.stderr()}", 0.25)
    return sent


def _rows(db: Path) -> int:
    return count_rows(f"sqlite:///{db}")


def test_a_full_log_disk_never_stops_forwarding_and_logging_resumes(tmp_path, carbon) -> None:
    db = tmp_path / "el.db"
    with small_tmpfs(tmp_path / "logs", "1m") as logs:
        fw = RunningForwarder(
            f"sqlite:///{db}",
            "--log-dir", str(logs),
            "--graphite", f"127.0.0.1:{carbon.server_address[1]}",
            "--graphite-interval", "1",
            "--instance", "fw-faults",
        )  # fmt: skip
        try:
            fw.send(valid_lines(100))
            wait_until(lambda: fw.alive() and _rows(db) == 100, 60, "the first 100 events stored")
            filler = fill(logs)
            fw.send(valid_lines(300, start=100))
            fw.output.wait_for(FAILING)
            fw.send(valid_lines(300, start=400))
            wait_until(
                lambda: fw.alive() and _rows(db) == 700,
                60,
                "every event stored while the disk is full",
            )
            wait_until(
                lambda: fw.alive() and any(_not_logged_points(carbon)),
                60,
                "not_logged > 0 in Graphite",
            )
            filler.unlink()
            sent = _resume(fw, 700)
            last = valid_lines(50, start=sent)
            fw.send(last)
            sent += 50
            wait_until(
                lambda: (
                    fw.alive()
                    and {f"{i:032x}" for i in range(sent - 50, sent)}
                    <= uuids_in(log_records(logs, "valid"))
                ),
                60,
                "the last events in the valid log",
            )
            code, counts, out, err = fw.finish()
        finally:
            fw.kill()
    assert code == 0, err
    assert counts["raw"] == counts["valid"] == counts["inserted"] == sent
    assert_books_balance(counts)
    assert _rows(db) == sent
    assert "Traceback" not in err
    assert err.count(FAILING) == 1, err
    assert err.count("writable again") == 1, err
    (not_logged,) = NOT_LOGGED.findall(err)
    assert 300 <= int(not_logged) <= 700  # at least those sent while the disk was full
    assert sum(_not_logged_points(carbon)) == int(not_logged)


def test_a_read_only_log_dir_never_stops_forwarding_and_logging_resumes(tmp_path) -> None:
    db = tmp_path / "el.db"
    logs = tmp_path / "logs"
    logs.mkdir()
    fw = None
    try:
        with read_only(logs):
            fw = RunningForwarder(f"sqlite:///{db}", "--log-dir", str(logs))
            fw.send(valid_lines(200))
            fw.output.wait_for(FAILING)
            fw.send(valid_lines(200, start=200))
            wait_until(
                lambda: fw.alive() and _rows(db) == 400,
                60,
                "every event stored with read-only logs",
            )
            assert not list(logs.iterdir())
        sent = _resume(fw, 400)
        code, counts, out, err = fw.finish()
    finally:
        if fw is not None:
            fw.kill()
    assert code == 0, err
    assert counts["raw"] == counts["valid"] == counts["inserted"] == sent
    assert_books_balance(counts)
    assert "Traceback" not in err
    assert "Read-only file system" in err
    assert err.count(FAILING) == 1, err
    (not_logged,) = NOT_LOGGED.findall(err)
    assert int(not_logged) >= 400
    assert uuids_in(log_records(logs, "valid")) >= {f"{sent - 1:032x}"}


def test_sqlite_on_a_full_disk_spools_and_drains_losing_nothing(tmp_path) -> None:
    spool = tmp_path / "spool"
    with small_tmpfs(tmp_path / "db", "4m") as directory:
        db = directory / "el.db"
        fw = RunningForwarder(f"sqlite:///{db}", "--spool-dir", str(spool))
        try:
            fw.send(one_schema_lines(100))
            wait_until(lambda: fw.alive() and _rows(db) == 100, 60, "the first 100 events stored")
            filler = fill(directory)
            fw.send(one_schema_lines(400, start=100))
            wait_until(
                lambda: fw.alive() and list(spool.glob("*.jsonl")), 60, "batches in the spool"
            )
            fw.output.wait_for("database unavailable")
            assert _rows(db) < 500
            filler.unlink()
            wait_until(
                lambda: fw.alive() and _rows(db) == 500, 120, "the spool drained into the database"
            )
            code, counts, out, err = fw.finish()
        finally:
            fw.kill()
        assert _rows(db) == 500
    assert code == 0, err
    assert "Traceback" not in err and "cannot rollback" not in err, err
    assert counts["raw"] == counts["valid"] == counts["inserted"] == 500
    assert counts["spooled"] > 0
    assert_books_balance(counts)
    assert not list(spool.glob("*.jsonl"))
