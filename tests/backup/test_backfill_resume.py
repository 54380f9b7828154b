"""An interrupted backfill resumes from its checkpoint with the counts of the whole run; a
checkpoint of another window is not trusted; user errors end in one line and status 2."""

from __future__ import annotations

import datetime
import json

import pytest
from helpers import valid_lines

from el_monitor.backup.checkpoint import FILE_NAME

from .backfill_support import (
    UNTIL,
    AtReport,
    backfill,
    capsules,
    json_line,
    records,
    run_backfill,
    stored,
    uuids,
    write_log,
)


def interrupt() -> None:
    raise KeyboardInterrupt


def test_an_interrupted_run_resumes_where_it_stopped_with_the_whole_runs_counts(
    sqlite_url, tmp_path
):
    log_dir = tmp_path / "logs"
    good = capsules(valid_lines(95))
    write_log(log_dir, "2026-11-28", [*records(good[:50]), json_line("x"), *records(good[50:])])
    with pytest.raises(KeyboardInterrupt):
        run_backfill(sqlite_url, log_dir, AtReport(4, interrupt))  # 4 batches of 10 in, the 5th not
    saved = json.loads((log_dir / FILE_NAME).read_text())
    assert saved["place"][2] == 41  # the next line to read
    assert saved["counts"]["inserted"] == 40
    assert len(stored(sqlite_url)) == 40

    counts = run_backfill(sqlite_url, log_dir)
    assert (counts.read, counts.inserted, counts.already_present, counts.unreadable) == (
        96, 95, 0, 1,
    )  # fmt: skip
    assert counts.balanced()
    assert counts.unreadable_lines == [f"{log_dir / 'valid-2026-11-28.jsonl'}:51: not a JSON "
                                       "object but str"]  # fmt: skip
    assert sorted(stored(sqlite_url)) == sorted(uuids(good))
    assert not (log_dir / FILE_NAME).exists()


def test_a_checkpoint_of_another_window_is_not_trusted(sqlite_url, tmp_path):
    log_dir = tmp_path / "logs"
    write_log(log_dir, "2026-11-28", records(capsules(valid_lines(30))))
    with pytest.raises(KeyboardInterrupt):
        run_backfill(sqlite_url, log_dir, AtReport(1, interrupt))
    counts = run_backfill(sqlite_url, log_dir, until=UNTIL + datetime.timedelta(hours=1))
    assert (counts.read, counts.inserted, counts.already_present) == (30, 20, 10)


def test_user_errors_are_one_line(tmp_path, capsys):
    logs = tmp_path / "logs"
    logs.mkdir()
    db = f"sqlite:///{tmp_path / 'el.db'}"
    with pytest.raises(SystemExit) as exited:
        backfill(db, logs, "yesterday", "2026-11-28")
    assert exited.value.code == 2
    assert "not a date or time like 2026-12-04" in capsys.readouterr().err

    cases = [
        (db, tmp_path / "nowhere", "2026-11-28", "2026-11-29", "is not a directory"),
        (db, logs, "2026-11-29", "2026-11-28", "is not before --until"),
        ("mysql://root@127.0.0.1:1/x", logs, "2026-11-28", "2026-11-29",
         "is the database running? check --db"),
    ]  # fmt: skip
    for url, directory, since, until, said in cases:
        assert backfill(url, directory, since, until) == 2
        err = capsys.readouterr().err
        assert said in err and len(err.strip().splitlines()) == 1, err
