"""The ``el-monitor`` command as a user runs it: real processes, signals, real sockets."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from harness.wait import wait_until
from helpers import (
    SCHEMAS,
    ProcessOutput,
    overall_counts,
    udp_socket,
    valid_lines,
    wait_listening,
)

EL_MONITOR = [sys.executable, "-m", "el_monitor.cli"]


def run(*args: str, stdin: bytes = b"", timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([*EL_MONITOR, *args], input=stdin, capture_output=True, timeout=timeout)


def rows(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
                "AND name NOT LIKE 'el_monitor_%'"
            )
        ]
        return sum(conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables)


def test_stdin_to_sqlite_prints_the_summary(tmp_path):
    db = tmp_path / "el.db"
    lines = valid_lines(300) + [
        b"not json",
        b'{"schema":"Nope","revision":1,"wiki":"w","event":{}}',
    ]
    done = run(
        "forward",
        "--schemas",
        str(SCHEMAS),
        "--db",
        f"sqlite:///{db}",
        stdin=b"\n".join(lines) + b"\n",
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout.decode()
    counts = overall_counts(done.stdout)
    assert (counts["raw"], counts["valid"], counts["invalid"]) == (302, 300, 2)
    assert "most common errors" in out and "unknown-schema" in out
    assert rows(db) == 300


def test_with_a_spool_the_forwarder_starts_while_the_database_is_down(tmp_path):
    import signal

    spool, lines, events = tmp_path / "spool", valid_lines(120), tmp_path / "events.log"
    events.write_bytes(b"\n".join(lines) + b"\n")
    proc = subprocess.Popen(
        [*EL_MONITOR, "forward", "--schemas", str(SCHEMAS), "--db", "mysql://root@127.0.0.1:1/x",
         "--input", f"file://{events}", "--spool-dir", str(spool), "--flush-interval", "0.2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip

    def all_spooled() -> bool:
        assert proc.poll() is None, proc.stderr.read().decode()
        return sum(len(f.read_bytes().splitlines()) for f in spool.glob("*.jsonl")) >= len(lines)

    wait_until(all_spooled, 60, f"{len(lines)} events in the spool")
    proc.send_signal(signal.SIGTERM)  # it would wait for the database to drain the spool
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()
    assert "starting anyway" in err.decode()
    assert overall_counts(out)["spooled"] == len(lines)
    # The next run, with a database that answers, stores them all.
    db = tmp_path / "el.db"
    args = ("forward", "--schemas", str(SCHEMAS), "--db", f"sqlite:///{db}", "--spool-dir")
    assert run(*args, str(spool)).returncode == 0
    assert rows(db) == len(lines) and not list(spool.glob("*.jsonl"))


def test_instance_names_the_forwarder_in_the_reports_counts(tmp_path):
    db = tmp_path / "el.db"
    args = ("forward", "--schemas", str(SCHEMAS), "--db", f"sqlite:///{db}", "--instance", "fw-7")
    done = run(*args, stdin=b"\n".join(valid_lines(40)) + b"\n")
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(db) as conn:
        counted = conn.execute("SELECT instance, SUM(raw) FROM el_monitor_counts GROUP BY 1")
        assert counted.fetchall() == [("fw-7", 40)]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["forward"], "--schemas"),
        (["forward", "--schemas", "/nonexistent/dir"], "/nonexistent/dir"),
        (
            ["forward", "--schemas", str(SCHEMAS), "--db", "mysql://root@127.0.0.1:1/x"],
            "cannot connect",
        ),
        (["forward", "--schemas", str(SCHEMAS), "--db", "postgres://x"], "unknown database URL"),
        (["forward", "--schemas", str(SCHEMAS), "--input", "ftp://x"], "ftp://x"),
        (["forward", "--schemas", str(SCHEMAS), "--format", "%q %x"], "unknown specifier"),
        (["forward", "--schemas", str(SCHEMAS), "--batch-size", "0"], "positive"),
        (["forward", "--schemas", str(SCHEMAS), "--instance", "x" * 64], "1-63"),
        (["forward", "--schemas", str(SCHEMAS), "--instance", "a.b"], "1-63"),
    ],
)
def test_user_errors_are_one_clear_line(args, fragment, tmp_path):
    os.chdir(tmp_path)
    done = run(*args)
    assert done.returncode != 0
    err = done.stderr.decode().strip()
    assert "Traceback" not in err
    # One line says what is wrong (argparse's usage text may come before it).
    assert fragment in err.splitlines()[-1]


def test_sigterm_flushes_everything_before_exit(tmp_path):
    db = tmp_path / "el.db"
    proc = subprocess.Popen(
        [
            *EL_MONITOR,
            "-v",
            "forward",
            "--schemas",
            str(SCHEMAS),
            "--db",
            f"sqlite:///{db}",
            "--flush-interval",
            "3600",
            "--batch-size",
            "100000",
            "--stats-interval",
            "0.1",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    output = ProcessOutput(proc)
    proc.stdin.write(b"\n".join(valid_lines(777)) + b"\n")
    proc.stdin.flush()
    output.wait_for("'raw': 777")  # read and validated, but the batch is far from due
    assert rows(db) == 0
    proc.send_signal(signal.SIGTERM)
    _, err = output.finish(timeout=30)
    assert proc.returncode == 0, err
    assert rows(db) == 777


def wait_for_rows(db: Path, count: int, timeout: float = 120) -> int:
    """Until the database holds at least ``count`` event rows; how many it then holds."""
    found = 0

    def stored() -> int:
        nonlocal found
        try:
            found = rows(db)
        except sqlite3.OperationalError:  # not created yet, or locked for a moment
            found = 0
        return found if found >= count else 0

    wait_until(stored, timeout, lambda: f"{count} rows in {db.name} (found {found})", 0.1)
    return found


def test_sigkill_mid_batch_then_restart_loses_and_duplicates_nothing(tmp_path):
    log = tmp_path / "events.log"
    total = 60_000
    log.write_bytes(b"\n".join(valid_lines(total)) + b"\n")
    db = tmp_path / "el.db"
    args = [
        *EL_MONITOR,
        "forward",
        "--schemas",
        str(SCHEMAS),
        "--db",
        f"sqlite:///{db}",
        "--input",
        f"file://{log}?follow=1",
        "--batch-size",
        "2000",
        "--flush-interval",
        "0.2",
    ]
    first = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_for_rows(db, 10_000)
    first.kill()  # SIGKILL, somewhere in the middle of a batch
    first.wait()
    stored_before = rows(db)
    assert 0 < stored_before < total
    second = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert wait_for_rows(db, total) == total
    second.send_signal(signal.SIGTERM)
    out, err = second.communicate(timeout=30)
    assert second.returncode == 0, err
    assert rows(db) == total
    with sqlite3.connect(db) as conn:
        duplicates = "SELECT uuid FROM NavigationTiming_1_7_0 GROUP BY uuid HAVING COUNT(*) > 1"
        assert conn.execute(duplicates).fetchall() == []


def start_forwarder(
    tmp_path, input_uri: str, *extra: str, options: tuple[str, ...] = (), env=None
) -> tuple[subprocess.Popen, Path]:
    """``el-monitor [options] forward ... [extra]`` in the background, into tmp_path/el.db."""
    db = tmp_path / "el.db"
    args = ["forward", "--schemas", str(SCHEMAS), "--db", f"sqlite:///{db}", "--input", input_uri]
    proc = subprocess.Popen(
        [*EL_MONITOR, *options, *args, "--flush-interval", "0.2", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    return proc, db


def free_port(kind) -> int:
    import socket

    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_udp_source_on_loopback(tmp_path):
    import socket

    port = free_port(socket.SOCK_DGRAM)
    proc, db = start_forwarder(tmp_path, f"udp://127.0.0.1:{port}")
    lines = valid_lines(200)
    wait_until(lambda: udp_socket(port), 60, f"the forwarder to bind udp://127.0.0.1:{port}")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        for i in range(0, 200, 4):
            # UDP has no flow control: a datagram that finds the receive buffer full is lost.
            # Send the next one only when the forwarder has read what was queued.
            wait_until(lambda: udp_socket(port).queued == 0, 60, "the forwarder to read")
            sender.sendto(b"\n".join(lines[i : i + 4]), ("127.0.0.1", port))
    assert wait_for_rows(db, 200) == 200
    assert udp_socket(port).drops == 0
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert overall_counts(out)["raw"] == 200


def test_http_beacon_on_loopback(tmp_path):
    import socket
    from urllib.parse import quote

    port = free_port(socket.SOCK_STREAM)
    proc, db = start_forwarder(tmp_path, f"http://127.0.0.1:{port}")
    base = f"http://127.0.0.1:{port}"
    wait_listening(base)
    lines = valid_lines(30)
    for line in lines[:10]:
        response = urllib.request.urlopen(f"{base}/beacon/event?{quote(line.decode())};", timeout=5)
        assert response.status == 204
    body = json.dumps([json.loads(line) for line in lines[10:]]).encode()
    request = urllib.request.Request(
        f"{base}/v1/events", data=body, headers={"Content-Type": "application/json"}
    )
    assert urllib.request.urlopen(request, timeout=5).status == 202
    big = urllib.request.Request(f"{base}/v1/events", data=b"[" + b" " * 70_000 + b"]")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(big, timeout=5)
    assert refused.value.code == 413
    assert wait_for_rows(db, 30) == 30
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    # What the beacon refused never reached the books (raw): the summary says so under them
    # (the 413, and the 404 that answered wait_listening's probe).
    assert f"{base}: 2 requests refused (4xx: the client's fault)" in out.decode().splitlines()


def test_stats_interval_logs_rates_while_running(tmp_path):
    db = tmp_path / "el.db"
    proc = subprocess.Popen(
        [
            *EL_MONITOR,  # without -v: the lines asked for are shown anyway
            "forward",
            "--schemas",
            str(SCHEMAS),
            "--db",
            f"sqlite:///{db}",
            "--stats-interval",
            "0.3",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    output = ProcessOutput(proc)
    proc.stdin.write(b"\n".join(valid_lines(100)) + b"\n")
    proc.stdin.flush()
    output.wait_for("'raw': 100")  # logged while running, its input still open
    proc.stdin.close()
    _, err = output.finish(timeout=30)
    stats = [line for line in err.decode().splitlines() if "busiest:" in line]
    assert stats, err.decode()
    assert "raw" in stats[0] and "/s" in stats[0] and "'raw': 100" in stats[-1]


@pytest.mark.parametrize("header", ["DNT", "Sec-GPC"])
def test_dnt_and_gpc_events_are_counted_and_never_kept(tmp_path, header):
    import socket
    from urllib.parse import quote

    port = free_port(socket.SOCK_STREAM)
    logs = tmp_path / "logs"
    base = f"http://127.0.0.1:{port}"
    proc, db = start_forwarder(tmp_path, base, "--log-dir", str(logs))
    wait_listening(base)
    secret = "private-token-4f1c"
    tracked, untracked = valid_lines(2)
    untracked = json.loads(untracked)
    untracked["event"] = dict(untracked["event"])
    untracked["webHost"] = secret
    for line, headers in [(tracked, {}), (json.dumps(untracked).encode(), {header: "1"})]:
        request = urllib.request.Request(
            f"{base}/beacon/event?{quote(line.decode())};", headers=headers
        )
        assert urllib.request.urlopen(request, timeout=5).status == 204
    assert wait_for_rows(db, 1) == 1
    # No wait for the opted-out event: both were answered 2xx, so both are counted in the
    # summary SIGTERM prints (accepted means kept).
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    counts = overall_counts(out)
    assert (counts["raw"], counts["valid"], counts["invalid"], counts["opted_out"]) == (2, 1, 0, 1)
    assert rows(db) == 1
    for log_file in logs.glob("*.jsonl"):
        assert secret not in log_file.read_text()
    assert secret.encode() not in db.read_bytes()


@pytest.mark.parametrize(
    "command",
    [
        ["forward", "--db", "sqlite:///el.db"],
        ["optout", "purge", "--db", "sqlite:///el.db"],
        ["catalog", "check"],
    ],
)
def test_a_schema_directory_without_schemas_is_refused(command, tmp_path):
    os.chdir(tmp_path)
    (tmp_path / "schemas" / "NotASchemaFile").mkdir(parents=True)  # e.g. the wrong folder
    done = run(*command, "--schemas", "schemas", stdin=b"\n".join(valid_lines(3)) + b"\n")
    assert done.returncode == 2
    err = done.stderr.decode().strip().splitlines()
    assert len(err) == 1 and "schemas holds no schemas" in err[0] and "--schemas" in err[0], err
    assert not (tmp_path / "el.db").exists()  # refused before anything opened


def test_the_forwarder_logs_how_many_schemas_it_has(tmp_path):
    os.chdir(tmp_path)
    done = run("-v", "forward", "--schemas", str(SCHEMAS), "--db", f"sqlite:///{tmp_path}/el.db")
    assert done.returncode == 0, done.stderr
    count = len(list(SCHEMAS.glob("*/*.json")))
    folders = len([p for p in SCHEMAS.iterdir() if p.is_dir()])
    assert (
        f"schema registry {SCHEMAS}: {folders} schemas, {count} revisions" in done.stderr.decode()
    )


def test_config_is_taken_after_every_command(tmp_path):
    """``--config`` before or after the command, whichever command: every command's own
    parser takes it, and the forwarder then reads that catalog."""
    from el_monitor.cli.main import _commands, build_parser

    leaves = list(_commands(build_parser()))
    assert len(leaves) > 20
    assert [leaf.prog for leaf in leaves if "--config" not in leaf._option_string_actions] == []
    broken = tmp_path / "broken.toml"
    broken.write_text("[schema.NavigationTiming]\nsample_rate = 0\n")
    for config_first in (True, False):
        flag = ["--config", str(broken)]
        args = ["forward", "--schemas", str(SCHEMAS), "--db", f"sqlite:///{tmp_path / 'x.db'}"]
        done = run(*(flag + args if config_first else args + flag), stdin=b"")
        assert done.returncode == 2 and "sample_rate" in done.stderr.decode(), done.stderr


def test_a_missing_input_file_makes_no_database(tmp_path):
    os.chdir(tmp_path)
    done = run("forward", "--schemas", str(SCHEMAS), "--input", f"file://{tmp_path}/none.jsonl")
    assert done.returncode == 2 and "none.jsonl" in done.stderr.decode()
    assert list(tmp_path.iterdir()) == []  # no el-monitor.db


def test_logs_have_no_second_timestamp_under_journald(tmp_path):
    args = ["-v", "forward", "--schemas", str(SCHEMAS), "--db", f"sqlite:///{tmp_path / 'j.db'}"]
    plain = run(*args).stderr.decode().splitlines()[0]
    env = {**os.environ, "JOURNAL_STREAM": "8:12345"}
    journald = subprocess.run([*EL_MONITOR, *args], env=env, capture_output=True, input=b"")
    first = journald.stderr.decode().splitlines()[0]
    assert first.startswith("INFO el_monitor.cli.forwarding: schema registry")
    assert plain.endswith(first) and plain[:4].isdigit()  # the same line, stamped


def test_syslog_takes_the_log_lines(tmp_path, monkeypatch):
    import logging
    import socket

    from el_monitor.cli import main as cli_main

    address = str(tmp_path / "log.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as syslog:
        syslog.bind(address)
        syslog.settimeout(10)
        monkeypatch.setattr(cli_main, "SYSLOG_ADDRESS", address)
        root = logging.getLogger()
        before = list(root.handlers)
        root.handlers.clear()  # basicConfig only configures a root without handlers
        try:
            db = f"sqlite:///{tmp_path / 's.db'}"
            monkeypatch.setattr("sys.stdin", open(os.devnull))  # noqa: SIM115
            cli_main.main(["--syslog", "-v", "forward", "--schemas", str(SCHEMAS), "--db", db])
        finally:
            for handler in root.handlers:
                handler.close()
            root.handlers[:] = before
        datagram = syslog.recv(4096).decode()
    assert "el-monitor[" in datagram and "el_monitor.cli.forwarding: schema registry" in datagram


@pytest.mark.parametrize("command", [["notify", "--help"], ["report", "daily"], ["notify"]])
def test_without_matplotlib_graphing_commands_fail_in_one_line(command, tmp_path):
    """matplotlib is the ``mail`` extra: where it is missing, notify and the report say how to
    get it, and nothing else needs it."""
    from helpers import ROOT

    shadow = tmp_path / "shadow" / "matplotlib"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('not installed')\n")
    env = {**os.environ, "PYTHONPATH": f"{shadow.parent}:{ROOT}"}
    done = subprocess.run([*EL_MONITOR, *command], env=env, capture_output=True, timeout=60)
    if "--help" in command:  # parsing needs no matplotlib
        assert done.returncode == 0
        return
    err = done.stderr.decode().strip()
    assert done.returncode == 2 and len(err.splitlines()) == 1, err
    assert "matplotlib, which is not installed: pip install 'el-monitor[mail]'" in err


def test_the_forwarder_says_at_start_how_it_runs(tmp_path):
    """One line without -v: version, the port really bound (port 0 asked), the store, the
    schemas, the catalog and the sampling and opt-out in force."""
    from el_monitor import __version__

    catalog = tmp_path / "c.toml"
    catalog.write_text('[schema.NavigationTiming]\nsample_rate = 10\nsample_key = ["isAnon"]\n')
    proc = subprocess.Popen(
        [*EL_MONITOR, "--config", str(catalog), "forward", "--schemas", str(SCHEMAS),
         "--input", "http://127.0.0.1:0", "--db", f"sqlite:///{tmp_path / 's.db'}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    output = ProcessOutput(proc)
    output.wait_for("opt-out")
    proc.send_signal(signal.SIGTERM)
    _, err = output.finish(timeout=30)
    [line] = [line for line in err.decode().splitlines() if "forwarding" in line]
    port = int(line.split("forwarding http://127.0.0.1:")[1].split()[0])
    assert port > 0 and f"el-monitor {__version__} " in line
    assert f"into sqlite:///{tmp_path / 's.db'};" in line and " schemas (" in line
    assert f"catalog {catalog} (1 schemas configured)" in line
    assert "sampling NavigationTiming 1 in 10; opt-out 0 users" in line
