"""check_el_replication on a private primary and replica: OK, WARNING, CRITICAL as a real lag
grows (the replica's SQL thread held on a row lock while the heartbeat goes on), replication
stopped and broken CRITICAL with the replica's own error, the Seconds_Behind_Master fallback
when no heartbeat exists, UNKNOWN for a server that is not a replica or does not answer."""

from __future__ import annotations

import subprocess
import sys

import pytest
from harness.wait import wait_until
from helpers import ROOT

from el_monitor.checks import replication as check_replication
from el_monitor.store import replication as repl

from .support import heartbeat_process

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3


def check(url, capsys, *extra: str) -> tuple[int, str, dict[str, str]]:
    """Run the plugin in-process: exit code, status line, perfdata label → value;thresholds."""
    code = check_replication.main(["--db", url, *extra])
    out = capsys.readouterr().out
    text, _, perf = out.splitlines()[0].partition(" | ")
    return code, text, dict(item.split("=", 1) for item in perf.split())


def lag_of(perf: dict[str, str]) -> float:
    return float(perf["lag"].split(";")[0].removesuffix("s"))


@pytest.fixture
def beating(pair, tmp_path):
    """The pair with ``el-monitor heartbeat`` writing every 50 ms on the primary, its first
    row replicated."""
    with heartbeat_process(pair.primary.url, tmp_path / "heartbeat.log", "--interval", "0.05"):
        wait_until(lambda: repl.read_heartbeat(pair.replica_store, 1), 30, "a heartbeat replicated")
        yield pair


def test_lag_ok_then_warning_then_critical_then_ok_again(beating, capsys):
    primary, replica, _, _ = beating
    thresholds = ("-w", "1", "-c", "3")
    code, text, perf = wait_until(
        lambda: (r := check(replica.url, capsys, *thresholds))[0] == OK and r, 30, "an OK check"
    )
    assert text.startswith("EL_REPLICATION OK - lag ")
    assert text.endswith(
        f" s by the heartbeat of server 1; replicating from 127.0.0.1:{primary.port}"
    )
    assert perf["lag"].endswith("s;1;3;0") and lag_of(perf) < 1

    # The SQL thread waits on a row lock the replica holds: still running, falling behind.
    blocker = replica.connect("test")
    try:
        with blocker.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute("SELECT * FROM el_monitor_heartbeat WHERE server_id = 1 FOR UPDATE")
        seen = []
        code, text, perf = wait_until(
            lambda: seen.append(r := check(replica.url, capsys, *thresholds)) or r[0] != OK and r,
            30, lambda: f"a lag past 1 s: {seen[-1:]}",
        )  # fmt: skip
        assert code == WARNING, text
        assert text.startswith("EL_REPLICATION WARNING - lag ")
        assert text.endswith(" s (> 1) by the heartbeat of server 1")
        assert 1 < lag_of(perf) <= 3
        status = repl.replica_status(beating.replica_store)
        assert status.running  # judged by the lag, not the threads

        code, text, perf = wait_until(
            lambda: (r := check(replica.url, capsys, *thresholds))[0] != WARNING and r,
            30,
            "a lag past 3 s",
        )
        assert code == CRITICAL, text
        assert (
            text.startswith("EL_REPLICATION CRITICAL - lag ")
            and " s (> 3) by the heartbeat" in text
        )
        assert lag_of(perf) > 3
    finally:
        blocker.close()  # the lock goes: the replica catches up
    wait_until(lambda: check(replica.url, capsys, *thresholds)[0] == OK, 60, "OK once caught up")


def test_the_plugin_as_icinga_runs_it(beating):
    """A real process, as Icinga execs it: the exit code is the state, one status line."""
    replica = beating.replica

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "el_monitor.checks.replication", "--db", replica.url,
             "-w", "30", "-c", "60", "-t", "20"],
            capture_output=True, text=True, timeout=60, cwd=ROOT,
        )  # fmt: skip

    done = wait_until(lambda: (r := run()).returncode == OK and r, 30, "an OK run")
    [line] = done.stdout.splitlines()
    assert line.startswith("EL_REPLICATION OK - lag ") and ";30;60;0" in line
    assert done.stderr == ""
    repl.stop_replica(beating.replica_store)
    stopped = run()
    assert stopped.returncode == CRITICAL
    assert stopped.stdout.startswith(
        "EL_REPLICATION CRITICAL - replication stopped (IO thread No, SQL thread No); lag "
    )


