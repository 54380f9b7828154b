"""``retention run --log-dir``: the event logs are judged by the tables' rules (the catalog and
its extensions), in the same run: a dry run changes no byte; --execute deletes the raw-text
logs past the shortest retention, rewrites a valid log with each record sanitized as its row
is (kept fields, tokens hashed under the database's salt) or removed, and leaves recent days
alone; the stored error examples past retention lose their example."""

from __future__ import annotations

import datetime

from el_monitor.cli.main import main
from el_monitor.errors import EventError
from el_monitor.retention.examples import EXAMPLE_EXPIRED
from el_monitor.retention.hashing import hmac_hex, salt_period
from el_monitor.store.counts import (
    HourErrors,
    add_counts,
    create_counts_tables,
    day_error_groups,
    first_examples,
    period_of,
)

from .logs_support import records, secrets, snapshot, write_day
from .support import catalog_file, plant_salts, registry_dir, seed


def _retention(db_url, tmp_path, *argv: str) -> int:
    config = ["--config", str(catalog_file(tmp_path))]
    run = ["run", "--schemas", str(registry_dir(tmp_path)), "--log-dir", str(tmp_path / "logs")]
    return main(["retention", *run, *argv, "--db", db_url, *config])


def test_logs_and_examples_follow_the_tables_rules(store, db_url, tmp_path, capsys):
    now = datetime.datetime.now(datetime.UTC)
    seed(store, now)
    planted = plant_salts(store, now)  # the run forgets them once used: the test knows them
    logs = tmp_path / "logs"
    logs.mkdir()
    old = (now - datetime.timedelta(days=120)).replace(hour=0, minute=0, second=0, microsecond=0)
    recent = old + datetime.timedelta(days=115)
    write_day(logs, old, [("EditAttemptStep", 1), ("SearchSatisfaction", 2)])
    write_day(logs, recent, [("EditAttemptStep", 3)])
    old_hour = int(old.timestamp())
    create_counts_tables(store)
    error = EventError('{"user_id": 900000001}', "user_id 900000001 is bad", "validation")
    group = HourErrors(period_of(old_hour), "fwd", "EditAttemptStep", "validation", "", 1,
                       error.message, error.raw_event)  # fmt: skip
    add_counts(store, [], [group])
    before = snapshot(logs)

    assert _retention(db_url, tmp_path) == 1  # rows are due
    out = capsys.readouterr().out
    assert (
        "log files: 2 would be deleted, 1 would be rewritten (1 records sanitized, 1 removed)"
        in out
    )
    assert "error examples: 1 would be cleared" in out
    assert snapshot(logs) == before

    assert _retention(db_url, tmp_path, "--execute") == 0
    out = capsys.readouterr().out
    assert "log files: 2 deleted, 1 rewritten (1 records sanitized, 1 removed)" in out
    day, later = old.date().isoformat(), recent.date().isoformat()
    assert sorted(p.name for p in logs.iterdir()) == sorted(
        [f"valid-{day}.jsonl", *(f"{kind}-{later}.jsonl" for kind in ("all", "valid", "invalid"))]
    )
    assert all(snapshot(logs)[name] == before[name] for name in before if later in name)
    (kept,) = records(logs / f"valid-{day}.jsonl")
    assert kept["event"]["action"] == "init" and kept["event"]["platform"] == "desktop"
    assert "user_id" not in kept["event"] and "userAgent" not in kept
    salt = planted[salt_period(old)]
    assert kept["event"]["editing_session_id"] == hmac_hex(salt, "sess-secret-0001")
    rewritten = (logs / f"valid-{day}.jsonl").read_bytes()
    assert not [s for n in (1, 2) for s in secrets(n) if s in rewritten]
    (group,) = day_error_groups(store, old.date())
    example = next(iter(first_examples(store, [group]).values()))
    assert example.example is None and example.message == EXAMPLE_EXPIRED

    assert _retention(db_url, tmp_path, "--execute") == 0  # a second run changes nothing
    assert "log files: 0 deleted, 0 rewritten" in capsys.readouterr().out
