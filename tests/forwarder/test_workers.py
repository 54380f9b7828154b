"""``el-monitor forward --workers 2`` as a real process: UDP and the HTTP beacon under a steady
stream, stopped by SIGTERM, keep every accepted event exactly once with the books exact summed
over the workers (and each worker took its part); files, several or one, are shared between
the workers with exact totals, in the store's counts and in Graphite; what cannot be shared is
refused in one line; a worker that dies stops the supervisor."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import threading
from pathlib import Path

from beacon.support import (
    Burst,
    Forwarder,
    assert_books_balance,
    assert_every_2xx_stored_once,
    stored_uuids,
    summary_counts,
)
from harness.wait import wait_until
from helpers import SCHEMAS, example_capsules, valid_lines

from el_monitor.ingest.batching import SHARED_FILE_BATCH_SIZE
from el_monitor.store import open_store

from .carbon import CarbonCapture
from .running import EL_MONITOR

STARTED = re.compile(r"forwarding (?:udp|http)://127\.0\.0\.1:(\d+) with 2 workers")
INSTANCE = "fwd"


def supervisor(db_url: str, uri: str, *extra: str) -> Forwarder:
    """``el-monitor -v forward --workers 2 --instance fwd --input URI ...`` and the port its
    workers share."""
    options = ("--instance", INSTANCE, "--workers", "2", "--flush-interval", "0.2", *extra)
    return Forwarder(db_url, *options, uri=uri, ready="with 2 workers", started=STARTED)


class UdpStream:
    """Sender threads, each from its own socket (so its own source port: SO_REUSEPORT spreads
    senders, not datagrams), sending one valid event per datagram until told to stop."""

    def __init__(self, port: int, senders: int = 16) -> None:
        self.port = port
        self.sent: list[str] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._capsules = example_capsules()
        self._threads = [
            threading.Thread(target=self._send, args=(n,), daemon=True) for n in range(senders)
        ]
        for thread in self._threads:
            thread.start()

    def _send(self, sender: int) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            number = 0
            while not self.stopping.is_set():
                number += 1
                u = f"{sender:04x}{number:028x}"
                capsule = dict(self._capsules[number % len(self._capsules)], uuid=u)
                with self._lock:
                    self.sent.append(u)
                sock.sendto(json.dumps(capsule).encode(), ("127.0.0.1", self.port))

    def stop(self) -> None:
        self.stopping.set()
        for thread in self._threads:
            thread.join(60)


def counts_by_instance(db_url: str) -> dict[str, dict[str, int]]:
    """The report's counts table summed per instance: what each worker wrote."""
    store = open_store(db_url)
    try:
        rows = store.query(
            "SELECT instance, SUM(raw), SUM(valid), SUM(invalid), SUM(inserted) "
            "FROM el_monitor_counts GROUP BY instance"
        )
    finally:
        store.close()
    measures = ("raw", "valid", "invalid", "inserted")
    return {row[0]: dict(zip(measures, map(int, row[1:]), strict=True)) for row in rows}


def assert_instances_sum(db_url: str, counts: dict[str, int]) -> dict[str, dict[str, int]]:
    """The counts table's rows, under the workers' instances, sum to the summary's totals;
    they are returned by instance."""
    by_instance = counts_by_instance(db_url)
    assert set(by_instance) <= {INSTANCE, f"{INSTANCE}-w2"}, by_instance
    for measure in ("raw", "valid", "invalid", "inserted"):
        assert sum(c[measure] for c in by_instance.values()) == counts[measure], by_instance
    return by_instance


def assert_workers_shared(db_url: str, counts: dict[str, int]) -> None:
    """Both workers stored some, under their own instances, and the counts table's rows sum
    to the summary's totals."""
    by_instance = assert_instances_sum(db_url, counts)
    assert set(by_instance) == {INSTANCE, f"{INSTANCE}-w2"}, by_instance
    assert all(c["inserted"] > 0 for c in by_instance.values()), by_instance


def test_udp_sigterm_keeps_every_received_event_once(sqlite_url):
    forwarder = supervisor(sqlite_url, "udp://127.0.0.1:0")
    stream = UdpStream(forwarder.port)
    enough = lambda: len(stored_uuids(sqlite_url)) >= 5000  # noqa: E731
    out, err = forwarder.stop_mid_stream(stream, enough, "5,000 events stored")
    assert forwarder.proc.returncode == 0, err[-3000:]
    counts = summary_counts(out)
    stored = stored_uuids(sqlite_url)
    assert len(stored) == len(set(stored))  # none twice
    assert set(stored) <= set(stream.sent)
    # UDP may drop what no worker received; what a worker received is stored.
    assert counts["raw"] == counts["valid"] == counts["inserted"] == len(stored)
    assert_books_balance(counts)
    assert_workers_shared(sqlite_url, counts)
    assert err.count("stopped receiving; handing over") == 2, err[-3000:]


