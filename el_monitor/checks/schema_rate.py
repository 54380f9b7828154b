"""check_el_schema_rate: every schema's raw rate against its own limit, naming the owners to call.

The limit is the catalog's ``max_rate`` (``--config``; a schema the catalog does not name gets
its ``[defaults]``): CRITICAL at ``max_rate``, WARNING at 75% of it.  ``-w``/``-c`` replace
those for every schema.  As in check_el_rate, a state needs ``--percent`` of the window's
points outside the range.  Each offending schema is named with its owners::

    EL_SCHEMA_RATE CRITICAL - NavigationTiming 243.1/s > 200 (8 of 10 points;
    owners: perf-team@example.org)

Perfdata: one value per schema, labelled by the schema name, with that schema's thresholds.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import nagiosplugin
from nagiosplugin import Range

from el_monitor.checks import options, output
from el_monitor.checks.acquire import Frame, Graphite
from el_monitor.checks.judge import Points, Thresholds, Verdict, WindowContext, compared
from el_monitor.checks.runtime import run
from el_monitor.graphite import names

if TYPE_CHECKING:
    from el_monitor.catalog.model import Catalog

NAME = "EL_SCHEMA_RATE"
RAW_RATES = names.metric(names.schema_scope("*"), "raw", names.RATE)
WARNING_SHARE = 0.75  # of max_rate, when only max_rate is known


class SchemaRates(nagiosplugin.Resource):
    """Every schema's raw rate over the window, one series per schema, in one request."""

    def __init__(self, graphite: Graphite, prefix: str) -> None:
        self.graphite = graphite
        self.prefix = prefix

    def probe(self) -> Iterator[nagiosplugin.Metric]:
        frame = Frame(self.graphite.render([names.summed(self.prefix, RAW_RATES)]))
        if not frame:
            raise self.graphite.no_data(names.full_name(self.prefix, RAW_RATES))
        for (schema,), series in frame.matching(RAW_RATES).items():
            points = Points(tuple(series.values()))
            yield nagiosplugin.Metric(schema, points, context="schema_rate")


class SchemaRateContext(WindowContext):
    """Thresholds per schema: ``-w``/``-c`` if given, else from the catalog's ``max_rate``."""

    def __init__(
        self,
        catalog: Catalog,
        warning: Range | None,
        critical: Range | None,
        percent: float,
    ) -> None:
        super().__init__("schema_rate", warning, critical, percent)
        self.catalog = catalog

    def thresholds(self, metric: nagiosplugin.Metric) -> Thresholds:
        max_rate = self.catalog.policy(metric.name).max_rate
        warning = self.warning
        if warning is None:
            warning = Range(output.perf_num(max_rate * WARNING_SHARE))
        critical = self.critical
        if critical is None:
            critical = Range(output.perf_num(max_rate))
        return warning, critical

    def owners(self, schema: str) -> str:
        owners = self.catalog.policy(schema).owners
        return "owners: " + ", ".join(owners) if owners else "no owners in the catalog"


class SchemaRateSummary(nagiosplugin.Summary):
    """Each offending schema with its rate, limit and owners; criticals first."""

    def __init__(self, window: str) -> None:
        self.window = window

    def ok(self, results: nagiosplugin.Results) -> str:
        rated = [r for r in output.by_context(results, "schema_rate") if r.metric.value.values]
        line = f"{len(rated)} schemas within their rate limits over {self.window}"
        if rated:
            top = max(rated, key=lambda r: r.metric.value.mean)
            _, critical = top.context.thresholds(top.metric)
            limit = f" (limit {output.range_text(critical)})" if critical is not None else ""
            line += f"; highest: {top.metric.name} {output.num(top.metric.value.mean)}/s{limit}"
        return line

    def problem(self, results: nagiosplugin.Results) -> str:
        unknown = output.unknown_text(results)
        if unknown:
            return unknown
        bad = output.problems(results, "schema_rate")
        critical = [self._one(r) for r in bad if r.state == nagiosplugin.Critical]
        warning = [self._one(r) for r in bad if r.state == nagiosplugin.Warn]
        if critical and warning:
            return "; ".join(critical) + "; warning: " + "; ".join(warning)
        return "; ".join(critical or warning)

    @staticmethod
    def _one(result: nagiosplugin.Result) -> str:
        """``Name 243.1/s > 200 (8 of 10 points; owners: ...)``: the mean against the range
        most of its points crossed, or the verdict alone when the mean stays within it."""
        metric = result.metric
        verdict: Verdict = result.hint
        mean = metric.value.mean
        text = f"{metric.name} {output.num(mean)}/s"
        if verdict.range is not None and not verdict.range.match(mean):
            text += f" {compared(mean, verdict.range)} ({verdict.crossed} of "
            text += f"{verdict.total} points"
        else:
            text += f" ({verdict}"
        return f"{text}; {result.context.owners(metric.name)})"

    def verbose(self, results: nagiosplugin.Results) -> list[str]:
        lines = []
        for result in output.by_context(results, "schema_rate"):
            metric = result.metric
            warning, critical = result.context.thresholds(metric)
            rate = f"{output.num(metric.value.mean)}/s" if metric.value.values else "no data"
            lines.append(
                f"{metric.name}: {rate}, {str(result.state).upper()}, "
                f"warning {output.range_text(warning)} critical {output.range_text(critical)}, "
                f"{result.hint}; {result.context.owners(metric.name)}"
            )
        return lines


def build_parser() -> argparse.ArgumentParser:
    parser = options.plugin_parser(
        "check_el_schema_rate",
        "Each schema's raw event rate (events/s, summed over every forwarder) against its "
        "catalog max_rate, naming every offending schema with its owners.",
        warning=None,
        critical=None,
        units="events/s, for every schema",
        epilog="Without -w/-c each schema is CRITICAL at its catalog max_rate and WARNING at "
        f"{WARNING_SHARE:.0%} of it;\n-w/-c replace those for every schema. A schema the "
        "catalog does not name gets [defaults].",
    )
    options.add_percent(parser)
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="catalog TOML with max_rate and owners (default: el-monitor.toml if present)",
    )
    return parser


def build_check(args: argparse.Namespace, graphite: Graphite) -> nagiosplugin.Check:
    from el_monitor.catalog.load import load_catalog  # slow to import; not needed for --help

    catalog = load_catalog(args.config)
    return nagiosplugin.Check(
        SchemaRates(graphite, args.prefix),
        SchemaRateContext(catalog, args.warning, args.critical, args.percent),
        SchemaRateSummary(graphite.window.label()),
    )


def main(argv: Sequence[str] | None = None) -> int:
    return run(NAME, build_parser(), build_check, argv)


if __name__ == "__main__":
    raise SystemExit(main())
