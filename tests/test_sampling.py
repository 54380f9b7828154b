"""Sampling: stable, grouped by sample_key, the right share, and recorded beside the data."""

from __future__ import annotations

import json
import logging
import threading

import orjson
from helpers import SCHEMAS, ListSource

from el_monitor.counts.counters import Counters
from el_monitor.event.formats import make_parser
from el_monitor.ingest.forwarder import Forwarder, ForwarderSettings
from el_monitor.ingest.pipeline import Pipeline
from el_monitor.ingest.policy import Policy
from el_monitor.ingest.sampling import Sampler
from el_monitor.ingest.sources.base import Chunk
from el_monitor.schema.registry import DirectoryRegistry
from el_monitor.store import open_store


def nav_lines(count: int, tokens: int | None = None) -> list[bytes]:
    lines = []
    for i in range(count):
        event = {"isAnon": True}
        if tokens is not None:
            event["pageviewToken"] = f"pv{i % tokens}"
        capsule = {
            "schema": "NavigationTiming",
            "revision": "1.7.0",
            "wiki": "enwiki",
            "uuid": f"{i:032x}",
            "timestamp": 1795842000,
            "event": event,
        }
        lines.append(json.dumps(capsule).encode())
    return lines


def run_pipeline(lines: list[bytes], sampler: Sampler) -> tuple[list[dict], Counters]:
    kept: list[dict] = []
    counters = Counters()
    policy = Policy(sampler_for=lambda schema: sampler)
    pipeline = Pipeline(
        make_parser("json", "t"),
        DirectoryRegistry(SCHEMAS),
        counters,
        kept.append,
        lambda error: None,
        policy=policy,
    )
    for start in range(0, len(lines), 1000):
        pipeline.process(Chunk(lines[start : start + 1000]))
    return kept, counters


def test_kept_share_is_one_in_n_and_reruns_keep_the_same_events():
    lines = nav_lines(100_000)
    kept, counters = run_pipeline(lines, Sampler(10))
    share = len(kept) / len(lines)
    assert 0.095 <= share <= 0.105
    snapshot = counters.snapshot()
    assert snapshot.get("NavigationTiming", "sampled_out") == len(lines) - len(kept)
    assert snapshot.get("NavigationTiming", "raw") == len(lines)
    again, _ = run_pipeline(lines, Sampler(10))
    assert [c["uuid"] for c in again] == [c["uuid"] for c in kept]


def test_sample_key_keeps_or_drops_a_page_view_together():
    lines = nav_lines(20_000, tokens=500)
    kept, _ = run_pipeline(lines, Sampler(10, ["pageviewToken"]))
    kept_tokens = {c["event"]["pageviewToken"] for c in kept}
    # every event of a kept token is kept: 40 events per token
    assert len(kept) == 40 * len(kept_tokens)
    assert 20 <= len(kept_tokens) <= 80


def test_missing_sample_key_falls_back_to_the_uuid():
    sampler = Sampler(3, ["pageviewToken"])
    capsule = {"uuid": "a" * 32, "event": {"isAnon": True}}
    assert sampler.key(capsule) == "a" * 32
    assert sampler.key({"uuid": "b" * 32, "event": {"pageviewToken": "x"}}) == "x"


def test_an_object_or_array_as_sample_key_counts_as_absent():
    deep = orjson.loads(b"[" * 1000 + b"]" * 1000)  # str() of it raises RecursionError
    by_uuid = Sampler(7)
    for sampler in (Sampler(7, ["pageviewToken"]), Sampler(7, ["pageviewToken", "a.b"])):
        for value in (deep, {"k": 1}, [1, 2]):
            capsules = [{"uuid": f"{i:032x}", "event": {"pageviewToken": value}} for i in range(50)]
            assert [sampler.keep(c) for c in capsules] == [by_uuid.keep(c) for c in capsules]
    assert Sampler(7, ["n"]).key({"uuid": "u", "event": {"n": 5}}) == "5"


def test_nested_sample_keys():
    sampler = Sampler(2, ["performer.user_id", "action"])
    assert sampler.key({"uuid": "u", "event": {"performer": {"user_id": 7}, "action": "a"}}) == (
        "7\x1fa"
    )


def test_rate_one_keeps_everything():
    sampler = Sampler(1)
    assert all(sampler.keep({"uuid": f"{i:032x}", "event": {}}) for i in range(1000))


def test_sample_rate_is_recorded_and_a_change_is_logged(tmp_path, caplog):
    url = f"sqlite:///{tmp_path}/el.db"

    def forward(rate: int, start: int) -> None:
        store = open_store(url)
        forwarder = Forwarder(
            ForwarderSettings(host="t"),
            ListSource(nav_lines(200)[start:][:100]),
            DirectoryRegistry(SCHEMAS),
            store,
        )
        forwarder.set_policy(Policy(sampler_for=lambda schema: Sampler(rate)))
        forwarder.run(threading.Event())
        store.close()

    forward(10, 0)
    with caplog.at_level(logging.ERROR):
        forward(5, 100)
    assert "changed from 1 in 10 to 1 in 5" in caplog.text
    store = open_store(url)
    history = store.query(
        "SELECT schema_name, revision, sample_rate FROM el_monitor_sampling ORDER BY id"
    )
    assert history == [("NavigationTiming", "1.7.0", 10), ("NavigationTiming", "1.7.0", 5)]
    store.close()
