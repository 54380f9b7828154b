"""The catalog and opt-out list in a running forwarder: drops, reloads, refusals."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from harness.wait import wait_until
from helpers import SCHEMAS, ProcessOutput, overall_counts
from test_cli import rows, start_forwarder, wait_for_rows

from el_monitor.ingest.sampling import Sampler
from el_monitor.store.mapping import table_name

EL_MONITOR = [sys.executable, "-m", "el_monitor.cli"]
OPTED_OUT_ID = 987654321
OPTED_OUT_TOKEN = "tok-opted-out-7f3a9c"


def edit_lines(count: int, start: int = 0) -> list[bytes]:
    """EditAttemptStep events; every tenth from the opted-out user (id or token)."""
    sample = json.loads((SCHEMAS.parent / "samples" / "EditAttemptStep.jsonl").read_text())
    lines = []
    for i in range(start, start + count):
        event = dict(sample["event"], user_id=1000 + i, session_token=f"tok{i}")
        if i % 10 == 3:
            event["user_id"] = OPTED_OUT_ID
        if i % 10 == 7:
            event["session_token"] = OPTED_OUT_TOKEN
        capsule = {
            "schema": "EditAttemptStep",
            "revision": "2.1.0",
            "wiki": "enwiki",
            "uuid": f"{i:032x}",
            "timestamp": 1795842000 + i,
            "event": event,
        }
        lines.append(json.dumps(capsule).encode())
    return lines


def nav_lines(count: int, start: int) -> list[bytes]:
    return [
        json.dumps(
            {
                "schema": "NavigationTiming",
                "revision": "1.7.0",
                "wiki": "enwiki",
                "uuid": f"{i:032x}",
                "timestamp": 1795842000,
                "event": {"isAnon": True},
            }
        ).encode()
        for i in range(start, start + count)
    ]


def stored_uuids(db: Path, schema: str, revision: str) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {r[0] for r in conn.execute(f'SELECT uuid FROM "{table_name(schema, revision)}"')}


def read_to_the_end(log: Path) -> bool:
    """Whether a forwarder following ``log`` has checkpointed all of it: every line read,
    and what was kept of it stored."""
    checkpoint = log.parent / f".{log.name}.el-monitor.checkpoint"
    try:
        offset = json.loads(checkpoint.read_text())["offset"]
    except FileNotFoundError:
        return False
    return offset == log.stat().st_size


def el_monitor(*args: str, env: dict, stdin: bytes = b"") -> subprocess.CompletedProcess:
    done = subprocess.run(
        [*EL_MONITOR, *args], input=stdin, capture_output=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr.decode()
    return done


def opt_out(catalog: Path, env: dict, *identity: str) -> None:
    """``el-monitor optout add --wiki enwiki <identity>`` with this catalog."""
    el_monitor("--config", str(catalog), "optout", "add", "--wiki", "enwiki", *identity, env=env)


def test_opted_out_users_are_dropped_and_appear_nowhere(tmp_path):
    env = dict(os.environ, EL_MONITOR_SECRET="site-secret-for-tests")
    optouts = tmp_path / "optout.jsonl"
    catalog = tmp_path / "el-monitor.toml"
    catalog.write_text(
        f'optout_file = "{optouts}"\n'
        "[schema.EditAttemptStep]\n"
        'owners = ["editing@example.org"]\n'
        'user_fields = ["user_id", "session_token"]\n'
    )
    opt_out(catalog, env, "--user-id", str(OPTED_OUT_ID))
    opt_out(catalog, env, "--token", OPTED_OUT_TOKEN)
    listed = el_monitor("--config", str(catalog), "optout", "list", env=env).stdout.decode()
    assert len(listed.strip().splitlines()) >= 2
    assert str(OPTED_OUT_ID) not in listed and OPTED_OUT_TOKEN not in listed

    # Broken capsules (an unreadable timestamp): the opted-out user's is dropped all the same,
    # the other one is logged as invalid.
    broken = [
        json.dumps(dict(json.loads(line), timestamp="yesterday")).encode()
        for line in edit_lines(2, start=203)  # 203 is the opted-out user, 204 is not
    ]
    db, logs = tmp_path / "el.db", tmp_path / "logs"
    done = el_monitor(
        "--config",
        str(catalog),
        "forward",
        "--schemas",
        str(SCHEMAS),
        "--db",
        f"sqlite:///{db}",
        "--log-dir",
        str(logs),
        env=env,
        stdin=b"\n".join([*edit_lines(200), *broken]) + b"\n",
    )
    counts = overall_counts(done.stdout)
    assert (counts["raw"], counts["valid"], counts["invalid"], counts["opted_out"]) == (
        202, 160, 1, 41,
    )  # fmt: skip
    assert rows(db) == 160
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert str(OPTED_OUT_ID).encode() not in data, path
            assert OPTED_OUT_TOKEN.encode() not in data, path


def test_invalid_catalog_stops_the_forwarder_before_it_starts(tmp_path):
    catalog = tmp_path / "el-monitor.toml"
    catalog.write_text("[schema.NavigationTiming]\nsample_rate = 0\n")
    done = subprocess.run(
        [
            *EL_MONITOR,
            "--config",
            str(catalog),
            "forward",
            "--schemas",
            str(SCHEMAS),
            "--db",
            f"sqlite:///{tmp_path}/el.db",
        ],
        input=b"",
        capture_output=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert f"{catalog}:2" in done.stderr.decode() and "sample_rate" in done.stderr.decode()
    assert not (tmp_path / "el.db").exists()


def test_sighup_reload_under_load_counts_every_event_once(tmp_path):
    catalog = tmp_path / "el-monitor.toml"
    catalog.write_text("[schema.NavigationTiming]\nsample_rate = 1\n")
    log = tmp_path / "events.log"
    log.write_bytes(b"")
    proc, db = start_forwarder(
        tmp_path, f"file://{log}?follow=1", options=("-v", "--config", str(catalog))
    )
    output = ProcessOutput(proc)
    total = 0

    def append(lines: list[bytes]) -> None:
        with open(log, "ab") as out:
            out.write(b"\n".join(lines) + b"\n")

    append(nav_lines(1000, 0))
    total += 1000
    assert wait_for_rows(db, 1000) == 1000

    # Under load: a writer keeps appending while the catalog changes and SIGHUP arrives.
    appended = []

    def writer() -> None:
        for start in range(1000, 21000, 500):
            append(nav_lines(500, start))
            appended.append(start)
            time.sleep(0.02)  # on purpose: the appends go on while the reload happens

    feeding = threading.Thread(target=writer)
    feeding.start()
    wait_until(lambda: appended, 60, "the writer's first append")
    catalog.write_text("[schema.NavigationTiming]\nsample_rate = 10\n")
    proc.send_signal(signal.SIGHUP)
    feeding.join()
    total += 20000
    output.wait_for("catalog and opt-out list reloaded")  # before the file changes again
    catalog.write_text("[schema.NavigationTiming]\nsample_rate = 'ten'\n")  # invalid
    proc.send_signal(signal.SIGHUP)
    output.wait_for("reload refused")
    append(nav_lines(1000, 21000))
    total += 1000
    wait_until(lambda: read_to_the_end(log), 120, f"the forwarder to read all of {log.name}")
    proc.send_signal(signal.SIGTERM)
    out, err = output.finish(timeout=60)
    assert proc.returncode == 0, err.decode()
    counts = overall_counts(out)
    assert counts["raw"] == total
    assert counts["valid"] + counts["sampled_out"] == total
    assert counts["invalid"] == counts["opted_out"] == 0
    assert counts["inserted"] == counts["valid"] == rows(db)
    # How many events the reload caught mid-stream depends on timing; what the sampler keeps
    # of each event does not (1 in 10 by uuid).  The first batch was stored whole, and of
    # the last one exactly the sampler's choice: the new rate took effect, and the invalid
    # catalog did not undo it.
    stored = stored_uuids(db, "NavigationTiming", "1.7.0")
    assert {f"{i:032x}" for i in range(1000)} <= stored
    sampler = Sampler(10)
    last = {f"{i:032x}" for i in range(21000, 22000)}
    assert stored & last == {u for u in last if sampler.keep({"uuid": u, "event": {}})}
    assert "reload refused" in err.decode() and "sample_rate" in err.decode()
    assert "catalog and opt-out list reloaded" in err.decode()


def test_the_opt_out_list_is_reloaded_when_it_changes(tmp_path):
    env = dict(os.environ, EL_MONITOR_SECRET="another-secret")
    optouts = tmp_path / "optout.jsonl"
    catalog = tmp_path / "el-monitor.toml"
    catalog.write_text(
        f'optout_file = "{optouts}"\n[schema.EditAttemptStep]\nuser_fields = ["user_id"]\n'
    )
    log = tmp_path / "events.log"
    log.write_bytes(b"\n".join(edit_lines(100)) + b"\n")
    proc, db = start_forwarder(
        tmp_path, f"file://{log}?follow=1", options=("-v", "--config", str(catalog)), env=env
    )
    output = ProcessOutput(proc)
    reloaded = "catalog and opt-out list reloaded"  # logged (-v) once the change is in force

    def append(start: int) -> None:
        with open(log, "ab") as out:
            out.write(b"\n".join(edit_lines(100, start=start)) + b"\n")

    assert wait_for_rows(db, 100) == 100  # nobody opted out yet
    opt_out(catalog, env, "--user-id", str(OPTED_OUT_ID))
    output.wait_for(reloaded)  # the forwarder notices the new file (it looks every second)
    append(100)
    assert wait_for_rows(db, 190) == 190

    optouts.unlink()  # by mistake: the users on it stay opted out
    output.wait_for("is gone, with 1 entries in force")
    append(200)
    assert wait_for_rows(db, 280) == 280
    optouts.write_bytes(b"")  # on purpose: the list is cleared
    output.wait_for(reloaded, count=2)
    append(300)
    assert wait_for_rows(db, 380) == 380
    proc.send_signal(signal.SIGTERM)
    out, err = output.finish(timeout=30)
    assert rows(db) == 380
    assert overall_counts(out)["opted_out"] == 20
    assert "is gone, with 1 entries in force" in err.decode()
