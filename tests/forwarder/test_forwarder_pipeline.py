"""The forwarder's books, end to end in process: every event stored and counted once, replays
idempotent, bad input counted exactly and logged, raw client lines parsed without keeping
the client's IP, batches bounded, and events the store refuses counted as store errors."""

from __future__ import annotations

import json

import pytest
from helpers import SCHEMAS, ListSource, example_capsules, valid_lines

from el_monitor.ingest.sources import open_source
from el_monitor.measures import OVERALL
from el_monitor.store import open_store

from .support import bad_corpus, count_rows, forward


def test_every_example_is_stored_and_counted(sqlite_url):
    lines = valid_lines(len(example_capsules()))
    result = forward(ListSource(lines), sqlite_url)
    overall = result.counts.scopes[OVERALL]
    assert overall["raw"] == overall["valid"] == overall["inserted"] == len(lines)
    assert overall["invalid"] == 0
    assert result.counts.get("NavigationTiming", "inserted") == 1
    assert count_rows(sqlite_url) == len(lines)


def test_replay_adds_no_rows(sqlite_url):
    lines = valid_lines(500)
    first = forward(ListSource(lines), sqlite_url)
    again = forward(ListSource(lines), sqlite_url)
    assert first.counts.get(OVERALL, "inserted") == 500
    assert again.counts.get(OVERALL, "valid") == 500
    assert again.counts.get(OVERALL, "inserted") == 0
    assert count_rows(sqlite_url) == 500


def test_json_lines_without_uuid_replay_idempotently(sqlite_url):
    lines = [json.dumps(c).encode() for c in example_capsules()]
    forward(ListSource(lines), sqlite_url)
    forward(ListSource(lines), sqlite_url)
    assert count_rows(sqlite_url) == len(lines)


def test_bad_lines_are_counted_exactly_and_good_ones_all_stored(tmp_path, sqlite_url):
    lines, expected = bad_corpus()
    path = tmp_path / "bad.log"
    path.write_bytes(b"\n".join(lines) + b"\n")
    logs = tmp_path / "logs"
    result = forward(open_source(f"file://{path}"), sqlite_url, log_dir=str(logs))
    overall = result.counts.scopes[OVERALL]
    assert (overall["raw"], overall["valid"], overall["invalid"]) == (
        expected["raw"],
        expected["valid"],
        expected["invalid"],
    )
    assert dict(result.counts.errors[OVERALL]) == expected["errors"]
    assert overall["inserted"] == expected["valid"]
    assert count_rows(sqlite_url) == expected["valid"]
    # The SQL text is stored verbatim as a value, and nothing was dropped.
    store = open_store(sqlite_url)
    assert store.query("SELECT event_skin FROM NavigationTiming_1_7_0 WHERE uuid = ?", ("f" * 32,))[
        0
    ][0].startswith("'); DROP TABLE")
    store.close()
    # Every invalid event is in the invalid log, with its code; valid ones in the valid log.
    (invalid_log,) = logs.glob("invalid-*.jsonl")
    records = [json.loads(line) for line in invalid_log.read_text().splitlines()]
    assert len(records) == expected["invalid"]
    assert {r["code"] for r in records} == {"parse", "validation", "unknown-schema"}
    assert all(len(r["rawEvent"]) <= 70_000 for r in records)
    (valid_log,) = logs.glob("valid-*.jsonl")
    assert len(valid_log.read_text().splitlines()) == expected["valid"]
    (all_log,) = logs.glob("all-*.jsonl")
    assert len(all_log.read_bytes().splitlines()) == expected["raw"]


def test_format_string_input(sqlite_url, tmp_path):
    from urllib.parse import quote_plus

    capsules = example_capsules()
    lines = [
        f"?{quote_plus(json.dumps(c))}; cp1052 {i} 2026-11-28T05:00:00 10.0.0.{i % 250} "
        f"Mozilla/5.0 (X11; Linux)".encode()
        for i, c in enumerate(capsules)
    ]
    broken = [
        b"?%7B%22schema%22%3A%22Nope%22%7D; cp1052 1 2026-11-28T05:00:00 10.0.0.251 UA",
        b"?%7Bnot-json; cp1052 2 2026-11-28T05:00:00 2001:db8::7 UA",  # parses, event does not
        b"garbage from 10.0.0.252 that matches no format",
    ]
    fmt = "%q %{recvFrom}s %{seqId}d %t %h %{userAgent}i"
    logs = tmp_path / "logs"
    result = forward(ListSource(lines + lines + broken), sqlite_url, format=fmt, log_dir=str(logs))
    for log_file in logs.iterdir():  # the client IP is kept by no log, valid or not
        assert b"10.0.0." not in log_file.read_bytes() and b"2001:db8" not in log_file.read_bytes()
    assert len((next(logs.glob("all-*"))).read_bytes().splitlines()) == 2 * len(lines) + 3
    assert result.counts.get(OVERALL, "valid") == 2 * len(lines)
    assert result.counts.get(OVERALL, "inserted") == len(lines)  # the replay half is idempotent
    store = open_store(sqlite_url)
    ua, ts = store.query("SELECT userAgent, timestamp FROM NavigationTiming_1_7_0")[0]
    assert ua == "Mozilla/5.0 (X11; Linux)" and ts == "20261128050000"
    dump = json.dumps(store.query("SELECT * FROM NavigationTiming_1_7_0"))
    assert "10.0.0." not in dump  # no client IP anywhere
    store.close()


