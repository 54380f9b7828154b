"""``el-monitor backfill`` on SQLite and MariaDB: exact counts from a hand-made valid log (rows
stored already, new ones, some out of the window, a row the table refuses, a line that is no
object, a last line cut short), nothing stored twice and nothing added by a second run, the
counts tables given only what was added; a dry run counts the same and writes nothing."""

from __future__ import annotations

from collections import Counter

from forwarder.support import forward
from helpers import ListSource, valid_lines

from el_monitor.store import open_store
from el_monitor.store.counts import COUNTS_TABLE

from .backfill_support import (
    backfill,
    capsules,
    counts_of,
    json_line,
    records,
    stored,
    uuids,
    write_log,
)

START = 1795842000  # valid_lines' first timestamp: 2026-11-28T05:00:00Z
SINCE, UNTIL = "2026-11-28T05:00:00Z", "2026-11-28T06:00:00Z"


def hand_made_log(log_dir) -> tuple[list[dict], dict[str, int]]:
    """The log (60 events in the window, 5 after it, a refused one, a non-object line, a
    last line cut short) and the counts a first run must give when the first 20 are stored."""
    good = capsules(valid_lines(60))
    later = capsules(valid_lines(5, start=5000))  # 5,000 s on: past --until
    unknown = dict(good[0], uuid="e" * 32, revision="9.9.9")  # no such revision: no table
    cut = records(capsules(valid_lines(1, start=900)))[0][:40]
    lines = [*records(good[:30]), json_line([1, 2]), *records(later), *records(good[30:])]
    lines.append(records([unknown])[0])
    write_log(log_dir, "2026-11-28", lines, end=cut)
    expected = {
        "read": 68,
        "unreadable": 2,
        "out_of_window": 5,
        "opted_out": 0,
        "past_retention": 0,
        "already_present": 20,
        "inserted": 40,
        "refused": 1,
    }
    return good, expected


def backfilled_counts(db_url: str) -> dict[str, int]:
    """valid and inserted the counts table holds for instance ``backfill``."""
    store = open_store(db_url)
    try:
        q = store.dialect.quote
        ((valid, inserted),) = store.query(
            f"SELECT SUM({q('valid')}), SUM({q('inserted')}) FROM {q(COUNTS_TABLE)} "
            f"WHERE {q('instance')} = {store.dialect.mark}",
            ("backfill",),
        )
        return {"valid": int(valid or 0), "inserted": int(inserted or 0)}
    finally:
        store.close()


def test_counts_are_exact_and_a_second_run_inserts_nothing(db_url, tmp_path, capsys):
    log_dir = tmp_path / "logs"
    good, expected = hand_made_log(log_dir)
    forward(ListSource(valid_lines(20)), db_url)  # the first 20 were stored before the outage
    assert sorted(stored(db_url)) == sorted(uuids(good[:20]))

    assert backfill(db_url, log_dir, SINCE, UNTIL) == 1  # unreadable lines and a refused row
    out = capsys.readouterr().out
    assert counts_of(out) == expected, out
    assert "valid-2026-11-28.jsonl:31: not a JSON object but list" in out
    assert "valid-2026-11-28.jsonl:68: not JSON (cut short?)" in out
    assert "9.9.9 is no longer in the registry" in out
    rows = stored(db_url)
    assert sorted(rows) == sorted(uuids(good))  # every event of the window, each once
    assert backfilled_counts(db_url) == {"valid": 41, "inserted": 40}  # + the refused one

    assert backfill(db_url, log_dir, SINCE, UNTIL) == 1
    again = counts_of(capsys.readouterr().out)
    assert again == dict(expected, already_present=60, inserted=0)
    assert Counter(stored(db_url)) == Counter(rows)
    assert backfilled_counts(db_url) == {"valid": 42, "inserted": 40}  # only the refused again
    assert not (log_dir / ".backfill-checkpoint.json").exists()  # complete: nothing to resume


def test_a_dry_run_counts_the_same_and_writes_nothing(db_url, tmp_path, capsys):
    log_dir = tmp_path / "logs"
    good, expected = hand_made_log(log_dir)
    forward(ListSource(valid_lines(20)), db_url)

    assert backfill(db_url, log_dir, SINCE, UNTIL, "--dry-run") == 1
    out = capsys.readouterr().out
    assert counts_of(out) == expected, out
    assert out.rstrip().endswith("dry run: nothing was written")
    assert sorted(stored(db_url)) == sorted(uuids(good[:20]))
    assert backfilled_counts(db_url) == {"valid": 0, "inserted": 0}


def test_a_table_not_made_yet_is_counted_and_left_uncreated_by_a_dry_run(sqlite_url, tmp_path,
                                                                        capsys):  # fmt: skip
    log_dir = tmp_path / "logs"
    good = capsules(valid_lines(10))
    write_log(log_dir, "2026-11-28", records(good))
    forward(ListSource([]), sqlite_url)  # the database exists, no event table yet
    assert backfill(sqlite_url, log_dir, SINCE, UNTIL, "--dry-run") == 0
    assert counts_of(capsys.readouterr().out)["inserted"] == 10
    assert stored(sqlite_url) == []


def test_a_uuid_stored_with_other_content_is_reported_not_stored(db_url, tmp_path, capsys):
    log_dir = tmp_path / "logs"
    good = capsules(valid_lines(3))
    forward(ListSource(valid_lines(3)), db_url)
    other = dict(good[1], wiki="dewiki")  # another event reusing a stored uuid
    write_log(log_dir, "2026-11-28", records([good[0], other, good[2]]))
    assert backfill(db_url, log_dir, SINCE, UNTIL) == 0
    out = capsys.readouterr().out
    assert "already present (1 with other content: not stored)" in out
    assert counts_of(out)["already_present"] == 3
    assert sorted(stored(db_url)) == sorted(uuids(good))
