"""A uuid that is stored already: a replay is counted ``duplicate``; another event with the same
uuid is counted and reported (invalid log, el_monitor_errors) as a ``duplicate`` error, in one
batch or across batches, on SQLite and MariaDB, without a cost to batches without any."""

from __future__ import annotations

import json

from helpers import ListSource, example_capsules

from el_monitor.measures import OVERALL
from el_monitor.store import open_store
from el_monitor.store.counts import COUNTS_TABLE, ERRORS_TABLE

from .support import count_rows, forward

UUID = "ab" * 16


def capsule(action: str, uuid: str = UUID, **event) -> dict:
    edit = next(c for c in example_capsules() if c["schema"] == "EditAttemptStep")
    return dict(edit, uuid=uuid, timestamp=1795842000, event={**edit["event"], "action": action,
                                                               **event})  # fmt: skip


def line(value: dict) -> bytes:
    return json.dumps(value).encode()


def stored_counts(db_url: str) -> dict[str, int]:
    store = open_store(db_url)
    try:
        measures = ("raw", "valid", "invalid", "inserted", "duplicate")
        row = store.query(f"SELECT {', '.join(f'SUM({m})' for m in measures)} FROM {COUNTS_TABLE}")
        counts = dict(zip(measures, (int(v or 0) for v in row[0]), strict=True))
        errors = store.query(
            f"SELECT code, SUM(count), MIN(message) FROM {ERRORS_TABLE} GROUP BY code"
        )
        counts["errors"] = {code: (int(n), message) for code, n, message in errors}
    finally:
        store.close()
    return counts


def test_two_events_with_one_uuid_one_stored_one_reported(db_url, tmp_path):
    first, other = capsule("init"), capsule("saveSuccess")
    # In one batch: the first is stored, the second (other content) is a duplicate error; the
    # third line is the first again (a replay): counted duplicate, not an error.
    lines = [line(first), line(other), line(first)]
    result = forward(ListSource(lines), db_url, log_dir=str(tmp_path / "logs"))
    assert result.counts.scopes[OVERALL]["raw"] == 3
    assert result.counts.get(OVERALL, "valid") == 3
    assert result.counts.get(OVERALL, "inserted") == 1
    assert result.counts.get(OVERALL, "duplicate") == 2
    assert result.counts.errors[OVERALL] == {("duplicate", None): 1}
    assert count_rows(db_url) == 1

    invalid = [
        json.loads(text)
        for log in (tmp_path / "logs").glob("*invalid*")
        for text in log.read_text().splitlines()
    ]
    assert [record["code"] for record in invalid] == ["duplicate"]
    assert "saveSuccess" in invalid[0]["rawEvent"]
    assert "event_action" in invalid[0]["message"] and "saveSuccess" not in invalid[0]["message"]

    stored = stored_counts(db_url)
    assert stored["errors"]["duplicate"][0] == 1
    del stored["errors"]
    assert stored == {"raw": 3, "valid": 3, "invalid": 0, "inserted": 1, "duplicate": 2}

    # Across batches (a later run): a replay of both, and a third event reusing the uuid.
    third = capsule("abort", abort_type="abandon")
    again = forward(ListSource([line(first), line(other), line(third)], chunk=1), db_url)
    assert again.counts.get(OVERALL, "inserted") == 0
    assert again.counts.get(OVERALL, "duplicate") == 3
    assert again.counts.errors[OVERALL] == {("duplicate", None): 2}
    stored = stored_counts(db_url)
    assert stored.pop("errors")["duplicate"][0] == 3
    assert stored == {"raw": 6, "valid": 6, "invalid": 0, "inserted": 1, "duplicate": 5}
    assert count_rows(db_url) == 1


def test_a_replayed_batch_among_new_rows_counts_each_exactly(db_url):
    capsules = [capsule("init", uuid=f"{i:032x}") for i in range(300)]
    forward(ListSource([line(c) for c in capsules[:100]]), db_url)
    # The first hundred again (identical), two hundred new, and one of the new ones twice.
    replay = [line(c) for c in capsules] + [line(capsules[250])]
    result = forward(ListSource(replay, chunk=1000), db_url, batch_size=1000)
    assert result.counts.get(OVERALL, "inserted") == 200
    assert result.counts.get(OVERALL, "duplicate") == 101
    assert not result.counts.errors[OVERALL]
    stored = stored_counts(db_url)
    assert stored.pop("errors") == {}
    assert stored == {"raw": 401, "valid": 401, "invalid": 0, "inserted": 300, "duplicate": 101}
    assert count_rows(db_url) == 300
