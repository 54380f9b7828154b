"""``el-monitor heartbeat`` as a real process: rows that replicate, a primary restart survived
with one line each way, a clean exit on SIGTERM and SIGINT, one-line errors."""

from __future__ import annotations

import signal
import subprocess
import sys

from harness.wait import wait_until
from helpers import ROOT

from el_monitor.store import replication as repl

from .support import heartbeat_process


def _written(store, writer=1):
    beat = repl.read_heartbeat(store, writer)
    return beat.written if beat is not None else None


def test_heartbeats_replicate_and_outlive_a_primary_restart(pair, tmp_path):
    primary, replica, primary_store, replica_store = pair
    log = tmp_path / "heartbeat.log"
    with heartbeat_process(primary.url, log, "--interval", "0.05") as process:
        first = wait_until(lambda: _written(replica_store), 30, "a heartbeat on the replica")
        wait_until(lambda: _written(replica_store) > first, 30, "a newer heartbeat replicated")
        port = primary.port
        primary.stop()
        wait_until(lambda: "heartbeat not written" in log.read_text(), 30, "the outage logged")
        primary.start()
        assert primary.port == port  # a restart: same server, same URL
        before = primary.value("SELECT UTC_TIMESTAMP(6)")
        wait_until(
            lambda: (_written(replica_store) or first) > before, 60,
            lambda: f"a heartbeat after the restart on the replica: {replica.slave_status()}",
        )  # fmt: skip
        assert process.poll() is None
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    text = log.read_text()
    assert text.count("heartbeat not written") == 1, text
    assert text.count("heartbeat written again after") == 1, text
    assert "Traceback" not in text
    assert primary.value("SELECT COUNT(*) FROM test.el_monitor_heartbeat") == 1
    assert replica.value("SELECT server_id FROM test.el_monitor_heartbeat") == 1


def test_sigint_ends_it_cleanly_and_the_database_option_places_the_table(pair, tmp_path):
    primary, replica, _, replica_store = pair
    primary.execute("CREATE DATABASE ops")
    log = tmp_path / "heartbeat.log"
    with heartbeat_process(primary.url, log, "--database", "ops") as process:
        wait_until(lambda: repl.read_heartbeat(replica_store, 1, "ops"), 30, "a heartbeat in ops")
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0
    assert "stopped:" in log.read_text()
    assert repl.read_heartbeat(replica_store, 1) is None  # not in the URL's database


def _cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "el_monitor.cli.main", *argv],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip


def test_errors_are_one_line(mariadb_servers, tmp_path):
    server = mariadb_servers(5)
    sqlite = _cli("heartbeat", "--db", f"sqlite:///{tmp_path / 'x.db'}")
    assert sqlite.returncode == 2
    assert sqlite.stderr.count("\n") == 1 and "does not exist" in sqlite.stderr
    (tmp_path / "x.db").touch()
    sqlite = _cli("heartbeat", "--db", f"sqlite:///{tmp_path / 'x.db'}")
    assert sqlite.returncode == 2
    assert sqlite.stderr.count("\n") == 1 and "needs a MySQL/MariaDB" in sqlite.stderr
    missing = _cli("heartbeat", "--db", server.url, "--database", "nowhere")
    assert missing.returncode == 2
    assert missing.stderr.count("\n") == 1 and "nowhere" in missing.stderr, missing.stderr
    port = server.port
    server.stop()
    away = _cli("heartbeat", "--db", f"mysql://root@127.0.0.1:{port}/test")
    assert away.returncode == 2
    assert away.stderr.count("\n") == 1 and "is the database running?" in away.stderr
