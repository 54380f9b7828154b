"""What backfill must not store again: events of users who opted out (after their events were
logged), events past their schema's retention, and records the log retention sanitized; and
what it must not change: the sample rates the forwarder recorded (it does not sample)."""

from __future__ import annotations

import datetime
import json

from optout.test_optout_everywhere import catalog_file as optout_catalog
from test_policy import OPTED_OUT_ID, OPTED_OUT_TOKEN, edit_lines

from el_monitor.cli.main import main
from el_monitor.optout.secret import SECRET_ENV
from el_monitor.store.sampling import record_sample_rate, recorded_sample_rates

from .backfill_support import at, backfill, capsules, counts_of, records, stored, uuids, write_log

SECRET = "site-secret-for-tests"


def catalog_file(tmp_path, retention_days: int = 90):
    """The opt-out tests' catalog (EditAttemptStep's user fields), with this retention."""
    catalog = optout_catalog(tmp_path)
    catalog.write_text(catalog.read_text() + f"retention_days = {retention_days}\n")
    return catalog


def test_events_of_users_who_opted_out_since_are_not_stored_again(
    db_url, tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv(SECRET_ENV, SECRET)
    catalog = catalog_file(tmp_path)
    events = capsules(edit_lines(20))  # theirs: 3 and 13 (user id), 7 and 17 (token)
    write_log(tmp_path / "logs", "2026-11-28", records(events))
    for identity in (("--user-id", str(OPTED_OUT_ID)), ("--token", OPTED_OUT_TOKEN)):
        assert main(["--config", str(catalog), "optout", "add", "--wiki", "enwiki", *identity]) == 0
    capsys.readouterr()

    since, until = "2026-11-28T05:00:00Z", "2026-11-28T06:00:00Z"
    assert backfill(db_url, tmp_path / "logs", since, until, "--config", str(catalog)) == 0
    counts = counts_of(capsys.readouterr().out)
    assert (counts["read"], counts["opted_out"], counts["inserted"]) == (20, 4, 16)
    theirs = {3, 13, 7, 17}
    assert sorted(stored(db_url)) == sorted(
        uuid for i, uuid in enumerate(uuids(events)) if i not in theirs
    )


def test_events_past_retention_and_sanitized_records_are_not_stored_again(db_url, tmp_path, capsys):
    catalog = catalog_file(tmp_path, retention_days=30)
    now = int(datetime.datetime.now(datetime.UTC).timestamp())
    old = capsules(edit_lines(5, start=100))
    recent = capsules(edit_lines(5, start=200))
    for capsule in old:
        capsule["timestamp"] = now - 40 * 86400
    for capsule in recent:
        capsule["timestamp"] = now - 10 * 86400
    sanitized = dict(recent[0], uuid="5" * 32, event={}, sanitized=[])  # as log retention left it
    day = datetime.datetime.fromtimestamp
    write_log(tmp_path / "logs", f"{day(now - 40 * 86400, datetime.UTC):%Y-%m-%d}", records(old))
    write_log(
        tmp_path / "logs",
        f"{day(now - 10 * 86400, datetime.UTC):%Y-%m-%d}",
        [*records(recent), json.dumps(sanitized).encode()],
    )

    since, until = at(now - 50 * 86400), at(now)
    assert backfill(db_url, tmp_path / "logs", since, until, "--config", str(catalog)) == 0
    counts = counts_of(capsys.readouterr().out)
    assert (counts["read"], counts["past_retention"], counts["inserted"]) == (11, 6, 5)
    assert sorted(stored(db_url)) == sorted(uuids(recent))


def test_the_sample_rates_recorded_by_the_forwarder_are_left_as_they_are(
    store, db_url, tmp_path, capsys
):
    events = capsules(edit_lines(5))
    record_sample_rate(store, "EditAttemptStep", "2.1.0", 10)  # a forwarder kept 1 in 10
    write_log(tmp_path / "logs", "2026-11-28", records(events))
    since, until = "2026-11-28T05:00:00Z", "2026-11-28T06:00:00Z"
    assert backfill(db_url, tmp_path / "logs", since, until) == 0  # no catalog: rate 1 in force
    assert counts_of(capsys.readouterr().out)["inserted"] == 5
    rates = [(r.schema, r.revision, r.sample_rate) for r in recorded_sample_rates(store)]
    assert rates == [("EditAttemptStep", "2.1.0", 10)]
