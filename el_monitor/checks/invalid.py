"""check_el_invalid: how much of the traffic fails validation, overall and per schema.

``--share`` (the default) judges invalid / (valid + invalid) over the window, in percent:
``-w 5 -c 20`` (a trailing ``%`` is allowed).  ``--rate`` judges the invalid events/s instead
(mean over the window; defaults ``-w 1 -c 10``).  A schema (or the whole) with fewer than
``--min-events`` valid + invalid events in the window is not judged: two bad events out of
three say nothing.  The status line names the worst schemas with their most common error,
read from the forwarders' ``errors.<code>.<path>`` counters::

    EL_INVALID CRITICAL - EditAttemptStep 34% invalid (most: validation at $.action);
    overall 4.2% of 12345 events over the last 10min

Perfdata: ``overall`` and each judged schema, in % (share) or events/s (rate).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import nagiosplugin
from nagiosplugin import Range

from el_monitor.checks import options, output
from el_monitor.checks.acquire import Frame, Graphite
from el_monitor.checks.judge import ValueContext
from el_monitor.checks.runtime import run
from el_monitor.graphite import names

NAME = "EL_INVALID"
SHARE_DEFAULTS = ("5", "20")
RATE_DEFAULTS = ("1", "10")
OVERALL = names.OVERALL
EVERY_SCHEMA = names.schema_scope("*")
SHOWN = 3  # schemas named on the status line


class Invalid(NamedTuple):
    """One scope's invalid traffic over the window; ``value`` is what is judged."""

    value: float  # percent (share) or events/s (rate)
    invalid: float  # events in the window
    total: float  # valid + invalid events in the window
    error: str | None  # the most common error, as "validation at $.action"
    overall: bool = False  # the whole traffic, not one schema


class InvalidEvents(nagiosplugin.Resource):
    """Valid/invalid counts (and rates), and the error counters, in one render request."""

    def __init__(self, graphite: Graphite, prefix: str, rate: bool, min_events: float) -> None:
        self.graphite = graphite
        self.prefix = prefix
        self.rate = rate
        self.min_events = min_events

    def probe(self) -> Iterator[nagiosplugin.Metric]:
        kinds = names.alternatives([names.COUNT, names.RATE] if self.rate else [names.COUNT])
        measures = names.alternatives(["valid", "invalid"])
        frame = Frame(
            self.graphite.render(
                [
                    names.summed(self.prefix, names.metric(OVERALL, measures, kinds)),
                    names.summed(self.prefix, names.metric(EVERY_SCHEMA, measures, kinds)),
                    names.summed(self.prefix, names.error_count(OVERALL)),
                    names.summed(self.prefix, names.error_count(EVERY_SCHEMA)),
                ]
            )
        )
        counted = [
            *frame.values(names.metric(OVERALL, "valid", names.COUNT)),
            *frame.values(names.metric(OVERALL, "invalid", names.COUNT)),
        ]
        if not counted:
            counts = names.metric(OVERALL, measures, names.COUNT)
            raise self.graphite.no_data(names.full_name(self.prefix, counts))
        uom = "" if self.rate else "%"
        yield self._metric(OVERALL, frame, OVERALL, uom)
        answered = [
            *frame.matching(names.metric(EVERY_SCHEMA, "*", "*")),
            *frame.matching(names.error_count(EVERY_SCHEMA)),
        ]
        for schema in sorted({schema for schema, *_ in answered}):
            yield self._metric(schema, frame, names.schema_scope(schema), uom)

    def _metric(self, name: str, frame: Frame, scope: str, uom: str) -> nagiosplugin.Metric:
        invalid = frame.total(names.metric(scope, "invalid", names.COUNT))
        total = invalid + frame.total(names.metric(scope, "valid", names.COUNT))
        if self.rate:
            points = frame.values(names.metric(scope, "invalid", names.RATE))
            value = sum(points) / len(points) if points else 0.0
        else:
            value = 100 * invalid / total if total else 0.0
        errors = {
            key: math.fsum(series.values())
            for key, series in frame.matching(names.error_count(scope)).items()
        }
        top = max(errors.items(), key=lambda item: (item[1], item[0]), default=None)
        error = names.error_text(*top[0]) if top and top[1] > 0 else None
        context = "invalid" if total >= self.min_events and total > 0 else "unjudged"
        return nagiosplugin.Metric(
            name, Invalid(value, invalid, total, error, scope == OVERALL), uom, context=context
        )


class InvalidContext(ValueContext):
    """A scope's share (or rate) against -w/-c; perfdata bounded 0..100 for a share."""

    def __init__(self, warning: Range | None, critical: Range | None, rate: bool) -> None:
        super().__init__("invalid", warning, critical, minimum=0, maximum=None if rate else 100)

    def value(self, metric: nagiosplugin.Metric) -> float:
        invalid: Invalid = metric.value
        return invalid.value


