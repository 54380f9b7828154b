"""The counts the forwarder keeps in the store for the daily report: one transaction a write."""

from __future__ import annotations

from el_monitor.counts.counters import Counters
from el_monitor.counts.recorder import TEXT_LIMIT, CountsRecorder
from el_monitor.store.counts import COUNTS_TABLE, ERRORS_TABLE, create_counts_tables


def total(store, sql: str) -> int:
    return int(store.query(sql)[0][0] or 0)


def test_a_failed_write_adds_nothing_and_the_retry_adds_it_once(store):
    counters = Counters(clock=lambda: 1795842000.0)
    recorder = CountsRecorder(store, "fwd1")
    before = counters.snapshot()
    nav = counters.schema("NavigationTiming")
    nav.raw, nav.invalid = 5, 2
    nav.errors[("validation", "$.isAnon")] = 2
    after = counters.snapshot()
    examples = {("NavigationTiming", "validation", "$.isAnon"): ("m" * 70_000, "x")}

    create_counts_tables(store)
    store.execute(f"DROP TABLE {ERRORS_TABLE}")  # the counts row would go in, the errors not
    recorder._ready = True
    assert not recorder.write(before, after, examples)
    assert total(store, f"SELECT SUM(raw) FROM {COUNTS_TABLE}") == 0

    create_counts_tables(store)
    assert recorder.write(before, after, examples)
    assert total(store, f"SELECT SUM(raw) FROM {COUNTS_TABLE}") == 5
    assert total(store, f"SELECT SUM(invalid) FROM {COUNTS_TABLE}") == 2
    assert total(store, f"SELECT SUM(count) FROM {ERRORS_TABLE}") == 2
    (message,) = store.query(f"SELECT message FROM {ERRORS_TABLE}")[0]
    assert message == "m" * TEXT_LIMIT  # a long message is cut, not a refused write
