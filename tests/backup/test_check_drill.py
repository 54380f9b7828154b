"""check_el_drill: the age of the last successful failover drill in the drill log, judged
against six months (by default), and a failed drill since then said out loud."""

from __future__ import annotations

import subprocess
import sys

import pytest

from el_monitor.backup.drill_log import DrillRecord, Phase, keep
from el_monitor.checks.drill import main

NOW = "2027-01-01T00:00:00"


def drill(tmp_path, started: str, outcome: str = "passed", error: str | None = None) -> None:
    record = DrillRecord(
        kind="failover", started=f"{started}T03:00:00+00:00", finished=f"{started}T03:01:00+00:00",
        outcome=outcome, primary="mysql://db1/log", replica="mysql://db2/log",
        phases=(Phase("fence", 0.1, True),), error=error,
    )  # fmt: skip
    keep(tmp_path, record, [(".txt", "report")])


def check(capsys, *args: str) -> tuple[int, str]:
    code = main([*args, "--now", NOW])
    return code, capsys.readouterr().out.strip()


def test_a_recent_drill_is_ok(tmp_path, capsys):
    drill(tmp_path, "2026-12-22")
    code, out = check(capsys, "--log-dir", str(tmp_path))
    assert code == 0, out
    assert out.startswith("EL_DRILL OK - last successful failover drill 9.9 days ago")
    assert "on 2026-12-22" in out
    assert "last_success_days=9.875;183;366;0" in out


@pytest.mark.parametrize(
    ("started", "code", "state"),
    [("2026-06-01", 1, "WARNING"), ("2025-12-01", 2, "CRITICAL")],
)
def test_an_old_drill_warns_then_is_critical(tmp_path, capsys, started, code, state):
    drill(tmp_path, started)
    got, out = check(capsys, "--log-dir", str(tmp_path))
    assert got == code, out
    assert out.startswith(f"EL_DRILL {state} - last successful failover drill")
    assert ("> 183" if code == 1 else "> 366") in out


def test_the_age_is_configurable(tmp_path, capsys):
    drill(tmp_path, "2026-11-01")
    code, out = check(capsys, "--log-dir", str(tmp_path), "-w", "30", "-c", "90")
    assert code == 1 and "> 30" in out, out


def test_no_successful_drill_is_critical(tmp_path, capsys):
    drill(tmp_path, "2026-12-20", "aborted", "pre-flight: the replica is 9 s behind")
    code, out = check(capsys, "--log-dir", str(tmp_path))
    assert code == 2, out
    assert "no successful failover drill in the log" in out
    assert "last drill failed: 2026-12-20 (aborted: pre-flight: the replica is 9 s behind)" in out


def test_a_failed_drill_after_the_last_success_warns(tmp_path, capsys):
    drill(tmp_path, "2026-12-01")
    drill(tmp_path, "2026-12-20", "aborted", "the replica did not catch up")
    drill(tmp_path, "2026-12-21", "dry-run")  # a dry run is not a drill
    code, out = check(capsys, "--log-dir", str(tmp_path))
    assert code == 1, out
    assert "last successful failover drill 30.9 days ago, on 2026-12-01" in out
    assert "the last drill failed: 2026-12-20 (aborted: the replica did not catch up)" in out


def test_a_missing_log_is_unknown(tmp_path, capsys):
    code, out = check(capsys, "--log-dir", str(tmp_path / "nowhere"))
    assert code == 3
    assert out.startswith("EL_DRILL UNKNOWN - no drill log at")


def test_the_plugin_as_a_process(tmp_path):
    drill(tmp_path, "2026-12-22")
    done = subprocess.run(
        [sys.executable, "-m", "el_monitor.checks.drill", "--log-dir", str(tmp_path), "--now", NOW],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("EL_DRILL OK")
