"""check_el_retention on both engines, over tables seeded with 200 days of rows and handled by
the retention engine itself: never run is CRITICAL naming the tables, a run makes it OK, the
same tables judged days later are WARNING then CRITICAL (rows past policy, and the last
successful run's age), a backfilled old row or a new table shows at once, and a database that
is not there is UNKNOWN in one line.  The check only reads: it creates no table."""

from __future__ import annotations

import datetime
import subprocess
import sys

from el_monitor.checks import retention as check_retention
from el_monitor.retention.engine import plan_run, run_retention
from el_monitor.store import open_store

from .support import NOW, TABLES, backfill, catalog, catalog_file, registry_dir, seed


def check(db_url, tmp_path, capsys, now=NOW, *extra: str) -> tuple[int, str, dict[str, str]]:
    """Run the plugin in-process: exit code, status line, perfdata label → value;thresholds."""
    argv = ["--db", db_url, "--config", str(catalog_file(tmp_path))]
    argv += ["--schemas", str(registry_dir(tmp_path)), "--now", now.isoformat(), *extra]
    code = check_retention.main(argv)
    out = capsys.readouterr().out
    text, _, perf = out.splitlines()[0].partition(" | ")
    perfdata = dict(item.split("=", 1) for item in perf.split())
    return code, text, perfdata


def late(days: float) -> str:
    """Perfdata of a table whose oldest row is ``days`` past policy: seed() writes 3 rows a
    day, one, two and no minutes before the half day; the oldest is the two minutes one."""
    return f"{days + 2 / 1440:.6f};1;7;0"


def run_retention_at(store, tmp_path, now):
    run_retention(plan_run(store, catalog(tmp_path), now, [], execute=True), batch_size=200)


def test_never_run_is_critical_naming_the_tables_and_creates_nothing(store, db_url, tmp_path,
                                                                     capsys):  # fmt: skip
    seed(store)
    before = set(store.tables())
    code, text, perf = check(db_url, tmp_path, capsys)
    assert code == 2
    # 200 days of rows: the oldest is 199.5 days old; past 30 days (ServerSideAccountCreation)
    # it is 169.5 days overdue, past 90 days 109.5.
    assert text == (
        "EL_RETENTION CRITICAL - retention has never run on ServerSideAccountCreation_1_1_0 "
        "(oldest row 169.5 days past its 30-day retention), ServerSideAccountCreation_1_2_0 "
        "(oldest row 169.5 days past its 30-day retention), EditAttemptStep_2_1_0 (oldest row "
        "109.5 days past its 90-day retention) and 3 more; 0 tables within policy"
    )
    assert perf["ServerSideAccountCreation_1_2_0"] == late(169.5)
    assert perf["SearchSatisfaction_1_4_0"] == late(109.5)
    assert perf["last_success_hours"] == "U;26;50;0"
    assert sorted(perf) == sorted([*TABLES, "last_success_hours"])
    assert set(store.tables()) == before  # not even the state table


def test_a_run_makes_it_ok_and_age_makes_it_warning_then_critical(store, db_url, tmp_path,
                                                                  capsys):  # fmt: skip
    seed(store)
    run_retention_at(store, tmp_path, NOW)
    code, text, perf = check(db_url, tmp_path, capsys)
    assert (code, text) == (
        0,
        "EL_RETENTION OK - 6 tables within policy; last successful run 0 h ago "
        "(on EditAttemptStep_2_1_0)",
    )
    assert {perf[t] for t in TABLES} == {"0;1;7;0"} and perf["last_success_hours"] == "0;26;50;0"

    # Two days on without a run: the rows left half a day inside each stage (NavigationTiming
    # has two: 90 days untouched, 150 days sanitized but for the extension's fields) are now
    # 1.5 days past it, and the run is 48 hours old.
    code, text, perf = check(db_url, tmp_path, capsys, NOW + datetime.timedelta(days=2))
    assert code == 1
    assert text == (
        "EL_RETENTION WARNING - overdue: EditAttemptStep_2_1_0 (oldest row 1.5 days past its "
        "90-day retention), NavigationTiming_1_7_0 (oldest row 1.5 days past its 150-day "
        "retention), SearchSatisfaction_1_4_0 (oldest row 1.5 days past its 90-day retention) "
        "and 3 more; last successful run on EditAttemptStep_2_1_0 48 h ago > 26; "
        "0 tables within policy"
    )
    assert {perf[t] for t in TABLES} == {late(1.5)} and perf["last_success_hours"] == "48;26;50;0"

    code, text, perf = check(db_url, tmp_path, capsys, NOW + datetime.timedelta(days=8))
    assert code == 2
    assert text.startswith("EL_RETENTION CRITICAL - overdue: ")
    assert "192 h ago > 50" in text
    assert {perf[t] for t in TABLES} == {late(7.5)}

    # The run-age thresholds on their own: rows within -w, the run too old, then not.
    later = NOW + datetime.timedelta(days=2)
    code, text, _ = check(db_url, tmp_path, capsys, later, "-w", "2")
    assert (code, text) == (
        1,
        "EL_RETENTION WARNING - last successful run on EditAttemptStep_2_1_0 48 h ago > 26; "
        "6 tables within policy",
    )
    code, text, _ = check(db_url, tmp_path, capsys, later, "-w", "2", "--run-critical", "47")
    assert code == 2 and "48 h ago > 47" in text
    code, _, _ = check(db_url, tmp_path, capsys, later, "-w", "2", "--run-warning", "49")
    assert code == 0
    # The next run puts everything right.
    run_retention_at(store, tmp_path, later)
    assert check(db_url, tmp_path, capsys, later)[0] == 0


