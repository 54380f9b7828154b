"""A check plugin's whole run, process start to exit, with its render query against a private
graphite-web (the test suite's harness), next to a bare ``python3 -c pass``: the floor any
command's start-up stands on, timed in the same run."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import corpus_events
from measure import median_ms, use_test_harness
from results import Figure, Planned, Reference, at_most

CHECK_RUN = Planned("check_el_rate run incl. render query", "ms", at_most(250, "ms"))
FLOOR_RUNS = 20


def missing_graphite() -> list[str]:
    """The Debian packages a private graphite-web needs that are not installed."""
    use_test_harness(corpus_events.ROOT)
    from harness.graphite import missing_packages

    return list(missing_packages())


@contextmanager
def graphite_with_rates(tmp: Path) -> Iterator[str]:
    """A private carbon + graphite-web holding two minutes of event rates: yields its URL."""
    use_test_harness(corpus_events.ROOT)
    from harness.graphite import GraphiteServer

    with GraphiteServer(tmp / "graphite") as graphite:
        now = int(time.time())
        graphite.send(
            f"eventlogging.bench.{scope}.raw.rate {rate} {now - age}"
            for age in range(120)
            for scope, rate in (("overall", 120), ("schema.NavigationTiming", 100))
        )
        graphite.wait_for("eventlogging.bench.overall.raw.rate", from_="-2min")
        yield graphite.url


def start_to_exit_floor(runs: int = FLOOR_RUNS) -> tuple[Reference, Figure]:
    ms, _ = median_ms([[sys.executable, "-c", "pass"]] * runs)
    floor = Reference("python3 -c pass", ms)
    figure = Figure("python3 -c pass, start to exit (floor)", ms, "ms", f"median of {runs}", floor)
    return floor, figure


def check_run(graphite_url: str, floor: Reference, runs: int = 20) -> Figure:
    check = Path(sys.executable).with_name("check_el_rate")
    args = [str(check), "--graphite", graphite_url, "--from", "-2min"]
    ms, done = median_ms([args] * runs)
    output = done.stdout.strip()
    problem = "" if output.startswith("EL_RATE OK") else f"unexpected output: {output}"
    return CHECK_RUN.measured(ms, f"median of {runs}", floor, problem)