def test_batches_are_bounded_by_rows(sqlite_url):
    source = ListSource(valid_lines(1000), chunk=50)
    result = forward(source, sqlite_url, batch_size=200)
    assert result.counts.get(OVERALL, "inserted") == 1000
    # checkpoints move once per flush, and only over durable rows
    assert source.committed == [200, 400, 600, 800, 1000]


@pytest.mark.parametrize("depth", [300, 1000])
def test_a_valid_event_nested_too_deep_to_write_is_refused_not_a_crash(depth, tmp_path, sqlite_url):
    # InukaPageView's test entries allow extra properties: anything validates there.
    inuka = json.loads((SCHEMAS.parent / "samples" / "InukaPageView.jsonl").read_text())
    inuka.update(wiki="enwiki", uuid="d" * 32, timestamp=1795842000)
    inuka["event"]["tests"] = [{"name": "n", "group": "g", "extra": "DEEP"}]
    deep = json.dumps(inuka).encode().replace(b'"DEEP"', b"[" * depth + b"]" * depth)
    lines = [*valid_lines(20), deep]
    logs = tmp_path / "logs"
    result = forward(ListSource(lines), sqlite_url, log_dir=str(logs))
    assert result.counts.get(OVERALL, "valid") == 21
    assert result.counts.get(OVERALL, "inserted") == 20 == count_rows(sqlite_url)
    assert result.counts.errors["InukaPageView"] == {("store", None): 1}
    (valid_log,) = logs.glob("valid-*.jsonl")
    kept = json.loads(valid_log.read_text().splitlines()[-1])
    assert kept["uuid"] == "d" * 32  # written out whole where the standard library can


def test_value_too_long_for_its_column_is_a_store_error(mysql_url, tmp_path):
    nav = {"schema": "NavigationTiming", "revision": "1.7.0", "wiki": "enwiki"}
    too_long = json.dumps(dict(nav, uuid="e" * 32, event={"isAnon": True, "skin": "x" * 300}))
    lines = valid_lines(50) + [too_long.encode()] + valid_lines(50, start=50)
    logs = tmp_path / "logs"
    result = forward(ListSource(lines), mysql_url, log_dir=str(logs))
    assert result.counts.get(OVERALL, "valid") == 101
    assert result.counts.get(OVERALL, "inserted") == 100
    assert result.counts.errors["NavigationTiming"] == {("store", None): 1}
    assert count_rows(mysql_url) == 100
    (invalid_log,) = logs.glob("invalid-*.jsonl")
    (record,) = [json.loads(line) for line in invalid_log.read_text().splitlines()]
    assert record["code"] == "store" and "too long" in record["message"].lower()
    assert json.loads(record["rawEvent"])["uuid"] == "e" * 32


def test_a_batch_whose_only_event_of_a_table_is_refused_still_commits(sqlite_url):
    # TemplateWizard's performer object allows more properties than its table has columns:
    # the event is valid, the mapping refuses it, and the rest of the batch is committed.
    wizard = json.loads((SCHEMAS.parent / "samples" / "TemplateWizard.jsonl").read_text())
    wizard.update(wiki="enwiki", uuid="f" * 32, timestamp=1795842000)
    wizard["event"]["performer"]["surprise"] = 1
    lines = valid_lines(20) + [json.dumps(wizard).encode()]
    lines = [line for line in lines if b'"TemplateWizard"' not in line or b"surprise" in line]
    result = forward(ListSource(lines), sqlite_url)
    assert result.counts.get(OVERALL, "valid") == len(lines)
    assert result.counts.get(OVERALL, "inserted") == len(lines) - 1 == count_rows(sqlite_url)
    assert result.counts.errors["TemplateWizard"] == {("store", None): 1}
    assert result.pending == 0
