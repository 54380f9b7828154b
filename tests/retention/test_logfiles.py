"""Retention of the event logs: files of days past retention deleted or rewritten, nothing
past policy left in their bytes, records within retention byte for byte as they were, a dry
run and a second run changing nothing, and a full disk or read-only directory leaving every
file whole."""

from __future__ import annotations

import datetime
from pathlib import Path

import orjson
import pytest
from harness.mounts import fill, read_only, small_tmpfs
from optout.support import SECRET, catalog, reference

from el_monitor.ingest.event_logs import log_files
from el_monitor.optout.records import RecordMatcher
from el_monitor.optout.textpurge import purge_log_files
from el_monitor.retention.logfiles import DELETE, KEEP, REWRITE, LogCleaning, clean_log_files
from el_monitor.retention.records import SchemaRules, Stage

from .logs_support import (
    DAY,
    NOW,
    SHORTEST,
    hasher,
    records,
    rules_at,
    secrets,
    snapshot,
    write_day,
)

TORN = b'{"schema":"EditAttemptStep","event":{"user_id":900000099'  # a line cut short
D200, D120, D100, D60, D1 = (
    (NOW - days * DAY).replace(hour=0, minute=0) for days in (200, 120, 100, 60, 1)
)


def run(directory: Path, now: datetime.datetime = NOW, execute: bool = True) -> LogCleaning:
    rules = rules_at(now)
    return clean_log_files(
        directory, rules.get, hasher, now, shortest_days=SHORTEST, execute=execute
    )


def actions(done: LogCleaning) -> dict[str, tuple[str, int, int, int, int]]:
    return {
        Path(r.path).name: (r.action, r.records, r.kept, r.removed, r.sanitized) for r in done.files
    }


def stamp(c: dict) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(c["timestamp"], datetime.UTC)


def expected_sanitized(c: dict, *, page_id: bool = True) -> dict:
    """Computed here, from the policy's words, not by the code under test."""
    base = {k: c[k] for k in ("schema", "revision", "wiki", "uuid", "timestamp")}
    event, schema = c["event"], c["schema"]
    if schema == "EditAttemptStep":
        token = hasher(event["editing_session_id"], stamp(c))
        kept = {"action": "init", "platform": "desktop", "editing_session_id": token}
        return {**base, "webHost": c["webHost"], "event": kept, "sanitized": ["editing_session_id"]}
    if schema == "Nested":
        performer = {
            "edit_count": event["performer"]["edit_count"],
            "token": hasher(event["performer"]["token"], stamp(c)),
        }
        return {**base, "event": {"performer": performer}, "sanitized": ["performer.token"]}
    assert schema == "Extended"
    kept = {"action": "view", **({"page_id": event["page_id"]} if page_id else {})}
    return {**base, "event": kept, "sanitized": []}


@pytest.fixture
def logs(tmp_path) -> dict[str, list[dict]]:
    """Five days of logs in tmp_path/logs; each day's capsules by day name."""
    directory = tmp_path / "logs"
    return {
        "d200": write_day(directory, D200, [("Extended", 1), ("Extended", 2), ("Unlisted", 3)]),
        "d120": write_day(
            directory,
            D120,
            [
                ("EditAttemptStep", 10),
                ("EditAttemptStep", 11),
                ("EditAttemptStep", 12),
                ("Nested", 13),
                ("Nested", 14),
                ("SearchSatisfaction", 15),
                ("SearchSatisfaction", 16),
                ("Unlisted", 17),
                ("Extended", 18),
                ("Extended", 19),
            ],
            extra_valid=[TORN],
            future=17,
        ),
        "d100": write_day(directory, D100, [("SearchSatisfaction", 20), ("Unlisted", 21)]),
        "d60": write_day(
            directory,
            D60,
            [
                ("EditAttemptStep", 30),
                ("SearchSatisfaction", 31),
                ("Extended", 32),
                ("SearchSatisfaction", 33),
                ("EditAttemptStep", 34),
            ],
        ),
        "d1": write_day(directory, D1, [("EditAttemptStep", 40), ("SearchSatisfaction", 41)]),
    }


def name(kind: str, day: datetime.datetime) -> str:
    return f"{kind}-{day.date().isoformat()}.jsonl"


