"""The units in systemd/: ``systemd-analyze verify`` accepts each (the template as an
instance), every ExecStart line is a command line el-monitor's parser takes, and the
forwarder's unit runs as systemd would start it (its ExecStart with the environment systemd
gives a Type=notify unit): READY, watchdog pings, SIGHUP, SIGTERM draining with STOPPING, every
event stored, its pid file gone."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from harness.processes import free_ports
from harness.wait import wait_until
from helpers import ROOT, SCHEMAS, valid_lines

UNITS = sorted((ROOT / "systemd").glob("el-monitor-*"))
INSTALLED = "/opt/el-monitor/.venv/bin/el-monitor"
EL_MONITOR = str(Path(sys.executable).with_name("el-monitor"))


def exec_start(unit: Path) -> list[str]:
    """The ExecStart command line, continuation lines joined, split as systemd splits it."""
    text = unit.read_text().replace("\\\n", " ")
    [line] = [line for line in text.splitlines() if line.startswith("ExecStart=")]
    return shlex.split(line.removeprefix("ExecStart="))


def expand(argv: list[str], env: dict[str, str], instance: str) -> list[str]:
    """``${NAME}`` and ``%i`` as systemd expands them (each variable one word here)."""
    words = [re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], w) for w in argv]
    return [w.replace("%i", instance) for w in words]


def test_the_unit_files_are_the_ones_expected():
    names = {u.name for u in UNITS}
    assert {"el-monitor-forward@.service", "el-monitor-report-daily.timer",
            "el-monitor-retention.timer", "el-monitor-backup-verify.timer",
            "el-monitor-drill-failover.timer"} <= names  # fmt: skip
    for timer in (u for u in UNITS if u.suffix == ".timer"):
        assert timer.with_suffix(".service").exists(), timer.name


def test_systemd_analyze_verifies_every_unit(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze missing: scripts/ensure-monitoring installs Debian's systemd")
    for unit in UNITS:  # with the commands where this checkout's venv has them
        name = unit.name.replace("@.", "@test.")
        (tmp_path / name).write_text(unit.read_text().replace(INSTALLED, EL_MONITOR))
    done = subprocess.run([analyze, "verify", *sorted(str(p) for p in tmp_path.iterdir())],
                          capture_output=True, text=True, cwd=tmp_path)  # fmt: skip
    ours = [line for line in (done.stdout + done.stderr).splitlines() if "el-monitor" in line]
    assert done.returncode == 0 and ours == [], done.stdout + done.stderr


@pytest.mark.parametrize("unit", [u for u in UNITS if u.suffix == ".service"], ids=lambda u: u.name)
def test_every_exec_start_is_a_command_el_monitor_takes(unit):
    from el_monitor.cli.main import build_parser

    argv = exec_start(unit)
    assert argv[0] == INSTALLED
    placeholders = {name: f"/{name.lower()}" for name in re.findall(r"\$\{(\w+)\}", " ".join(argv))}
    args = build_parser().parse_args(expand(argv, placeholders, "main")[1:])
    assert hasattr(args, "run")


def test_the_forwarder_runs_as_its_unit_starts_it(tmp_path):
    """The unit's ExecStart, with what systemd gives the service: the environment file's
    variables, its state, logs, runtime and credentials directories, the notify socket."""
    names = ("STATE_DIRECTORY", "LOGS_DIRECTORY", "RUNTIME_DIRECTORY", "CREDENTIALS_DIRECTORY")
    dirs = {name: tmp_path / name.lower() for name in names}
    for path in dirs.values():
        path.mkdir()
    (dirs["CREDENTIALS_DIRECTORY"] / "db-password").write_text("unused-by-sqlite\n")
    database = tmp_path / "events.db"
    (dirs["STATE_DIRECTORY"] / "db-url").write_text(f"# the primary\nsqlite:///{database}\n")
    port, carbon = free_ports(2)
    env = {
        **{name: str(path) for name, path in dirs.items()},
        "INPUT": f"udp://127.0.0.1:{port}",
        "FORMAT": "json",
        "SCHEMAS": str(SCHEMAS),
        "GRAPHITE": f"127.0.0.1:{carbon}",  # nobody listens: forwarding goes on
    }
    catalog = tmp_path / "el-monitor.toml"
    catalog.write_text("[defaults]\nretention_days = 90\n")
    argv = expand(exec_start(ROOT / "systemd" / "el-monitor-forward@.service"), env, "test")
    argv = [sys.executable, "-m", "el_monitor.cli.main", *argv[1:]]
    argv[argv.index("/etc/el-monitor/el-monitor.toml")] = str(catalog)
    notify = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as manager:
        manager.bind(str(notify))
        manager.settimeout(60)
        process_env = {**os.environ, **env, "PYTHONPATH": str(ROOT), "NOTIFY_SOCKET": str(notify),
                       "WATCHDOG_USEC": "400000"}  # fmt: skip
        process = subprocess.Popen(argv, env=process_env, stderr=subprocess.PIPE)
        try:
            messages = [manager.recv(256).decode()]
            assert messages[0].startswith("READY=1"), messages
            lines = valid_lines(200)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                for line in lines:
                    udp.sendto(line, ("127.0.0.1", port))
            while messages.count("WATCHDOG=1") < 2:
                messages.append(manager.recv(256).decode())
            pid_file = dirs["RUNTIME_DIRECTORY"] / "forward.pid"
            assert pid_file.read_text().strip() == str(process.pid)
            wait_until(lambda: stored(database) == len(lines), 60, "every event stored")
            process.send_signal(signal.SIGHUP)  # ExecReload: the catalog and db-url again
            process.send_signal(signal.SIGTERM)
            while not messages[-1].startswith("STOPPING=1"):
                messages.append(manager.recv(256).decode())
            assert process.wait(60) == 0, process.stderr.read() if process.stderr else ""
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert not pid_file.exists() and stored(database) == len(lines)


def stored(database: Path) -> int:
    """Rows in the event tables; -1 while the forwarder is changing the file's tables (SQLite
    says "database schema has changed" to a reader then)."""
    if not database.exists():
        return 0
    try:
        return _stored(database)
    except sqlite3.OperationalError:
        return -1


def _stored(database: Path) -> int:
    with sqlite3.connect(database) as conn:
        tables = [name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'el_monitor%'"
            " AND name NOT LIKE 'sqlite%'")]  # fmt: skip
        return sum(conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables)


def test_waiting_for_the_database_keeps_the_watchdog_fed(tmp_path):
    """A flush waiting for a database that does not answer is not a hang: the writer pings
    the watchdog at least every interval while it waits (the test stops it after three)."""
    import threading

    from el_monitor.counts.counters import Counters
    from el_monitor.ingest.writer import Heartbeat, StoreWriter
    from el_monitor.schema.registry import DirectoryRegistry
    from el_monitor.store import open_store

    [port] = free_ports(1)  # nothing listens there
    store = open_store(f"mysql://root@127.0.0.1:{port}/x", connect_now=False)
    writer = StoreWriter(store, DirectoryRegistry(SCHEMAS), Counters(), lambda error: None)
    stop, pings = threading.Event(), []

    def ping() -> None:
        pings.append(1)
        if len(pings) == 3:
            stop.set()

    writer.alive = Heartbeat(ping, 0.05)
    writer.backoff.next_attempt = float("inf")  # the store is never worth another try
    writer.add({"schema": "Test", "revision": 1, "event": {}})
    assert writer.flush(stop, patient=True) == 1  # given back when stopped, not stored
    assert len(pings) == 3 and len(writer.batch) == 1
    store.close()
