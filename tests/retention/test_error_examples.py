"""Stored error examples past the shortest retention are cleared (SQLite and MariaDB): the
example dropped, the message (which may quote it) replaced, the counts kept; a dry run and
a second run change nothing, and an hour partly past retention loses its example too."""

from __future__ import annotations

import datetime

from el_monitor.retention.examples import EXAMPLE_EXPIRED, clear_old_examples
from el_monitor.store.counts import HourErrors, add_counts, create_counts_tables, period_of

NOW = datetime.datetime(2026, 12, 1, 12, 30, tzinfo=datetime.UTC)
HOUR = datetime.timedelta(hours=1)
CUTOFF = NOW - datetime.timedelta(days=30)  # 12:30: the hour from 12:00 is partly past

ROWS = "SELECT period, schema_name, count, message, example FROM el_monitor_errors ORDER BY id"


def _errors(hours: list[datetime.datetime]) -> list[HourErrors]:
    return [
        HourErrors(
            period_of(when),
            "fw1",
            schema,
            "validation",
            "/user_id",
            3 + i,
            f"user_id {900_000_000 + i} is not a string",
            f'{{"schema":"{schema}","event":{{"user_id":"{900_000_000 + i}"}}}}',
        )  # fmt: skip
        for i, when in enumerate(hours)
        for schema in ("EditAttemptStep", "-")
    ]


def test_examples_past_retention_are_cleared_counts_kept(store) -> None:
    create_counts_tables(store)
    past = [NOW - datetime.timedelta(days=200), CUTOFF - HOUR, CUTOFF.replace(minute=0)]
    within = [CUTOFF.replace(minute=0) + HOUR, NOW - HOUR]
    add_counts(store, [], _errors(past + within))
    before = store.query(ROWS)
    assert len(before) == 10

    dry = clear_old_examples(store, NOW, shortest_days=30, batch_size=4)
    assert (dry.cleared, dry.executed, dry.before) == (6, False, CUTOFF)
    assert store.query(ROWS) == before

    done = clear_old_examples(store, NOW, shortest_days=30, execute=True, batch_size=4)
    assert (done.cleared, done.executed) == (6, True)
    after = store.query(ROWS)
    old = {period_of(when) for when in past}
    assert [row[:3] for row in after] == [row[:3] for row in before]  # counts stay
    for row, was in zip(after, before, strict=True):
        if row[0] in old:
            assert (row[3], row[4]) == (EXAMPLE_EXPIRED, None)
        else:
            assert row == was
    assert sum(row[0] in old for row in after) == 6

    assert clear_old_examples(store, NOW, shortest_days=30, execute=True).cleared == 0
    assert store.query(ROWS) == after


def test_no_errors_table_means_nothing_to_clear(store) -> None:
    done = clear_old_examples(store, NOW, execute=True)
    assert (done.cleared, done.before) == (0, NOW - datetime.timedelta(days=90))
    assert not store.table_exists("el_monitor_errors")