PLAN = {
    # raw text (all, invalid): deleted once the day began before the shortest retention
    **{
        name(k, d): (DELETE, n, 0, n, 0)
        for d, n in ((D200, 3), (D120, 10), (D100, 2), (D60, 5))
        for k in ("all", "invalid")
    },
    name("valid", D200): (REWRITE, 3, 0, 1, 2),  # Extended sanitized (stage 2), Unlisted gone
    name("valid", D120): (REWRITE, 11, 0, 4, 7),  # gone: 2 SearchSatisfaction, Unlisted, torn line
    name("valid", D100): (DELETE, 2, 0, 2, 0),  # nothing of it kept
    name("valid", D60): (REWRITE, 5, 3, 2, 0),  # mixed: only SearchSatisfaction is past
}


def test_a_dry_run_reports_each_file_and_changes_nothing(tmp_path, logs) -> None:
    directory = tmp_path / "logs"
    before = snapshot(directory)
    done = run(directory, execute=False)
    assert actions(done) == PLAN
    assert done.recent == 3 and not done.executed and not done.failed
    assert snapshot(directory) == before


def test_logs_past_retention_keep_nothing_past_policy(tmp_path, logs) -> None:
    directory = tmp_path / "logs"
    before = snapshot(directory)
    done = run(directory)
    assert actions(done) == PLAN and done.executed and not done.failed
    after = snapshot(directory)
    recent_files = [name(k, D1) for k in ("all", "valid", "invalid")]
    assert sorted(after) == sorted([name("valid", d) for d in (D200, D120, D60)] + recent_files)
    for recent in recent_files:
        assert after[recent] == before[recent]

    # Sanitized records hold exactly what the policy keeps; removed ones are gone.
    by_uuid = {c["uuid"]: c for day in logs.values() for c in day}
    d200 = records(directory / name("valid", D200))
    assert d200 == [expected_sanitized(logs["d200"][i], page_id=False) for i in (0, 1)]
    d120 = records(directory / name("valid", D120))
    assert [r["uuid"] for r in d120] == [f"{n:032x}" for n in (10, 11, 12, 13, 14, 18, 19)]
    assert d120 == [expected_sanitized(by_uuid[r["uuid"]]) for r in d120]
    for data, gone in (
        (after[name("valid", D200)], (1, 2, 3)),
        (after[name("valid", D120)], range(10, 20)),
    ):
        for n in gone:
            for value in secrets(n):
                assert value not in data, (n, value)
        assert TORN not in data and b"900000099" not in data

    # The mixed day: records within retention byte for byte, in order; the past ones gone.
    old_lines = before[name("valid", D60)].splitlines(keepends=True)
    assert after[name("valid", D60)] == b"".join(old_lines[i] for i in (0, 2, 4))
    for n in (31, 33):
        for value in secrets(n)[:-1]:  # (the IP was only ever in raw text)
            assert value not in after[name("valid", D60)]


def test_a_second_run_changes_nothing_and_a_later_one_goes_on(tmp_path, logs) -> None:
    directory = tmp_path / "logs"
    run(directory)
    first = snapshot(directory)
    again = run(directory)
    assert {a for a, *_ in actions(again).values()} == {KEEP} and not again.failed
    assert [r.removed + r.sanitized for r in again.files] == [0, 0, 0]
    assert snapshot(directory) == first

    # 90 days on: d60 is past too, and d120's Extended records reach the extension's end;
    # what was sanitized stays byte for byte (no value hashed twice).
    later = NOW + 90 * DAY
    done = run(directory, later)
    assert actions(done)[name("valid", D120)] == (REWRITE, 7, 5, 0, 2)
    assert actions(done)[name("valid", D60)] == (REWRITE, 3, 0, 0, 3)
    old = first[name("valid", D120)].splitlines(keepends=True)
    new = (directory / name("valid", D120)).read_bytes().splitlines(keepends=True)
    assert new[:5] == old[:5]
    by_uuid = {c["uuid"]: c for c in logs["d120"]}
    assert [orjson.loads(line) for line in new[5:]] == [
        expected_sanitized(by_uuid[f"{n:032x}"], page_id=False) for n in (18, 19)
    ]
    d60 = records(directory / name("valid", D60))
    assert d60 == [expected_sanitized(c) for i, c in enumerate(logs["d60"]) if i in (0, 2, 4)]
    assert all(r.action == KEEP for r in run(directory, later).files)


