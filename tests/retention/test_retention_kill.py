"""A run killed with SIGKILL after its first batches resumes: the next run ends with exactly
what an uninterrupted run leaves (the reference, as test_retention_run checks it)."""

from __future__ import annotations

import datetime
import os
import signal
import subprocess
import sys

from harness.wait import wait_until
from helpers import ROOT

from el_monitor.retention.engine import plan_run
from el_monitor.retention.policy import DELETE, SANITIZE
from el_monitor.store.retention import table_states

from .support import (
    TABLES,
    catalog,
    catalog_file,
    expected,
    plant_salts,
    registry_dir,
    rows_of,
    seed,
)


def retention_run(db_url, tmp_path, *extra: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "el_monitor.cli.main", "retention", "run", "--db", db_url]
    command += ["--schemas", str(registry_dir(tmp_path)), "--config", str(catalog_file(tmp_path))]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([*command, "--execute", *extra], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)  # fmt: skip


def handled(store) -> int:
    states = table_states(store)
    return sum(s.rows_deleted + s.rows_sanitized for s in states.values())


def test_killed_run_resumes_to_the_same_result(store, db_url, tmp_path):
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    rows = seed(store, now)
    planted = plant_salts(store, now)
    killed = retention_run(db_url, tmp_path, "--batch-size", "10", "--pause", "0.05")
    try:
        wait_until(lambda: handled(store) >= 30, 60, "three batches done by the run")
    finally:
        killed.send_signal(signal.SIGKILL)
        killed.wait()
    assert killed.returncode == -signal.SIGKILL
    # Mid-way: a table is still marked running, and rows are still due.
    assert "running" in {s.status for s in table_states(store).values()}
    left = plan_run(store, catalog(tmp_path), now, [])
    assert sum(t.due(DELETE) + t.due(SANITIZE) for t in left.tables) > 0

    resumed = retention_run(db_url, tmp_path)
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err.decode()
    assert {s.status for s in table_states(store).values()} == {"done"}
    for table in TABLES:
        want = expected(rows, table, now, planted)
        got = {row["uuid"]: row for row in rows_of(store, table)}
        assert got == want, table
