"""A real carbon-cache + graphite-web (Debian's packages, private ports and directories).

Points go in through carbon's plaintext port and come back from the render API with the names
and values the checks will query: by hand, through the emitter, and from a whole forwarder run.
The Graphite is shared by the session (tests/harness/fixtures.py), so every test writes under
its own instance name; a test that needs `eventlogging.*` to itself writes in a time window of
its own, hours back, where nothing else writes.

Carbon writes asynchronously (a metric's whisper file appears when its first points are
written, and is read by graphite-web while carbon is still writing its header; points being
written are briefly in neither the cache nor the file), so each test polls until the answer is
exactly the expected one (harness: GraphiteServer.wait_for), and on timeout compares the last.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from harness.graphite import GraphiteServer
from harness.graphite_render import points
from helpers import SCHEMAS, ListSource, valid_lines

from el_monitor.counts.counters import Counters, difference, error_difference
from el_monitor.measures import MEASURES, OVERALL

PREFIX = "eventlogging"
Series = list[dict[str, Any]]


def unique(name: str) -> str:
    return f"{name}{secrets.token_hex(4)}"


def by_target(series: Series) -> dict[str, list[tuple[int, float]]]:
    """target → its non-null (timestamp, value) points; series without any are left out."""
    return {s["target"]: pts for s in series if (pts := points([s]))}


def settle(
    graphite: GraphiteServer,
    target: str | list[str],
    expected: Any,
    view: Callable[[Series], Any] = by_target,
    timeout: float = 30.0,
    **window: Any,
) -> Series:
    """Poll the render API until `view(answer) == expected`; on timeout assert it (a diff).

    The servers' logs are added to a failing test's report by the fixture's plugin.
    """
    last: list[Series] = [[]]

    def settled(answer: Series) -> bool:
        last[0] = answer
        return view(answer) == expected

    try:
        return graphite.wait_for(target, settled, timeout, **window)
    except AssertionError as timed_out:
        assert view(last[0]) == expected, str(timed_out).splitlines()[0]
        raise


def test_plaintext_points_come_back_with_their_names_values_and_timestamps(graphite_server):
    instance = unique("plain")
    now = int(time.time())
    count = f"{PREFIX}.{instance}.overall.raw.count"
    rate = f"{PREFIX}.{instance}.overall.raw.rate"
    graphite_server.send(
        [
            f"{count} 120 {now - 20}",
            f"{count} 130 {now - 10}",
            (rate, 12.5, now - 20),
            (rate, 13.0, now - 10),
        ]
    )
    expected = {
        count: [(now - 20, 120.0), (now - 10, 130.0)],
        rate: [(now - 20, 12.5), (now - 10, 13.0)],
    }
    series = settle(graphite_server, [count, rate], expected, from_=now - 30, until=now)
    # One point per second: the test retentions, not the project's coarser ones.
    stamps = [ts for _, ts in series[0]["datapoints"]]
    assert stamps[1] - stamps[0] == 1


def test_sum_series_adds_the_rates_of_every_instance(graphite_server):
    # Two hours back (inside the 1 s archive): no other test writes eventlogging.* there.
    t0 = int(time.time()) - 2 * 3600
    a, b = unique("sum_a"), unique("sum_b")
    lines = []
    for i in range(5):
        lines.append(f"{PREFIX}.{a}.overall.raw.rate {100 + i} {t0 + i}")
        lines.append(f"{PREFIX}.{b}.overall.raw.rate 50.5 {t0 + i}")
    lines.append(f"{PREFIX}.{a}.overall.raw.rate 7 {t0 + 5}")  # only one instance there
    graphite_server.send(lines)
    target = f"sumSeries({PREFIX}.*.overall.raw.rate)"
    expected = {target: [(t0 + i, 150.5 + i) for i in range(5)] + [(t0 + 5, 7.0)]}
    settle(graphite_server, target, expected, from_=t0 - 1, until=t0 + 9)


def test_counts_sum_and_rates_average_when_rolled_up(graphite_server):
    # A range longer than the 1 s archive (6 h) is read from the 10 s one, whose points are
    # the storage-aggregation.conf rollup of ten 1 s points: counts must add, rates average.
    instance = unique("rollup")
    count = f"{PREFIX}.{instance}.schema.Edit.valid.count"
    rate = f"{PREFIX}.{instance}.schema.Edit.valid.rate"
    bucket = (int(time.time()) - 3 * 3600) // 10 * 10
    lines = [f"{count} {i + 1} {bucket + i}" for i in range(10)]
    lines += [f"{rate} {i + 1} {bucket + i}" for i in range(10)]
    graphite_server.send(lines)
    expected = {count: [(bucket, 55.0)], rate: [(bucket, 5.5)]}  # 1 + ... + 10, and its mean
    now = int(time.time())
    settle(graphite_server, [count, rate], expected, from_=now - 7 * 3600, until=bucket + 10)


def test_emitter_interval_comes_back_with_the_design_names(graphite_server):
    from el_monitor.graphite.emitter import GraphiteSettings, MetricEmitter

    instance = unique("emit")
    end = int(time.time())
    clock = iter([end - 10.0, float(end)])
    counters = Counters(clock=lambda: next(clock))
    counters.schema("NavigationTiming").raw = 3  # before the interval: not in its counts
    before = counters.snapshot()
    nav, edit = counters.schema("NavigationTiming"), counters.schema("Edit")
    nav.raw += 25
    nav.valid += 20
    nav.invalid += 5
    nav.inserted += 20
    nav.errors[("validation", "$.event.action")] += 5
    edit.raw += 5
    edit.valid += 4
    edit.sampled_out += 1
    after = counters.snapshot()

    host, port = graphite_server.carbon
    emitter = MetricEmitter(GraphiteSettings(host, port, PREFIX, instance, interval=10.0))
    emitter.submit(difference(before, after), error_difference(before, after))
    emitter.close(timeout=30.0)  # ample: it returns as soon as all is sent
    assert emitter.dropped == 0 and emitter.sent > 0

    base = f"{PREFIX}.{instance}"
    window = {"from_": end - 60, "until": end + 60}
    expected = {
        f"{base}.overall.raw.count": 30,
        f"{base}.overall.raw.rate": 3.0,
        f"{base}.overall.valid.count": 24,
        f"{base}.overall.invalid.count": 5,
        f"{base}.overall.invalid.rate": 0.5,
        f"{base}.overall.sampled_out.count": 1,
        f"{base}.overall.inserted.count": 20,
        f"{base}.overall.opted_out.count": 0,
        f"{base}.schema.NavigationTiming.raw.count": 25,
        f"{base}.schema.NavigationTiming.raw.rate": 2.5,
        f"{base}.schema.NavigationTiming.invalid.count": 5,
        f"{base}.schema.Edit.raw.count": 5,
        f"{base}.schema.Edit.sampled_out.rate": 0.1,
        f"{base}.schema.NavigationTiming.errors.validation.event_action.count": 5,
        f"{base}.overall.errors.validation.event_action.count": 5,
    }
    settle(
        graphite_server,
        list(expected),
        {name: [(end, pytest.approx(value))] for name, value in expected.items()},
        **window,
    )
    # Every measure of the design, as count and rate, for the overall scope.
    settle(
        graphite_server,
        f"{base}.overall.*.*",
        {f"{base}.overall.{m}.{kind}" for m in MEASURES for kind in ("count", "rate")},
        view=lambda series: set(by_target(series)),
        **window,
    )
    # `sumSeries` across instances is what the checks query; this instance alone adds 3/s.
    target = f"sumSeries({PREFIX}.{{{instance},nosuchinstance}}.overall.raw.rate)"
    settle(graphite_server, target, {target: [(end, 3.0)]}, **window)


def test_a_forwarder_run_sends_its_counts_to_graphite(graphite_server, tmp_path):
    from el_monitor.graphite.emitter import GraphiteSettings, MetricEmitter
    from el_monitor.ingest.forwarder import Forwarder, ForwarderSettings
    from el_monitor.schema.registry import DirectoryRegistry
    from el_monitor.store import open_store

    instance = unique("fwd")
    lines = valid_lines(40) + [b"not json at all", b'{"schema": "NoSuchSchema", "event": {}}']
    host, port = graphite_server.carbon
    emitter = MetricEmitter(GraphiteSettings(host, port, PREFIX, instance, interval=10.0))
    store = open_store(f"sqlite:///{tmp_path}/el.db")
    started = int(time.time())
    try:
        result = Forwarder(
            ForwarderSettings(host="test"),
            ListSource(lines),
            DirectoryRegistry(SCHEMAS),
            store,
            metrics=emitter,
        ).run(threading.Event())
    finally:
        store.close()
    assert emitter.dropped == 0 and emitter.buffered == 0

    counts = dict(result.counts.scopes[OVERALL])
    assert (counts["raw"], counts["valid"], counts["invalid"]) == (42, 40, 2)
    # A flush is stamped with the start of the 10 s slot it covers: up to 10 s before `started`.
    window = {"from_": started - 15, "until": int(time.time()) + 5}

    def totals(series: Series) -> dict[str, float]:
        # eventlogging.<instance>.<scope...>.<measure>.count → summed over the run's points
        # (one per flush interval), keyed by what the wildcard matched.
        return {
            ".".join(target.split(".")[2:-1]): sum(v for _, v in pts)
            for target, pts in by_target(series).items()
        }

    # Overall: exactly the forwarder's own counts, every measure (zeros included).
    settle(
        graphite_server,
        f"{PREFIX}.{instance}.overall.*.count",
        {f"overall.{m}": counts[m] for m in MEASURES},
        view=totals,
        **window,
    )
    # Per schema: the raw count of every schema the run saw.
    settle(
        graphite_server,
        f"{PREFIX}.{instance}.schema.*.raw.count",
        {
            f"schema.{scope}.raw": values["raw"]
            for scope, values in result.counts.scopes.items()
            if scope != OVERALL
        },
        view=totals,
        **window,
    )


def test_the_harness_uses_private_ports_and_directories(graphite_server):
    server: GraphiteServer = graphite_server
    assert server.carbon[0] == "127.0.0.1" and server.carbon[1] != 2003
    conf = (server.conf_dir / "carbon.conf").read_text()
    assert "/var/lib/graphite" not in conf and "/etc/carbon" not in conf
    assert str(server.whisper_dir) in conf
