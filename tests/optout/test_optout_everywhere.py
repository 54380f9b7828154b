"""An opted-out user's events are matched whatever their revision, and purged from everything
that keeps events as text: a real forwarder drops their revision-9.9.9 and broken events
without logging them, and `optout purge` cleans an earlier run's event logs and stored error
examples (SQLite and MariaDB), leaving everyone else's records as they were."""

from __future__ import annotations

import json
import os

from forwarder.support import forward
from helpers import SCHEMAS, ListSource, overall_counts
from test_policy import OPTED_OUT_ID, OPTED_OUT_TOKEN, edit_lines, el_monitor, opt_out

from el_monitor.optout.secret import SECRET_ENV
from el_monitor.optout.textpurge import EXAMPLE_REMOVED
from el_monitor.store import open_store

from .support import run_cli

SECRET = "site-secret-for-tests"
ID, TOKEN = str(OPTED_OUT_ID).encode(), OPTED_OUT_TOKEN.encode()


def catalog_file(tmp_path) -> os.PathLike:
    catalog = tmp_path / "el-monitor.toml"
    catalog.write_text(
        f'optout_file = "{tmp_path / "optout.jsonl"}"\n'
        "[schema.EditAttemptStep]\n"
        'owners = ["editing@example.org"]\n'
        'user_fields = ["user_id", "session_token"]\n'
    )
    return catalog


def revised(lines: list[bytes], **changes: object) -> list[bytes]:
    return [json.dumps(dict(json.loads(line), **changes)).encode() for line in lines]


def is_theirs(line: bytes) -> bool:
    return ID in line or TOKEN in line


def test_the_forwarder_drops_their_unknown_revisions_and_broken_events_unlogged(tmp_path):
    env = dict(os.environ, EL_MONITOR_SECRET=SECRET)
    catalog = catalog_file(tmp_path)
    opt_out(catalog, env, "--user-id", str(OPTED_OUT_ID))
    opt_out(catalog, env, "--token", OPTED_OUT_TOKEN)
    lines = [
        *edit_lines(20),  # theirs: 3 and 13 (id), 7 and 17 (token)
        *revised(edit_lines(10, start=100), revision="9.9.9"),  # theirs: 103, 107
        # broken capsules of an unknown revision: theirs (203) and someone else's (204)
        *revised(edit_lines(2, start=203), revision="9.9.9", timestamp="yesterday"),
        *revised(edit_lines(1, start=213), revision="9 9"),  # an unreadable revision: theirs
    ]
    assert sum(map(is_theirs, lines)) == 8
    db, logs = tmp_path / "el.db", tmp_path / "logs"
    done = el_monitor(
        "--config", str(catalog), "forward", "--schemas", str(SCHEMAS), "--db",
        f"sqlite:///{db}", "--log-dir", str(logs), env=env, stdin=b"\n".join(lines) + b"\n",
    )  # fmt: skip
    counts = overall_counts(done.stdout)
    assert (counts["raw"], counts["valid"], counts["invalid"], counts["opted_out"]) == (
        33, 16, 9, 8,
    )  # fmt: skip
    assert counts["raw"] == sum(counts[m] for m in ("valid", "invalid", "sampled_out", "opted_out"))
    row = next(r for r in done.stdout.decode().splitlines() if r.startswith("EditAttemptStep"))
    assert row.split()[1:6] == ["33", "16", "9", "0", "8"]  # all under the schema's owners
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert ID not in data and TOKEN not in data, path
    (invalid,) = logs.glob("invalid-*.jsonl")
    assert len(invalid.read_text().splitlines()) == 9  # everyone else's errors are logged


def test_purge_cleans_an_earlier_runs_logs_and_error_examples(db_url, tmp_path, monkeypatch):
    catalog = catalog_file(tmp_path)
    nine = revised(edit_lines(10, start=100), revision="9.9.9")
    bad = [  # validation errors
        json.dumps({**c, "event": {**c["event"], "action": 42}}).encode()
        for c in map(json.loads, edit_lines(10, start=300))
    ]
    theirs_first = [nine[3], *nine[:3], *nine[4:], *bad[7:], *bad[:7]]  # 103 and 307 first
    lines = [*edit_lines(40), *theirs_first]
    logs = tmp_path / "logs"
    result = forward(ListSource(lines), db_url, log_dir=str(logs))  # before the opt-out
    assert result.counts.get("EditAttemptStep", "invalid") == 20
    before = {p.name: p.read_bytes().splitlines() for p in logs.iterdir()}
    assert all(any(map(is_theirs, kept)) for name, kept in before.items() if "invalid" not in name)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    for identity in (["--user-id", str(OPTED_OUT_ID)], ["--token", OPTED_OUT_TOKEN]):
        assert (
            run_cli("optout", "add", "--wiki", "enwiki", *identity, "--config", str(catalog)) == 0
        )
    examples = "SELECT code, count, message, example FROM el_monitor_errors ORDER BY code"
    store = open_store(db_url)
    try:
        stored = store.query(examples)
        assert len(stored) == 2 and all(is_theirs(e.encode()) for *_, e in stored)
        argv = ["--db", db_url, "--schemas", str(SCHEMAS), "--log-dir", str(logs)]
        assert run_cli("optout", "purge", "--dry-run", *argv, "--config", str(catalog)) == 0
        assert {p.name: p.read_bytes().splitlines() for p in logs.iterdir()} == before
        assert run_cli("optout", "purge", *argv, "--config", str(catalog)) == 0
        after = store.query(examples)
    finally:
        store.close()
    # The logs keep everyone else's records, in order; none of theirs.
    assert sorted(p.name for p in logs.iterdir()) == sorted(before)
    for name, old in before.items():
        kept = (logs / name).read_bytes().splitlines()
        assert kept == [line for line in old if not is_theirs(line)], name
        assert len(kept) < len(old) or "invalid" in name
    # Their examples went, the counts stayed (unknown-schema: 103, validation: 307).
    assert [(code, count, message) for code, count, message, _ in after] == [
        ("unknown-schema", 10, EXAMPLE_REMOVED),
        ("validation", 10, EXAMPLE_REMOVED),
    ]
    assert all(example is None for *_, example in after)
