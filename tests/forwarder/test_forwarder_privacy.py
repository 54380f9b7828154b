"""Client addresses through the forwarder, on SQLite and MariaDB: a varnish line whose fields do
not line up is a parse error and stores nothing (no address reaches userAgent), and no form or
prefix of an address reaches the logs or the stored error examples.  Unknown revisions of a
known schema are counted under that schema, unknown names overall only."""

from __future__ import annotations

import json
from urllib.parse import quote_plus

import pytest
from helpers import SCHEMAS, ListSource

from el_monitor.counts.counters import Counters
from el_monitor.event.formats import make_parser
from el_monitor.ingest.pipeline import _UNKNOWN_CACHE_LIMIT, Pipeline
from el_monitor.ingest.sources import open_source
from el_monitor.ingest.sources.base import Chunk
from el_monitor.measures import OVERALL
from el_monitor.schema.registry import DirectoryRegistry
from el_monitor.store import open_store

from .support import count_rows, forward

VARNISH = "%q %{recvFrom}s %{seqId}d %t %h %{userAgent}i"
LIMIT = 1013  # --max-event-bytes: the source keeps 1,014 bytes of a longer line
UA = "Mozilla/5.0 (X11; Linux)"


def nav(seq: int, revision: str = "1.7.0", schema: str = "NavigationTiming") -> str:
    capsule = {"schema": schema, "revision": revision, "wiki": "enwiki", "event": {"isAnon": True}}
    return f"?{quote_plus(json.dumps(capsule))}; cp1 {seq} 2026-11-28T05:00:00"


def cut_inside_the_address(seq: int) -> tuple[bytes, bytes]:
    """A line the source cuts at the limit inside %h, leaving ``10.200.0.``."""
    head = nav(seq).encode()
    line = head + b" " * (LIMIT + 1 - len(head) - len(b"10.200.0.")) + b"10.200.0.17 " + UA.encode()
    assert line[: LIMIT + 1].endswith(b" 10.200.0.")
    return line, b"10.200."


MISALIGNED = {
    "cut inside %h": cut_inside_the_address,
    "zero groups, misaligned": lambda seq: (
        f"{nav(seq)} 2001:4860:4860:0:0:0:0:8888 10.1.2.3 {UA}".encode(),
        b"4860",
    ),
    "cafe": lambda seq: (f"{nav(seq)} cafe 10.1.2.3 {UA}".encode(), b"10.1.2.3"),
    "dash": lambda seq: (f"{nav(seq)} - 10.1.2.3 {UA}".encode(), b"10.1.2.3"),
    "two addresses": lambda seq: (f"{nav(seq)} 10.1.2.4 10.1.2.3 {UA}".encode(), b"10.1.2."),
    "missing field": lambda seq: (f"{nav(seq)[:-20]} 10.1.2.3 {UA}".encode(), b"10.1.2.3"),
}


def stored_texts(db_url: str) -> bytes:
    """Every user agent stored, and every error message and example: what must stay clean."""
    store = open_store(db_url)
    try:
        agents = store.query("SELECT userAgent FROM NavigationTiming_1_7_0")
        errors = store.query("SELECT message, example FROM el_monitor_errors")
    finally:
        store.close()
    assert {a for (a,) in agents} == {UA}
    return json.dumps([agents, errors]).encode()


