"""What the forwarder reports of its counts: one metrics flush per Graphite slot, losing no
count, and the counts and errors kept in the store for the daily report."""

from __future__ import annotations

import threading

from helpers import SCHEMAS, ListSource, valid_lines

from el_monitor.ingest.forwarder import Forwarder, ForwarderSettings
from el_monitor.measures import OVERALL
from el_monitor.schema.registry import DirectoryRegistry
from el_monitor.store import open_store

from .support import bad_corpus, forward


class _Slow:
    """Wraps a source to spread its chunks over time, so a run spans several metric slots.

    The pause is part of what is tested, not a wait for something: it only sets a floor under
    the run's length (a loaded machine makes the run longer, never shorter).
    """

    name = "slow://"

    def __init__(self, source, delay: float):
        self.source, self.delay = source, delay

    def chunks(self, stop):
        for chunk in self.source.chunks(stop):
            yield chunk
            stop.wait(self.delay)

    def commit(self, position):
        self.source.commit(position)

    def close(self):
        self.source.close()


class RecordingSink:
    """A metrics sink that keeps what it is given."""

    interval = 0.5

    def __init__(self):
        self.intervals = []
        self.closed = False

    def submit(self, interval, errors=None):
        self.intervals.append((interval, errors))

    def close(self):
        self.closed = True


def test_metrics_flush_once_per_slot_and_lose_no_count(sqlite_url):
    sink = RecordingSink()
    lines = valid_lines(300) + [b"garbage"]
    source = _Slow(ListSource(lines, chunk=10), delay=0.05)  # about 1.5 s of input
    store = open_store(sqlite_url)
    try:
        result = Forwarder(
            ForwarderSettings(host="t"), source, DirectoryRegistry(SCHEMAS), store, metrics=sink
        ).run(threading.Event())
    finally:
        store.close()
    assert sink.closed and len(sink.intervals) >= 3
    stamps = [interval.end for interval, _ in sink.intervals]
    assert len(set(stamps)) == len(stamps)  # one flush per Graphite slot
    assert all((stamp / sink.interval).is_integer() for stamp in stamps)  # on slot boundaries
    assert sum(i.counts[OVERALL]["raw"] for i, _ in sink.intervals) == 301
    assert result.counts.get(OVERALL, "raw") == 301
    errors = sum((e or {}).get(OVERALL, {}).get(("parse", None), 0) for _, e in sink.intervals)
    assert errors == 1


def test_counts_are_kept_in_the_store_for_the_daily_report(db_url):
    lines, expected = bad_corpus()
    lines = [line for line in lines if len(line) < 65536]  # keep it quick
    first = forward(ListSource(lines), db_url, instance="fwd1")
    forward(ListSource(lines), db_url, instance="fwd1")  # a second run adds to the same hour rows
    store = open_store(db_url)
    try:
        totals = store.query(
            "SELECT SUM(raw), SUM(valid), SUM(invalid), SUM(inserted) FROM el_monitor_counts"
        )[0]
        overall = first.counts.scopes[OVERALL]
        assert tuple(map(int, totals)) == (
            2 * overall["raw"], 2 * overall["valid"], 2 * overall["invalid"], overall["inserted"],
        )  # fmt: skip
        by_schema = dict(store.query(
            "SELECT schema_name, SUM(raw) FROM el_monitor_counts GROUP BY schema_name"
        ))  # fmt: skip
        assert int(by_schema["-"]) == 2 * (overall["raw"] - sum(
            v["raw"] for s, v in first.counts.scopes.items() if s != OVERALL
        ))  # fmt: skip
        errors = store.query(
            "SELECT schema_name, code, path, count, message, example FROM el_monitor_errors "
            "WHERE code = 'validation' AND path = '$.isAnon'"
        )
        ((schema, code, path, count, message, example),) = errors
        assert (schema, int(count)) == ("NavigationTiming", 2)
        assert message == "expected boolean, got string" and '"yes"' in example
    finally:
        store.close()