class InvalidSummary(nagiosplugin.Summary):
    """The worst schemas with their most common error, then the overall figure."""

    def __init__(self, window: str, rate: bool, min_events: float) -> None:
        self.window = window
        self.rate = rate
        self.min_events = min_events

    def _value(self, invalid: Invalid) -> str:
        return f"{output.num(invalid.value)}" + (" invalid/s" if self.rate else "% invalid")

    def _one(self, metric: nagiosplugin.Metric) -> str:
        text = f"{metric.name} {self._value(metric.value)}"
        return text + (f" (most: {metric.value.error})" if metric.value.error else "")

    def _overall(self, results: nagiosplugin.Results) -> str:
        for result in results:
            metric = result.metric
            if metric is not None and isinstance(metric.value, Invalid) and metric.value.overall:
                value = metric.value
                if self.rate:
                    what = f"{output.num(value.value)} invalid/s"
                else:
                    what = f"{output.num(value.value)}%"
                text = f"overall {what} of {output.num(value.total)} events over {self.window}"
                if metric.context == "unjudged":
                    text += f" (fewer than --min-events {output.num(self.min_events)}: not judged)"
                elif result.state != nagiosplugin.Ok and value.error:
                    text += f" (most: {value.error})"
                return text
        return f"over {self.window}"

    @staticmethod
    def _schemas(results: nagiosplugin.Results) -> list[nagiosplugin.Result]:
        return [r for r in output.by_context(results, "invalid") if not r.metric.value.overall]

    def ok(self, results: nagiosplugin.Results) -> str:
        line = self._overall(results)
        schemas = [r.metric for r in self._schemas(results) if r.metric.value.invalid > 0]
        if schemas:
            top = max(schemas, key=lambda m: m.value.value)
            line += f"; highest: {self._one(top)}"
        return line

    def problem(self, results: nagiosplugin.Results) -> str:
        unknown = output.unknown_text(results)
        if unknown:
            return unknown
        bad = [r for r in self._schemas(results) if r.state != nagiosplugin.Ok]
        bad.sort(key=lambda r: (-int(r.state), -r.metric.value.value, r.metric.name))
        named = [self._one(r.metric) for r in bad]
        overall = self._overall(results)
        return f"{output.listing(named, SHOWN)}; {overall}" if named else overall

    def verbose(self, results: nagiosplugin.Results) -> list[str]:
        lines = []
        for result in results:
            metric = result.metric
            if metric is None or not isinstance(metric.value, Invalid):
                continue
            value = metric.value
            judged = str(result.state).upper() if metric.context == "invalid" else "not judged"
            lines.append(
                f"{metric.name}: {self._value(value)}, {output.num(value.invalid)} of "
                f"{output.num(value.total)} events, {judged}"
                + (f", most: {value.error}" if value.error else "")
            )
        return lines


def build_parser() -> argparse.ArgumentParser:
    parser = options.plugin_parser(
        "check_el_invalid",
        "Invalid events overall and per schema, as a share of valid + invalid (default) or "
        "as a rate; names the worst schemas and their most common error.",
        warning=None,
        critical=None,
        units="percent with --share, events/s with --rate",
        range_type=options.percent_range,
        defaults_note=(
            f"{SHARE_DEFAULTS[0]}%% with --share, {RATE_DEFAULTS[0]}/s with --rate",
            f"{SHARE_DEFAULTS[1]}%% with --share, {RATE_DEFAULTS[1]}/s with --rate",
        ),
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--share",
        dest="rate",
        action="store_false",
        help="judge invalid / (valid + invalid) in percent over the window (the default)",
    )
    mode.add_argument(
        "--rate",
        dest="rate",
        action="store_true",
        help="judge the invalid events/s (mean over the window)",
    )
    parser.set_defaults(rate=False)
    parser.add_argument(
        "--min-events",
        type=float,
        default=10,
        metavar="N",
        help="judge a schema (or the whole) only with at least N valid + invalid events in "
        "the window (default: %(default)g)",
    )
    return parser


def build_check(args: argparse.Namespace, graphite: Graphite) -> nagiosplugin.Check:
    defaults = RATE_DEFAULTS if args.rate else SHARE_DEFAULTS
    warning = args.warning if args.warning is not None else Range(defaults[0])
    critical = args.critical if args.critical is not None else Range(defaults[1])
    return nagiosplugin.Check(
        InvalidEvents(graphite, args.prefix, args.rate, args.min_events),
        InvalidContext(warning, critical, args.rate),
        nagiosplugin.Context("unjudged"),
        InvalidSummary(graphite.window.label(), args.rate, args.min_events),
    )


def main(argv: Sequence[str] | None = None) -> int:
    return run(NAME, build_parser(), build_check, argv)


if __name__ == "__main__":
    raise SystemExit(main())