@pytest.mark.parametrize("kind", MISALIGNED, ids=list(MISALIGNED))
def test_misaligned_or_cut_lines_are_parse_errors_and_leave_no_address(kind, db_url, tmp_path):
    good = [f"{nav(i)} 10.0.0.{i} {UA}".encode() for i in range(1, 11)]
    bad, secret = zip(*(MISALIGNED[kind](100 + i) for i in range(3)), strict=True)
    path, logs = tmp_path / "in.log", tmp_path / "logs"
    path.write_bytes(b"\n".join([*bad[:1], *good, *bad[1:]]) + b"\n")
    source = open_source(f"file://{path}", max_line_bytes=LIMIT)
    result = forward(source, db_url, format=VARNISH, log_dir=str(logs), max_event_bytes=LIMIT)
    overall = result.counts.scopes[OVERALL]
    assert (overall["raw"], overall["valid"], overall["invalid"]) == (13, 10, 3)
    assert overall["raw"] == sum(
        overall[m] for m in ("valid", "invalid", "sampled_out", "opted_out")
    )
    assert dict(result.counts.errors[OVERALL]) == {("parse", None): 3}
    assert overall["inserted"] == count_rows(db_url) == 10
    kept = [f.read_bytes() for f in logs.iterdir()] + [stored_texts(db_url)]
    for data in kept:
        assert secret[0] not in data and b"10.0.0." not in data
    invalid = next(logs.glob("invalid-*.jsonl")).read_text().splitlines()
    assert len(invalid) == 3


def test_an_unknown_revision_counts_under_its_schema_an_unknown_name_overall(db_url, tmp_path):
    lines = [
        *(f"{nav(i)} 10.0.0.1 {UA}".encode() for i in range(5)),
        *(f"{nav(10 + i, revision='9.9.9')} 10.0.0.1 {UA}".encode() for i in range(3)),
        *(f"{nav(20 + i, schema='NoSuchSchema')} 10.0.0.1 {UA}".encode() for i in range(2)),
    ]
    result = forward(ListSource(lines), db_url, format=VARNISH)
    counts = result.counts
    assert counts.get("NavigationTiming", "raw") == 8
    assert counts.get("NavigationTiming", "invalid") == 3
    assert counts.errors["NavigationTiming"] == {("unknown-schema", None): 3}
    assert "NoSuchSchema" not in counts.scopes
    assert counts.get(OVERALL, "invalid") == 5
    store = open_store(db_url)
    try:
        rows = store.query(
            "SELECT schema_name, code, count, example FROM el_monitor_errors ORDER BY schema_name"
        )
        stored = store.query("SELECT schema_name, invalid FROM el_monitor_counts ORDER BY 1")
    finally:
        store.close()
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("-", "unknown-schema", 2),
        ("NavigationTiming", "unknown-schema", 3),
    ]
    assert "9.9.9" in rows[1][3] and "NoSuchSchema" in rows[0][3]
    assert [tuple(r) for r in stored] == [("-", 2), ("NavigationTiming", 3)]


def test_the_cache_of_unknown_pairs_stays_bounded_and_names_never_grow_counters():
    counters = Counters()
    pipeline = Pipeline(
        make_parser("json", "h"), DirectoryRegistry(SCHEMAS), counters, lambda c: None, print
    )
    pipeline.reject = lambda error: None
    total = 3 * _UNKNOWN_CACHE_LIMIT
    for start in range(0, total, 1000):
        lines = []
        for i in range(start, start + 1000):
            schema = "NavigationTiming" if i % 2 else f"Wire{i}"
            capsule = {"schema": schema, "revision": f"r{i}", "wiki": "w", "event": {}}
            lines.append(json.dumps(capsule).encode())
        pipeline.process(Chunk(lines, None, None))
        assert len(pipeline._unknown) <= _UNKNOWN_CACHE_LIMIT
    snapshot = counters.snapshot()
    assert set(snapshot.scopes) == {"NavigationTiming", OVERALL}
    assert snapshot.get("NavigationTiming", "invalid") == total // 2
    assert snapshot.get(OVERALL, "invalid") == snapshot.get(OVERALL, "raw") == total


def test_the_unknown_revision_shows_in_the_forwarders_summary(sqlite_url):
    from el_monitor.cli.forward import format_errors, summary_table
    from el_monitor.counts.counters import error_groups

    lines = [json.dumps({"schema": "NavigationTiming", "revision": "9.9.9", "wiki": "w",
                         "event": {}}).encode()]  # fmt: skip
    result = forward(ListSource(lines), sqlite_url)
    table = summary_table(result.counts)
    assert table.splitlines()[2].split()[:4] == ["NavigationTiming", "1", "0", "1"]
    assert "NavigationTiming  unknown-schema" in format_errors(error_groups(result.counts))
