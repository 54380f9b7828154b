"""An interrupted backfill resumes from its checkpoint with the counts of the whole run; a
checkpoint of another window is not trusted; user errors end in one line and status 2."""

from __future__ import annotations

import datetime
import json

import pytest
from helpers import SCHEMAS, valid_lines

from el_monitor.backup.backfill import Backfill, BackfillSettings
from el_monitor.backup.checkpoint import FILE_NAME, Checkpoint, fingerprint
from el_monitor.backup.gate import Gate, Window
from el_monitor.backup.logreader import files_for
from el_monitor.catalog.model import empty_catalog
from el_monitor.ingest.policy import Policy
from el_monitor.schema.registry import DirectoryRegistry
from el_monitor.store import open_store

from .support import backfill, capsules, json_line, records, stored, uuids, write_log

SINCE = datetime.datetime(2026, 11, 28, 5, tzinfo=datetime.UTC)
UNTIL = SINCE + datetime.timedelta(hours=1)


class Interrupt:
    """A progress sink that interrupts the run (as Ctrl-C would) at its ``after``-th report."""

    def __init__(self, after: int) -> None:
        self.after = after

    def set_total(self, total: int | None) -> None:
        pass

    def advance(self, count: int = 1, note: str = "") -> None:
        self.after -= 1
        if self.after == 0:
            raise KeyboardInterrupt


def run(db_url: str, log_dir, progress=None, until=UNTIL):
    store = open_store(db_url)
    try:
        now = datetime.datetime.now(datetime.UTC)
        gate = Gate(Window.of(SINCE, until), Policy(), empty_catalog(), (), now)
        settings = BackfillSettings(tuple(files_for(log_dir, SINCE, until)), batch_size=10)
        key = fingerprint(log_dir, SINCE.isoformat(), until.isoformat(), db_url)
        checkpoint = Checkpoint(log_dir / FILE_NAME, key)
        registry = DirectoryRegistry(SCHEMAS)
        return Backfill(store, registry, gate, settings, lambda _: 1, checkpoint, progress).run()
    finally:
        store.close()


def test_an_interrupted_run_resumes_where_it_stopped_with_the_whole_runs_counts(
    sqlite_url, tmp_path
):
    log_dir = tmp_path / "logs"
    good = capsules(valid_lines(95))
    write_log(log_dir, "2026-11-28", [*records(good[:50]), json_line("x"), *records(good[50:])])
    with pytest.raises(KeyboardInterrupt):
        run(sqlite_url, log_dir, Interrupt(after=4))  # 4 batches of 10 in, the 5th not
    saved = json.loads((log_dir / FILE_NAME).read_text())
    assert saved["place"][2] == 41  # the next line to read
    assert saved["counts"]["inserted"] == 40
    assert len(stored(sqlite_url)) == 40

    counts = run(sqlite_url, log_dir)
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
        run(sqlite_url, log_dir, Interrupt(after=1))
    counts = run(sqlite_url, log_dir, until=UNTIL + datetime.timedelta(hours=1))
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
