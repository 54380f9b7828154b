"""A failover drill under load: a real forwarder (``forward --db-file``, its HTTP beacon) takes
a steady 2,000 events/s into a private MariaDB primary with a GTID replica, while
``FailoverDrill`` fences the primary, promotes the replica and re-points the forwarder.

Figures: the RPO (canaries and stream events answered 2xx but not on the new primary once
the forwarder has drained: 0 is the target), the forwarder's pause (the longest time no row was
written, from a thread polling both servers' newest ids every 50 ms; <= 10 s) against the
longest such gap of the same stream before the drill (the floor: flush interval and polling),
the rate the stream kept, and each phase's time (the RTO, no target).  The private servers come
from the test suite's harness, as the tests start them; nothing touches the shared server.

Runnable alone: ``benchmarks/bench_failover.py``.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

import corpus_events
from measure import log, use_test_harness
from results import EVENTS, Figure, Planned, Reference, at_most

RATE = 2_000  # events/s the stream sends
PER_REQUEST = 100
POLL = 0.05  # seconds between looks at the servers' newest ids
STEADY = 5.0  # seconds of stream measured before the drill: the floor's window
RPO = Planned("failover drill RPO (events lost)", "events", at_most(0, "events"))
PAUSE = Planned("  forwarder pause (no rows written)", "s", at_most(10, "s"))


class WriteWatch:
    """Polls the sum of the stream tables' newest ids on both servers (the larger: before the
    promotion the replica trails the primary, after it the primary is frozen), and keeps the
    times that number grew."""

    def __init__(self, servers: list, tables: list[str]) -> None:
        self.servers, self.tables = servers, tables
        self.grew: list[float] = []
        self._last = -1
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _newest(self, server) -> int:  # noqa: ANN001 - the harness's MariaDBServer
        try:
            parts = " + ".join(f"COALESCE((SELECT MAX(id) FROM `{t}`), 0)" for t in self.tables)
            return int(server.execute(f"SELECT {parts}", database="test")[0][0] or 0)
        except Exception:  # a table not made yet, a server busy being promoted: no news
            return -1

    def _run(self) -> None:
        while not self._stop.is_set():
            newest = max(self._newest(server) for server in self.servers)
            if newest > self._last:
                self._last = newest
                self.grew.append(time.monotonic())
            self._stop.wait(POLL)

    def longest_gap(self, start: float, end: float) -> float:
        times = [t for t in self.grew if start <= t <= end]
        edges = [start, *times, end]
        return max(b - a for a, b in zip(edges, edges[1:], strict=False))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)


def failover(tmp: Path) -> list[Figure]:
    use_test_harness(corpus_events.ROOT)
    from harness.mariadb import missing_reason

    why = missing_reason()
    if why:
        return [RPO.not_measured(why), PAUSE.not_measured(why)]
    from harness.mariadb import MariaDBServer

    tmp.mkdir(parents=True, exist_ok=True)
    with MariaDBServer(tmp / "primary", 1) as primary, MariaDBServer(tmp / "replica", 2) as replica:
        return _drill(tmp, primary, replica)


def _drill(tmp: Path, primary, replica) -> list[Figure]:  # noqa: ANN001
    from backup.failover_support import (
        STREAM_SCHEMAS,
        DrillForwarder,
        SteadyStream,
        add_writer,
        canary_file,
        stream_uuids,
        writer_url,
    )
    from harness.wait import wait_until
    from helpers import example_capsules

    from el_monitor.backup.canary import CanaryStream, beacon_sender, load_template
    from el_monitor.backup.failover import FailoverDrill, FailoverPlan
    from el_monitor.backup.repoint import ForwarderLink
    from el_monitor.store import open_store
    from el_monitor.store.mapping import table_name

    replica.replicate_from(primary)
    add_writer(primary)
    replica.wait_caught_up(primary)
    forwarder = DrillForwarder(tmp / "forwarder", writer_url(primary))
    tables = [table_name(c["schema"], c["revision"]) for c in example_capsules()[:STREAM_SCHEMAS]]
    stream = SteadyStream(forwarder.port, PER_REQUEST, PER_REQUEST / RATE)
    watch = WriteWatch([primary, replica], tables)
    try:
        wait_until(lambda: len(stream_uuids(primary)) >= RATE, 60, "the stream on the primary")
        steady_start, before = time.monotonic(), stream.count()
        time.sleep(STEADY)  # a benchmark measures time: the floor's window of steady writing
        steady_end = time.monotonic()
        canaries = CanaryStream(
            beacon_sender(forwarder.beacon), load_template(canary_file(tmp)), interval=0.1
        )
        link = ForwarderLink(forwarder.pid_file, forwarder.db_file)
        plan = FailoverPlan(primary.url, replica.url, link, canaries, catch_up_timeout=60)
        log(f"failover drill with the forwarder at {RATE:,} events/s ...")
        drill_start = time.monotonic()
        record = FailoverDrill(plan, open_store).run()
        drill_end = time.monotonic()
        time.sleep(2.0)  # the stream goes on into the new primary
        sent_for = time.monotonic() - steady_start
        answered = stream.stop()
        wait_until(lambda: set(answered) <= stream_uuids(replica), 120, "the stream drained")
    except AssertionError as exc:
        why = f"the drill's load did not settle: {exc}"
        return [RPO.not_measured(why), PAUSE.not_measured(why)]
    finally:
        stream.stop()
        watch.stop()
        forwarder.stop()
    lost = set(answered) - stream_uuids(replica)
    floor = watch.longest_gap(steady_start, steady_end)
    pause = watch.longest_gap(drill_start, drill_end + 1.0)
    problem = "" if record.passed else f"the drill was {record.outcome}: {record.error}"
    rate = (len(answered) - before) / sent_for
    figures = [
        RPO.measured(
            float(len(lost) + record.rpo_events),
            f"1 drill: {record.canaries_sent} canaries, {len(answered):,} stream events",
            Reference("events sent", float(len(answered) + record.canaries_sent)),
            problem,
        ),
        PAUSE.measured(pause, "longest gap, 50 ms polls", Reference("steady gap", floor), problem),
        Figure("  stream rate kept", rate, EVENTS, f"{RATE:,} ev/s sent by one client"),
        Figure("  RTO (fence to re-pointed)", record.rto_seconds, "s", "sum of 4 phases"),
    ]
    figures += [Figure(f"    {p.name}", p.seconds, "s", "1 drill") for p in record.phases]
    return figures


def main() -> None:
    from results import table

    with tempfile.TemporaryDirectory(prefix="el-bench-") as tmp:
        print(table(failover(Path(tmp))))


if __name__ == "__main__":
    main()