def test_rows_arriving_after_a_run_show_at_once(store, db_url, tmp_path, capsys):
    seed(store)
    run_retention_at(store, tmp_path, NOW)
    # A backfill writes a row 100 days old into a purged table: 10 days past its 90.
    backfill(store, "SearchSatisfaction_1_5_0", "1.5.0", 100)
    code, text, perf = check(db_url, tmp_path, capsys)
    assert (code, perf["SearchSatisfaction_1_5_0"]) == (2, "10;1;7;0")
    assert text == (
        "EL_RETENTION CRITICAL - overdue: SearchSatisfaction_1_5_0 (oldest row 10 days past its "
        "90-day retention); 5 tables within policy"
    )
    # A revision no run has seen yet, with a row just past policy: CRITICAL however little.
    backfill(store, "SearchSatisfaction_1_3_0", "1.3.0", 90.5)
    code, text, perf = check(db_url, tmp_path, capsys, NOW, "-c", "20")
    assert code == 2
    assert text.startswith(
        "EL_RETENTION CRITICAL - retention has never run on SearchSatisfaction_1_3_0 (oldest "
        "row 0.5 days past its 90-day retention); overdue: SearchSatisfaction_1_5_0"
    )
    assert perf["SearchSatisfaction_1_3_0"] == "0.5;1;20;0"


def test_a_database_that_is_not_there_is_unknown(tmp_path, capsys):
    missing = tmp_path / "none.db"
    code, text, perf = check(f"sqlite:///{missing}", tmp_path, capsys)
    assert (code, text, perf) == (
        3,
        f"EL_RETENTION UNKNOWN - database {missing} does not exist; check --db",
        {},
    )
    assert not missing.exists()
    code, text, _ = check("mysql://root@127.0.0.1:1/none", tmp_path, capsys)
    assert code == 3 and text.startswith(
        "EL_RETENTION UNKNOWN - cannot connect to mysql://root@127.0.0.1:1/none: "
    )
    assert text.endswith("(is the database running? check --db)")
    empty = f"sqlite:///{tmp_path}/empty.db"
    open_store(empty).close()
    code, text, _ = check(empty, tmp_path, capsys)
    assert (code, text) == (
        3,
        f"EL_RETENTION UNKNOWN - no event tables in {empty}: nothing to judge; check --db",
    )


def test_the_plugin_as_a_process(store, db_url, tmp_path):
    """A real process: exit status and output as Icinga sees them (also the -h text)."""
    seed(store)
    run_retention_at(store, tmp_path, NOW)
    argv = [sys.executable, "-m", "el_monitor.checks.retention", "--db", db_url,
            "--config", str(catalog_file(tmp_path)), "--now", "2026-03-09T12:00"]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done
    assert done.stdout.startswith("EL_RETENTION CRITICAL - overdue: ") and not done.stderr
    bad = subprocess.run([*argv, "-w", "x"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 3 and bad.stdout.startswith("EL_RETENTION UNKNOWN - usage: ")
