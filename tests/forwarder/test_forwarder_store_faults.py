"""What the store must survive or refuse the same way on both engines: a table dropped under a
running forwarder (recreated, said once, nothing refused), and a string longer than its
VARCHAR column (a ``store`` error on SQLite as on MariaDB, the rest of the batch stored)."""

from __future__ import annotations

import json

from harness.wait import wait_until
from helpers import ListSource, example_capsules

from el_monitor.errors import STORE
from el_monitor.measures import OVERALL
from el_monitor.store import open_store
from el_monitor.store.counts import COUNTS_TABLE, ERRORS_TABLE
from el_monitor.store.mapping import VARCHAR_LIMIT, table_name

from .running import RunningForwarder, assert_books_balance, log_records, one_schema_lines
from .support import count_rows, forward


def _event_tables(db_url: str) -> list[str]:
    store = open_store(db_url)
    try:
        return [t for t in store.tables() if not t.startswith("el_monitor_")]
    finally:
        store.close()


def _drop(db_url: str, table: str) -> None:
    store = open_store(db_url)
    try:
        store.execute(f"DROP TABLE {store.dialect.quote(table)}")
    finally:
        store.close()


def _forward_dropping(db_url: str, tables: tuple[str, ...], said: str, stored: int) -> str:
    """A forwarder fed 100 events, then ``tables`` dropped under it and 200 more sent: it must
    say ``said``, end holding ``stored`` event rows with every event inserted and nothing
    refused. Returns its stdout and stderr."""
    fw = RunningForwarder(db_url)
    try:
        fw.send(one_schema_lines(100))
        wait_until(lambda: fw.alive() and count_rows(db_url) == 100, 60, "100 events stored")
        for table in tables:
            _drop(db_url, table)
        fw.send(one_schema_lines(200, start=100))
        fw.output.wait_for(said)
        wait_until(
            lambda: fw.alive() and count_rows(db_url) == stored,
            60,
            lambda: f"the later events stored; stderr: {fw.stderr()}",
        )
        code, counts, out, err = fw.finish()
    finally:
        fw.kill()
    assert code == 0, err
    assert counts["valid"] == counts["inserted"] == 300
    assert_books_balance(counts, store_errors=0)
    return out + err


def test_a_table_dropped_while_forwarding_is_recreated_and_nothing_refused(db_url) -> None:
    capsule = example_capsules()[0]
    table = table_name(capsule["schema"], capsule["revision"])
    said = f"table {table} was missing; recreated"
    output = _forward_dropping(db_url, (table,), said, stored=200)
    assert "most common errors" not in output
    assert output.count("was missing; recreated") == 1, output
    assert _event_tables(db_url) == [table]


def test_counts_tables_dropped_while_forwarding_are_recreated_and_nothing_refused(
    db_url,
) -> None:
    said = "the counts tables are missing; creating them again"
    _forward_dropping(db_url, (COUNTS_TABLE, ERRORS_TABLE), said, stored=300)
    store = open_store(db_url)
    try:
        (recorded,) = store.query(f"SELECT SUM(inserted) FROM {COUNTS_TABLE}")[0]
    finally:
        store.close()
    assert 100 <= int(recorded) <= 200  # the later batches' counts, in the recreated table


def test_a_string_longer_than_its_varchar_column_is_a_store_error_on_both_engines(
    db_url, tmp_path
) -> None:
    (capsule,) = [c for c in example_capsules() if c["schema"] == "NavigationTiming"]
    skins = ["vector", "x" * 65_000, "y" * VARCHAR_LIMIT, "minerva"]
    lines = [
        json.dumps(dict(capsule, uuid=f"{i:032x}", event=dict(capsule["event"], skin=skin)))
        for i, skin in enumerate(skins)
    ]
    logs = tmp_path / "logs"
    result = forward(
        ListSource([line.encode() for line in lines]),
        db_url,
        log_dir=str(logs),
        max_event_bytes=200_000,
    )
    assert result.counts.get(OVERALL, "valid") == 4
    assert result.counts.get(OVERALL, "inserted") == 3  # the longest allowed is kept whole
    assert dict(result.counts.errors[OVERALL]) == {(STORE, None): 1}
    (record,) = [json.loads(line) for line in log_records(logs, "invalid")]
    assert record["code"] == STORE and record["schema"] == "NavigationTiming"
    # The same words on both engines: the row is refused as it is built.
    assert record["message"] == (
        "event_skin is too long: 65,000 characters, where its column holds at most 191"
    )
    assert json.loads(record["rawEvent"])["uuid"] == f"{1:032x}"
    assert count_rows(db_url) == 3