def test_http_sigterm_stores_every_accepted_event_once(sqlite_url, tmp_path):
    spool = tmp_path / "spool"  # each worker journals what it accepts in its own directory
    forwarder = supervisor(sqlite_url, "http://127.0.0.1:0", "--spool-dir", str(spool))
    burst = Burst(forwarder.port, clients=16)
    enough = lambda: burst.count() >= 10_000  # noqa: E731
    out, err = forwarder.stop_mid_stream(burst, enough, "10,000 events answered 2xx")
    assert forwarder.proc.returncode == 0, err[-3000:]
    counts = assert_every_2xx_stored_once(sqlite_url, burst, out)
    assert_workers_shared(sqlite_url, counts)
    for journal in (spool / "http-journal", spool / "w2" / "http-journal"):
        assert journal.is_dir() and not list(journal.glob("*.wal")), journal  # all checkpointed


def test_the_supervisor_relays_signals_and_stops_when_a_worker_dies(sqlite_url, tmp_path):
    pid_path = tmp_path / "forward.pid"
    forwarder = supervisor(sqlite_url, "http://127.0.0.1:0", "--pid-file", str(pid_path))
    try:
        pids = re.search(r"with 2 workers \(pids (\d+) (\d+)\)", forwarder.output.text())
        assert pids, forwarder.output.text()
        assert pid_path.read_text() == f"{forwarder.proc.pid}\n"  # the pid file names it
        forwarder.output.wait_for("listening on http://", count=2)
        forwarder.proc.send_signal(signal.SIGHUP)  # each worker reloads
        forwarder.output.wait_for("catalog and opt-out list reloaded", count=2)
        os.kill(int(pids.group(2)), signal.SIGKILL)
        out, err = forwarder.finish()
    finally:
        forwarder.kill()
    assert forwarder.proc.returncode == 1, err[-3000:]
    assert "worker 2 (pid" in err and "died (killed by SIGKILL)" in err, err[-3000:]
    assert re.search(r"worker 1 \S+: .*stopped receiving", err), err[-3000:]  # it drained
    assert summary_counts(out)["raw"] == 0
    assert not pid_path.exists()


def _write_files(tmp_path: Path, sizes: list[int]) -> tuple[list[str], int, int]:
    """Files of valid lines with an invalid one every tenth: their URIs, valid and invalid."""
    uris, valid, invalid, start = [], 0, 0, 0
    for number, size in enumerate(sizes):
        lines = valid_lines(size, start)
        start += size
        for i in range(0, size, 10):
            lines[i] = b'{"schema": "NoSuchSchema", "revision": 1}'
        invalid += len(range(0, size, 10))
        valid += size - len(range(0, size, 10))
        path = tmp_path / f"events-{number}.jsonl"
        path.write_bytes(b"\n".join(lines) + b"\n")
        uris.append(f"file://{path}")
    return uris, valid, invalid


SHARED_BATCH_NOTE = f"each commits {SHARED_FILE_BATCH_SIZE} events at a time"


def _forward_files(db_url: str, uris: list[str], *options: str) -> tuple[dict[str, int], str]:
    """``el-monitor -v forward --workers 2`` of ``uris`` into ``db_url``: its summary's counts
    and its stderr, once it exited 0."""
    args = ["forward", "--schemas", str(SCHEMAS), "--db", db_url, "--instance", INSTANCE]
    args += ["--workers", "2", *options]
    for uri in uris:
        args += ["--input", uri]
    done = subprocess.run([*EL_MONITOR, "-v", *args], capture_output=True, timeout=300)
    err = done.stderr.decode(errors="replace")
    assert done.returncode == 0, err[-3000:]
    return summary_counts(done.stdout.decode()), err


def assert_files_stored(db_url: str, counts: dict[str, int], valid: int, invalid: int) -> None:
    """Every line counted once and every valid one stored once, the per-worker counts summing
    to the totals (which worker read which piece is the machine's choice)."""
    assert counts["raw"] == valid + invalid
    assert (counts["valid"], counts["invalid"], counts["inserted"]) == (valid, invalid, valid)
    assert_books_balance(counts)
    stored = stored_uuids(db_url)
    assert len(stored) == len(set(stored)) == valid
    assert_instances_sum(db_url, counts)


def test_several_files_are_shared_between_workers_with_exact_totals(db_url, tmp_path):
    uris, valid, invalid = _write_files(tmp_path, [900, 300, 500, 400])
    logs = tmp_path / "logs"
    counts, err = _forward_files(db_url, uris, "--log-dir", str(logs))
    assert_files_stored(db_url, counts, valid, invalid)
    # Each worker logs to its own files (worker 2's end in -w2), every valid event once.
    valid_logs = list(logs.glob("valid-*.jsonl"))
    day_log = re.compile(r"valid-\d{4}-\d{2}-\d{2}(-w2)?\.jsonl")
    assert valid_logs and all(day_log.fullmatch(p.name) for p in valid_logs), valid_logs
    assert sum(len(p.read_bytes().splitlines()) for p in valid_logs) == valid
    # Workers sharing a SQLite file commit in bigger batches (each commit empties the others'
    # page cache); MariaDB's keep the default.
    assert (SHARED_BATCH_NOTE in err) == db_url.startswith("sqlite:"), err[-3000:]


