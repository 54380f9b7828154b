"""check_el_rate: is the overall raw event rate too high?  Names the schemas behind it.

The rate is ``raw`` events/s summed over every forwarder.  A state needs ``--percent`` of the
window's points outside the range (default half), so one spike does not page.  The same request
fetches every schema's rate, and the status line names the top three by mean::

    EL_RATE CRITICAL - 243.1 events/s over the last 10min (8 of 10 points above 200);
    top: NavigationTiming 180.2/s, EditAttemptStep 40.3/s | rate=243.1;150;200;0 ...

Perfdata: ``rate`` (the window's mean) with the thresholds, and each top schema's mean rate.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence

import nagiosplugin

from el_monitor.checks import options, output
from el_monitor.checks.acquire import Frame, Graphite
from el_monitor.checks.judge import PerfContext, Points, WindowContext
from el_monitor.checks.runtime import run
from el_monitor.graphite import names

NAME = "EL_RATE"
OVERALL_RATE = names.metric(names.OVERALL, "raw", names.RATE)
SCHEMA_RATES = names.metric(names.schema_scope("*"), "raw", names.RATE)
TOP = 3


class EventRate(nagiosplugin.Resource):
    """The overall raw rate's points and each schema's mean rate, in one render request."""

    def __init__(self, graphite: Graphite, prefix: str) -> None:
        self.graphite = graphite
        self.prefix = prefix

    def probe(self) -> Iterator[nagiosplugin.Metric]:
        frame = Frame(
            self.graphite.render(
                [names.summed(self.prefix, OVERALL_RATE), names.summed(self.prefix, SCHEMA_RATES)]
            )
        )
        overall = frame.values(OVERALL_RATE)
        if not overall:
            raise self.graphite.no_data(names.full_name(self.prefix, OVERALL_RATE))
        yield nagiosplugin.Metric("rate", Points(tuple(overall)), context="rate")
        means: list[tuple[float, str]] = []
        for (schema,), series in frame.matching(SCHEMA_RATES).items():
            values = series.values()
            if values:
                means.append((sum(values) / len(values), schema))
        means.sort(key=lambda item: (-item[0], item[1]))
        for rank, (mean, schema) in enumerate(means):
            context = "top" if rank < TOP else "other"
            yield nagiosplugin.Metric(schema, mean, min=0, context=context)


class RateSummary(nagiosplugin.Summary):
    """``243.1 events/s over the last 10min (8 of 10 points above 200); top: ...``."""

    def __init__(self, window: str) -> None:
        self.window = window

    def ok(self, results: nagiosplugin.Results) -> str:
        return self._line(results)

    def problem(self, results: nagiosplugin.Results) -> str:
        return output.unknown_text(results) or self._line(results)

    def _line(self, results: nagiosplugin.Results) -> str:
        rate = output.by_context(results, "rate")[0]
        points: Points = rate.metric.value
        line = f"{points} events/s over {self.window} ({rate.hint})"  # str(): the mean
        top = [r.metric for r in results if r.metric is not None and r.metric.context == "top"]
        top.sort(key=lambda m: -m.value)
        if top:
            line += "; top: " + ", ".join(f"{m.name} {output.num(m.value)}/s" for m in top)
        return line

    def verbose(self, results: nagiosplugin.Results) -> list[str]:
        lines = []
        for rate in output.by_context(results, "rate"):
            points: Points = rate.metric.value
            lines.append(
                f"overall: mean {points}/s, peak {output.num(max(points.values))}/s, {rate.hint}"
            )
        schemas = [
            r.metric
            for r in results
            if r.metric is not None and r.metric.context in ("top", "other")
        ]
        for metric in sorted(schemas, key=lambda m: -m.value):
            lines.append(f"{metric.name}: {output.num(metric.value)}/s")
        return lines


def build_parser() -> argparse.ArgumentParser:
    parser = options.plugin_parser(
        "check_el_rate",
        "Overall raw EventLogging event rate (events/s, summed over every forwarder) against "
        "-w/-c; the status line names the schemas contributing most.",
        warning="150",
        critical="200",
        units="events/s",
    )
    options.add_percent(parser)
    return parser


def build_check(args: argparse.Namespace, graphite: Graphite) -> nagiosplugin.Check:
    return nagiosplugin.Check(
        EventRate(graphite, args.prefix),
        WindowContext("rate", args.warning, args.critical, args.percent),
        PerfContext("top"),
        nagiosplugin.Context("other"),
        RateSummary(graphite.window.label()),
    )


def main(argv: Sequence[str] | None = None) -> int:
    return run(NAME, build_parser(), build_check, argv)


if __name__ == "__main__":
    raise SystemExit(main())