def test_a_full_disk_leaves_the_file_whole_with_nothing_half_written(tmp_path) -> None:
    with small_tmpfs(tmp_path / "logs", "64k") as directory:
        write_day(directory, D120, [("EditAttemptStep", n) for n in range(10, 40)])
        for kind in ("all", "invalid"):  # deleting them would free the space the rewrite needs
            (directory / name(kind, D120)).unlink()
        before = snapshot(directory)
        filler = fill(directory)
        done = run(directory)
        (failed,) = done.files
        assert Path(failed.path).name == name("valid", D120)
        assert failed.action == REWRITE and failed.error == (
            "cannot rewrite it: No space left on device"
        )
        assert Path(failed.path).read_bytes() == before[name("valid", D120)]
        assert sorted(p.name for p in directory.iterdir()) == ["filler", name("valid", D120)]
        filler.unlink()
        done = run(directory)
        assert not done.failed and actions(done) == {name("valid", D120): (REWRITE, 30, 0, 0, 30)}
        assert all(r["sanitized"] == ["editing_session_id"] for r in records(Path(failed.path)))


def test_a_read_only_directory_leaves_every_file_as_it_was(tmp_path) -> None:
    directory = tmp_path / "logs"
    write_day(directory, D120, [("EditAttemptStep", 10), ("Unlisted", 11)])
    before = snapshot(directory)
    with read_only(directory):
        done = run(directory)
        assert {Path(r.path).name: r.error for r in done.files} == {
            name("all", D120): "cannot delete it: Read-only file system",
            name("invalid", D120): "cannot delete it: Read-only file system",
            name("valid", D120): "cannot rewrite it: Read-only file system",
        }
        assert snapshot(directory) == before
    assert not run(directory).failed


def test_a_file_that_grows_while_rewritten_is_left_as_it_was(tmp_path) -> None:
    directory = tmp_path / "logs"
    write_day(directory, D120, [("EditAttemptStep", 10), ("EditAttemptStep", 11)])
    path = directory / name("valid", D120)
    calls = []
    appended = b'{"appended": "by a forwarder"}\n'

    def appending_hasher(value: str, when: datetime.datetime) -> str:
        calls.append(value)
        if len(calls) == 3:  # the rewrite's first record: the plan hashed two
            with open(path, "ab") as out:
                out.write(appended)
        return hasher(value, when)

    before = path.read_bytes()
    done = clean_log_files(directory, rules_at(NOW).get, appending_hasher, NOW, execute=True)
    (failed,) = done.failed
    assert failed.path == str(path) and "grew while it was read" in (failed.error or "")
    assert path.read_bytes() == before + appended
    assert [p.name for p in directory.iterdir()] == [path.name]


def test_optout_purge_still_finds_a_user_in_sanitized_records(tmp_path) -> None:
    """Retention may keep a user field; the opt-out purge (issue 10) still removes that
    user's sanitized records, and stored examples (see tests/optout/test_optout_everywhere)."""
    directory = tmp_path / "logs"
    write_day(directory, D120, [("Unlisted", 10), ("Unlisted", 11)])
    rules = {"Unlisted": SchemaRules((Stage(NOW - 90 * DAY, keep=("user_id",)),))}
    done = clean_log_files(directory, rules.get, hasher, NOW, execute=True)
    assert actions(done)[name("valid", D120)] == (REWRITE, 2, 0, 0, 2)
    theirs = reference(SECRET, "enwiki", "user-id", "900000010")
    matcher = RecordMatcher(SECRET, frozenset({theirs}), catalog(Unlisted=("user_id",)))
    (purged,) = purge_log_files(log_files(directory), matcher)
    assert (purged.records, purged.removed) == (2, 1)
    assert [r["event"] for r in records(directory / name("valid", D120))] == [
        {"user_id": 900_000_011}
    ]


def test_a_workers_logs_follow_the_same_rules(tmp_path) -> None:
    """``forward --workers``: worker 2's ``valid-DAY-w2.jsonl`` is cleaned as ``valid-DAY``."""
    alone, worker = tmp_path / "alone", tmp_path / "worker"
    for directory in (alone, worker):
        for day in (D200, D120, D1):
            write_day(directory, day, [("Extended", 1), ("EditAttemptStep", 10), ("Unlisted", 3)])
    for path in log_files(worker):
        path.rename(path.with_name(path.name.replace(".jsonl", "-w2.jsonl")))
    expected = actions(run(alone))
    done = actions(run(worker))
    assert done == {n.replace(".jsonl", "-w2.jsonl"): a for n, a in expected.items()}
    assert any(action[0] != KEEP for action in done.values())