def test_one_file_is_shared_between_workers(sqlite_url, tmp_path):
    (uri,), valid, invalid = _write_files(tmp_path, [12_000])  # over 1 MiB: several pieces
    assert os.path.getsize(uri.removeprefix("file://")) > 1 << 20
    counts, err = _forward_files(sqlite_url, [uri])
    assert "with 2 workers" in err, err[-3000:]
    assert_files_stored(sqlite_url, counts, valid, invalid)


def test_sigterm_while_workers_read_pieces_stores_whole_lines_only(sqlite_url, tmp_path):
    """Stopped mid-piece, a worker hands on the whole lines it read and no cut one: every
    line is valid, so a cut line would be counted invalid."""
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(valid_lines(60_000)) + b"\n")  # 20 MB: 20 pieces
    args = ["forward", "--schemas", str(SCHEMAS), "--db", sqlite_url, "--workers", "2"]
    args += ["--batch-size", "500", "--input", f"file://{path}"]
    proc = subprocess.Popen(
        [*EL_MONITOR, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=None
    )
    try:
        wait_until(lambda: len(stored_uuids(sqlite_url)) >= 2000, 120, "2,000 rows stored")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err.decode(errors="replace")[-3000:]
    counts = summary_counts(out.decode())
    stored = stored_uuids(sqlite_url)
    assert len(stored) == len(set(stored))
    assert counts["invalid"] == 0 and counts["raw"] == counts["inserted"] == len(stored)
    assert_books_balance(counts)


def test_a_batch_size_given_is_kept_by_workers_sharing_a_sqlite_file(sqlite_url, tmp_path):
    uris, valid, _ = _write_files(tmp_path, [300, 300])
    _, err = _forward_files(sqlite_url, uris, "--batch-size", "100")
    assert SHARED_BATCH_NOTE not in err
    assert len(set(stored_uuids(sqlite_url))) == valid


def test_several_files_in_one_process_are_read_one_after_another(sqlite_url, tmp_path):
    uris, valid, invalid = _write_files(tmp_path, [300, 200])
    args = ["forward", "--schemas", str(SCHEMAS), "--db", sqlite_url]
    for uri in uris:
        args += ["--input", uri]
    done = subprocess.run([*EL_MONITOR, *args], capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    counts = summary_counts(done.stdout.decode())
    assert (counts["raw"], counts["valid"], counts["inserted"]) == (500, valid, valid)
    assert len(set(stored_uuids(sqlite_url))) == valid


def refusal(tmp_path: Path, *options: str) -> str:
    """The one stderr line of a refused ``forward --workers 2``."""
    db = f"sqlite:///{tmp_path}/refused.db"
    args = ["forward", "--schemas", str(SCHEMAS), "--db", db, "--workers", "2", *options]
    done = subprocess.run([*EL_MONITOR, *args], capture_output=True, timeout=120, stdin=None)
    err = done.stderr.decode()
    assert done.returncode == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "refused.db").exists()  # refused before anything opened
    return err


def test_what_cannot_be_shared_is_refused_in_one_line(tmp_path):
    assert "stdin:// cannot be shared between workers" in refusal(tmp_path)
    one = tmp_path / "one.jsonl"
    one.write_bytes(b"")
    alone = refusal(tmp_path, "--input", f"file://{one}?follow=1")
    assert "a followed file is read by one process" in alone
    mixed = refusal(tmp_path, "--input", f"file://{one}", "--input", "udp://127.0.0.1:0")
    assert "several --input must all be file:// inputs" in mixed
    followed = [f"file://{one}?follow=1", f"file://{one}?follow=1", f"file://{one}?follow=1"]
    args = [a for uri in followed for a in ("--input", uri)]
    assert "take one worker each: use --workers 3" in refusal(tmp_path, *args)


def test_graphite_sums_over_the_workers_instances(sqlite_url, tmp_path):
    uris, valid, invalid = _write_files(tmp_path, [400, 400])
    carbon = CarbonCapture()
    args = ["forward", "--schemas", str(SCHEMAS), "--db", sqlite_url, "--instance", INSTANCE]
    args += ["--workers", "2", "--graphite", f"127.0.0.1:{carbon.port}"]
    for uri in uris:
        args += ["--input", uri]
    try:
        done = subprocess.run([*EL_MONITOR, *args], capture_output=True, timeout=300)
        assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
        wait_until(lambda: carbon.done(2), 60, "both workers' metrics read")
        per_worker = [
            carbon.total(f"eventlogging.{name}.overall.raw.count")
            for name in (INSTANCE, f"{INSTANCE}-w2")
        ]
        valid_sent = carbon.total(f"eventlogging.{INSTANCE}.overall.valid.count")
        valid_sent += carbon.total(f"eventlogging.{INSTANCE}-w2.overall.valid.count")
    finally:
        carbon.close()
    assert per_worker == [400, 400]  # sumSeries over instances: every event once
    assert valid_sent == valid
