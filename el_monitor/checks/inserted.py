"""check_el_inserted: do valid events reach the database?  The sink, not just the front door.

What reached the database is ``inserted`` + ``duplicate``: a duplicate is a valid event whose
uuid was stored already (a replay from a checkpoint after a restart, a backfill, a client's
resend), so its row is there.  Counting inserts alone would make every replay look like a sink
failure.  Forwarders from before the ``duplicate`` measure send no such series: read as 0.

Two findings, both from the forwarders' overall counters:

* the window's ratio (inserted + duplicate) / valid, against ``-w 0.9: -c 0.5:`` (warn under
  90% stored, critical under 50%); inserts lag a little behind validation, so the ratio hovers
  near 1;
* a stall: nothing inserted nor found stored for the last ``--stalled`` seconds (default 60)
  while valid events keep arriving — the forwarder stopped writing or the database is stuck.
  Always CRITICAL::

    EL_INSERTED CRITICAL - nothing inserted for the last 90 s while 1234 valid events arrived:
    the forwarder stopped writing or the database is stuck (1234 spooled)

A third, milder finding: events the forwarders could not write to their event logs
(``--log-dir`` on a full or read-only disk; ``overall.not_logged``) make it a WARNING.  They
reached the database, so the sink works, but a backfill from those logs would miss them::

    EL_INSERTED WARNING - 1200 events not written to the forwarders' event logs (full or
    read-only --log-dir?); 100% of valid events inserted over the last 10min (…)

Likewise, input a forwarder's source lost before counting it: lines dropped while its queue
was full (UDP, ZeroMQ; ``overall.dropped``), datagrams the kernel dropped before it read them
(UDP; ``overall.kernel_dropped``) and damaged stream messages it terminated (JetStream;
``overall.damaged``) are each a WARNING: the ratio cannot see them, since the books start at
``raw``::

    EL_INSERTED WARNING - 1234 lines dropped by the forwarders' sources, their queue full
    (raise --queue-mb?); 100% of valid events inserted over the last 10min (…)

The status line names the duplicates when there are any::

    EL_INSERTED OK - 100% of valid events inserted or already stored over the last 10min
    (1000 of 1000, 1000 of them duplicates)

Fewer than ``--min-events`` valid events in the window are not judged.  Perfdata: ``ratio``
with its thresholds, ``valid``/``inserted``/``duplicate``/``spooled`` event counts,
``stalled`` seconds and, when the forwarders send them, ``not_logged``, ``dropped``,
``damaged`` and ``kernel_dropped``.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import nagiosplugin
from nagiosplugin import Range

from el_monitor.argtypes import positive_float
from el_monitor.checks import options, output
from el_monitor.checks.acquire import Frame, Graphite
from el_monitor.checks.judge import PerfContext, ValueContext, compared
from el_monitor.checks.runtime import run
from el_monitor.graphite import names
from el_monitor.graphite.render import Series
from el_monitor.measures import DAMAGED, DROPPED, KERNEL_DROPPED, NOT_LOGGED

NAME = "EL_INSERTED"
# Counts of a forwarder's health outside the ratio, any of which is a WARNING; sent only
# where they grew, and not at all by forwarders from before them.
HEALTH = {
    NOT_LOGGED: "events not written to the forwarders' event logs (full or read-only --log-dir?)",
    DROPPED: "lines dropped by the forwarders' sources, their queue full (raise --queue-mb?)",
    DAMAGED: "damaged stream messages terminated by the forwarders' sources",
    KERNEL_DROPPED: "datagrams the kernel dropped, the forwarders not reading fast enough",
}
MEASURES = ("valid", "inserted", "duplicate", "spooled", *HEALTH)
COUNTS = names.metric(names.OVERALL, names.alternatives(MEASURES), names.COUNT)
VALID, INSERTED, DUPLICATE, SPOOLED = (
    names.metric(names.OVERALL, m, names.COUNT) for m in MEASURES[:4]
)
DEFAULT_STEP = 10  # seconds between points when a window has a single point


class Stall(NamedTuple):
    """The trailing run of points with valid events but nothing inserted nor duplicate (found
    already stored)."""

    seconds: float
    valid: float  # valid events that arrived during it
    spooled: float  # of which spooled (the sink refused them)


class Totals(NamedTuple):
    valid: float
    inserted: float
    duplicate: float  # found already stored: reached the database like an insert
    spooled: float


def stall(
    valid: Series | None,
    inserted: Series | None,
    duplicate: Series | None,
    spooled: Series | None,
) -> Stall:
    """How long, up to the last valid point, nothing was stored while valid events came in.

    Stored is inserted or duplicate (a replay's rows are there already).  A null count next to
    a valid one counts as nothing; trailing points with no valid count (not flushed yet) are
    ignored.
    """
    if valid is None:
        return Stall(0, 0, 0)
    stored_at: dict[int, float] = {}
    for series in (s for s in (inserted, duplicate) if s is not None):
        for v, ts in series.points:
            stored_at[ts] = stored_at.get(ts, 0) + (v or 0)
    spooled_at = {ts: v for v, ts in spooled.points} if spooled is not None else {}
    points = [(ts, v) for v, ts in valid.points if v is not None]
    stamps = [ts for _, ts in valid.points]
    step = min((b - a for a, b in zip(stamps, stamps[1:], strict=False)), default=DEFAULT_STEP)
    run: list[tuple[int, float]] = []
    for ts, count in reversed(points):
        if stored_at.get(ts, 0) > 0:
            break
        run.append((ts, count))
    arrived = sum(count for _, count in run)
    if not run or arrived <= 0:
        return Stall(0, 0, 0)
    # The run starts at its oldest point that saw valid events: idle points before it do not
    # make a stall longer.
    while run and run[-1][1] <= 0:
        run.pop()
    seconds = run[0][0] - run[-1][0] + step
    spooled_total = sum(spooled_at.get(ts) or 0 for ts, _ in run)
    return Stall(seconds, arrived, spooled_total)


class Inserted(nagiosplugin.Resource):
    """Overall valid, inserted, duplicate and spooled counts over the window, in one render
    request."""

    def __init__(self, graphite: Graphite, prefix: str, min_events: float) -> None:
        self.graphite = graphite
        self.prefix = prefix
        self.min_events = min_events

    def probe(self) -> Iterator[nagiosplugin.Metric]:
        frame = Frame(self.graphite.render([names.summed(self.prefix, COUNTS)]))
        valid = frame.get(VALID)
        if valid is None or not valid.values():
            raise self.graphite.no_data(names.full_name(self.prefix, VALID))
        inserted = frame.get(INSERTED)
        if inserted is None:
            raise nagiosplugin.CheckError(
                f"Graphite {self.graphite.url} has valid counts but no "
                f"{names.full_name(self.prefix, INSERTED)}: does any forwarder write to a database?"
            )
        spooled = frame.get(SPOOLED)
        duplicate = frame.get(DUPLICATE)  # None from forwarders older than the measure: 0
        totals = Totals(
            frame.total(VALID), frame.total(INSERTED), frame.total(DUPLICATE), frame.total(SPOOLED)
        )
        judged = totals.valid >= self.min_events and totals.valid > 0
        stored = totals.inserted + totals.duplicate
        ratio = stored / totals.valid if totals.valid > 0 else None
        yield nagiosplugin.Metric("ratio", ratio, min=0, context="ratio" if judged else "unjudged")
        stalled = stall(valid, inserted, duplicate, spooled)
        yield nagiosplugin.Metric("stalled", stalled, "s", context="stall")
        for name, value in totals._asdict().items():
            yield nagiosplugin.Metric(name, value, min=0, context="count")
        for measure in HEALTH:
            name = names.metric(names.OVERALL, measure, names.COUNT)
            if frame.get(name) is not None:  # forwarders from before it leave it out
                yield nagiosplugin.Metric(measure, frame.total(name), min=0, context=measure)


class StallContext(nagiosplugin.Context):
    """CRITICAL once nothing has been inserted for ``limit`` seconds with valid events arriving."""

    def __init__(self, limit: float) -> None:
        super().__init__("stall")
        self.limit = limit

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> nagiosplugin.Result:
        stalled = metric.value.seconds >= self.limit
        return nagiosplugin.Result(
            nagiosplugin.Critical if stalled else nagiosplugin.Ok, None, metric
        )

    def performance(
        self, metric: nagiosplugin.Metric, resource: object
    ) -> nagiosplugin.Performance:
        return output.performance(
            "stalled", metric.value.seconds, "s", None, Range(output.perf_num(self.limit)), 0
        )


class InsertedSummary(nagiosplugin.Summary):
    def __init__(self, window: str, min_events: float) -> None:
        self.window = window
        self.min_events = min_events

    def _ratio(self, results: nagiosplugin.Results) -> str:
        ratio = output.worst(results, "ratio")
        counts = {r.metric.name: r.metric.value for r in output.by_context(results, "count")}
        valid, duplicate = counts.get("valid", 0), counts.get("duplicate", 0)
        stored = counts.get("inserted", 0) + duplicate
        if ratio is None:
            return (
                f"{output.num(valid)} valid events over {self.window}, fewer than --min-events "
                f"{output.num(self.min_events)}: not judged"
            )
        what = "inserted or already stored" if duplicate else "inserted"
        text = (
            f"{output.num(100 * ratio.metric.value)}% of valid events {what} over "
            f"{self.window} ({output.num(stored)} of {output.num(valid)}"
        )
        text += f", {output.num(duplicate)} of them duplicates)" if duplicate else ")"
        if counts.get("spooled"):
            text += f", {output.num(counts['spooled'])} spooled"
        return text

    def ok(self, results: nagiosplugin.Results) -> str:
        return self._ratio(results)

    def problem(self, results: nagiosplugin.Results) -> str:
        unknown = output.unknown_text(results)
        if unknown:
            return unknown
        text = self._problem(results)
        for measure, what in reversed(HEALTH.items()):
            found = output.worst(results, measure)
            if found is not None and found.state != nagiosplugin.Ok:
                text = f"{output.num(found.metric.value)} {what}; {text}"
        return text

    def _problem(self, results: nagiosplugin.Results) -> str:
        stalled = output.worst(results, "stall")
        if stalled is not None and stalled.state == nagiosplugin.Critical:
            value = stalled.metric.value
            text = (
                f"nothing inserted for the last {output.num(value.seconds)} s while "
                f"{output.num(value.valid)} valid events arrived: the forwarder stopped "
                "writing or the database is stuck"
            )
            if value.spooled:
                text += f" ({output.num(value.spooled)} spooled)"
            return f"{text}; {self._ratio(results)}"
        ratio = output.worst(results, "ratio")
        text = self._ratio(results)
        if ratio is not None and ratio.state != nagiosplugin.Ok:
            text += f", ratio {output.num(ratio.metric.value)} "
            text += compared(ratio.metric.value, ratio.context.failed(ratio))
        return text

    def verbose(self, results: nagiosplugin.Results) -> list[str]:
        lines = [
            f"{r.metric.name}: {output.num(r.metric.value)} events"
            for r in output.by_context(results, "count")
        ]
        stalled = output.worst(results, "stall")
        if stalled is not None and stalled.metric.value.seconds:
            value = stalled.metric.value
            lines.append(
                f"nothing inserted for {output.num(value.seconds)} s at the end of the window "
                f"({output.num(value.valid)} valid events meanwhile)"
            )
        return lines


def build_parser() -> argparse.ArgumentParser:
    parser = options.plugin_parser(
        "check_el_inserted",
        "Valid events reaching the database: the ratio (inserted + duplicate) / valid over the "
        "window (a duplicate's row is stored already: a replay or backfill), and a stall "
        "(nothing inserted nor found already stored while valid events keep arriving) as CRITICAL.",
        warning="0.9:",
        critical="0.5:",
        units="(inserted + duplicate) / valid events (0.9: means under 90%% stored)",
    )
    parser.add_argument(
        "--stalled",
        type=positive_float,
        default=60.0,
        metavar="SECONDS",
        help="CRITICAL when nothing was inserted nor found already stored for this long at the "
        "end of the window while valid events arrived (default: %(default)g)",
    )
    parser.add_argument(
        "--min-events",
        type=float,
        default=10,
        metavar="N",
        help="judge the ratio only with at least N valid events in the window "
        "(default: %(default)g)",
    )
    return parser


def build_check(args: argparse.Namespace, graphite: Graphite) -> nagiosplugin.Check:
    return nagiosplugin.Check(
        Inserted(graphite, args.prefix, args.min_events),
        ValueContext("ratio", args.warning, args.critical),
        StallContext(args.stalled),
        PerfContext("count"),
        PerfContext("unjudged"),
        *(ValueContext(m, Range("0"), None) for m in HEALTH),  # any such count is a WARNING
        InsertedSummary(graphite.window.label(), args.min_events),
    )


def main(argv: Sequence[str] | None = None) -> int:
    return run(NAME, build_parser(), build_check, argv)


if __name__ == "__main__":
    raise SystemExit(main())