def test_stopped_replication_is_critical_with_the_lag_still_measured(beating, capsys):
    replica_store = beating.replica_store
    repl.stop_replica(replica_store, sql_thread_only=True)
    code, text, perf = wait_until(
        lambda: (r := check(beating.replica.url, capsys))[0] == CRITICAL and lag_of(r[2]) > 0.2
        and r, 30, "the heartbeat's age growing on a stopped replica",
    )  # fmt: skip
    assert text.startswith(
        "EL_REPLICATION CRITICAL - replication stopped (IO thread Yes, SQL thread No); lag "
    )
    assert text.endswith("s by the heartbeat of server 1")
    assert perf["lag"].endswith("s;30;60;0")


def test_a_row_conflict_is_critical_with_the_replicas_error(pair, capsys):
    primary, replica, _, replica_store = pair
    primary.execute("CREATE TABLE test.t (id INT PRIMARY KEY)")
    replica.wait_caught_up(primary)
    drift = replica.connect("test")  # a write on the replica, kept out of its binlog
    try:
        with drift.cursor() as cursor:
            cursor.execute("SET SESSION sql_log_bin = 0")
            cursor.execute("INSERT INTO t VALUES (2)")
    finally:
        drift.close()
    primary.execute("INSERT INTO test.t VALUES (2)")
    wait_until(lambda: repl.replica_status(replica_store).last_sql_error, 30, "the SQL error")
    code, text, perf = check(replica.url, capsys)
    assert code == CRITICAL
    assert text.startswith(
        "EL_REPLICATION CRITICAL - replication broken: SQL thread stopped: error 1062: "
    )
    assert "Duplicate entry '2'" in text
    assert "Could not execute Write_rows" in text
    assert text.endswith("; lag unknown (no heartbeat, and Seconds_Behind_Master is NULL)")
    assert perf == {"lag": "U;30;60;0"}


def test_an_io_error_is_critical_with_its_text(pair, capsys):
    primary, replica, _, replica_store = pair
    repl.replicate_from(
        replica_store, "127.0.0.1", primary.port, "nobody", "wrong", connect_retry=1
    )
    wait_until(lambda: repl.replica_status(replica_store).last_io_error, 30, "the IO error")
    code, text, _ = check(replica.url, capsys)
    assert code == CRITICAL
    assert text.startswith("EL_REPLICATION CRITICAL - replication broken: IO thread Connecting: ")
    assert "error 1045" in text and "Access denied for user 'nobody'" in text


def test_without_a_heartbeat_the_lag_is_seconds_behind_master_with_a_note(pair, capsys):
    replica = pair.replica
    code, text, perf = check(replica.url, capsys)
    assert code == OK
    assert text == (
        "EL_REPLICATION OK - lag 0 s by Seconds_Behind_Master (no heartbeat row of the primary: "
        f"run el-monitor heartbeat on it); replicating from 127.0.0.1:{pair.primary.port}"
    )
    assert perf == {"lag": "0s;30;60;0"}

    # The account the Icinga docs ask for is enough: SELECT and SLAVE MONITOR.
    pair.primary.execute("CREATE USER monitor@'127.0.0.1' IDENTIFIED BY 'pw'")
    pair.primary.execute("GRANT SELECT, SLAVE MONITOR ON *.* TO monitor@'127.0.0.1'")
    pair.replica.wait_caught_up(pair.primary)
    code, text, _ = check(f"mysql://monitor:pw@127.0.0.1:{replica.port}/test", capsys)
    assert code == OK, text


def test_not_a_replica_unreachable_or_sqlite_is_unknown(pair, capsys, tmp_path):
    code, text, perf = check(pair.primary.url, capsys)
    assert (code, perf) == (UNKNOWN, {})
    assert text == (
        f"EL_REPLICATION UNKNOWN - mysql://root@127.0.0.1:{pair.primary.port}/test is not a "
        "replica (no primary configured); check --db"
    )
    port = pair.primary.port
    pair.primary.stop()
    code, text, _ = check(f"mysql://root@127.0.0.1:{port}/test", capsys)
    assert code == UNKNOWN
    assert text.startswith(
        f"EL_REPLICATION UNKNOWN - cannot connect to mysql://root@127.0.0.1:{port}"
    )
    assert text.endswith("(is the database running? check --db)")
    (tmp_path / "x.db").touch()
    code, text, _ = check(f"sqlite:///{tmp_path / 'x.db'}", capsys)
    assert code == UNKNOWN and "needs a MySQL/MariaDB database" in text


def test_a_primary_gone_is_critical_naming_the_io_thread(pair, capsys):
    pair.primary.stop()
    code, text, _ = wait_until(
        lambda: (r := check(pair.replica.url, capsys))[0] != OK and r, 60, "the primary missed"
    )
    assert code == CRITICAL
    assert text.startswith("EL_REPLICATION CRITICAL - replication ")
    assert "IO thread Connecting" in text, text
