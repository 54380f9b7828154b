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

from el_monitor.checks import common
from el_monitor.graphite import names

if TYPE_CHECKING:
    from el_monitor.catalog.model import Catalog

NAME = "EL_SCHEMA_RATE"
RAW_RATES = names.metric(names.schema_scope("*"), "raw", names.RATE)
WARNING_SHARE = 0.75  # of max_rate, when only max_rate is known


class SchemaRates(nagiosplugin.Resource):
    """Every schema's raw rate over the window, one series per schema, in one request."""

    def __init__(self, graphite: common.Graphite, prefix: str) -> None:
        self.graphite = graphite
        self.prefix = prefix

    def probe(self) -> Iterator[nagiosplugin.Metric]:
        frame = common.Frame(self.graphite.render([names.summed(self.prefix, RAW_RATES)]))
        if not frame:
            raise nagiosplugin.CheckError(
                f"no data for {self.prefix}.*.schema.*.raw.rate over "
                f"{self.graphite.window.label()} in Graphite {self.graphite.url}: "
                "is any forwarder sending metrics there?"
            )
        for schema, *rest in sorted(frame.names("schema")):
            points = common.Points(tuple(frame.values("schema", schema, *rest)))
            yield nagiosplugin.Metric(schema, points, context="schema_rate")


class SchemaRateContext(common.WindowContext):
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

    def thresholds(self, metric: nagiosplugin.Metric) -> tuple[Range | None, Range | None]:
        max_rate = self.catalog.policy(metric.name).max_rate
        warning = self.warning
        if warning is None:
            warning = Range(common.perf_num(max_rate * WARNING_SHARE))
        critical = self.critical
        if critical is None:
            critical = Range(common.perf_num(max_rate))
        return warning, critical

    def owners(self, schema: str) -> str:
        owners = self.catalog.policy(schema).owners
        return "owners: " + ", ".join(owners) if owners else "no owners in the catalog"


class SchemaRateSummary(nagiosplugin.Summary):
    """Each offending schema with its rate, limit and owners; criticals first."""

    def __init__(self, window: str) -> None:
        self.window = window

    def ok(self, results: nagiosplugin.Results) -> str:
        rated = [r for r in common.by_context(results, "schema_rate") if r.metric.value.values]
        line = f"{len(rated)} schemas within their rate limits over {self.window}"
        if rated:
            top = max(rated, key=lambda r: r.metric.value.mean)
            _, critical = top.context.thresholds(top.metric)
            limit = f" (limit {common.range_text(critical)})" if critical is not None else ""
            line += f"; highest: {top.metric.name} {common.num(top.metric.value.mean)}/s{limit}"
        return line

    def problem(self, results: nagiosplugin.Results) -> str:
        unknown = common.unknown_text(results)
        if unknown:
            return unknown
        bad = common.problems(results, "schema_rate")
        critical = [self._one(r) for r in bad if r.state == nagiosplugin.Critical]
        warning = [self._one(r) for r in bad if r.state == nagiosplugin.Warn]
        if critical and warning:
            return "; ".join(critical) + "; warning: " + "; ".join(warning)
        return "; ".join(critical or warning)

    @staticmethod
    def _one(result: nagiosplugin.Result) -> str:
        metric, verdict = result.metric, result.hint
        mean = metric.value.mean
        text = f"{metric.name} {common.num(mean)}/s"
        if not verdict.range.match(mean):
            text += f" {common.compared(mean, verdict.range)} ({verdict.crossed} of "
            text += f"{verdict.total} points"
        else:
            text += f" ({verdict}"
        return f"{text}; {result.context.owners(metric.name)})"

    def verbose(self, results: nagiosplugin.Results) -> list[str]:
        lines = []
        for result in common.by_context(results, "schema_rate"):
            metric = result.metric
            warning, critical = result.context.thresholds(metric)
            rate = f"{common.num(metric.value.mean)}/s" if metric.value.values else "no data"
            lines.append(
                f"{metric.name}: {rate}, {str(result.state).upper()}, "
                f"warning {common.range_text(warning)} critical {common.range_text(critical)}, "
                f"{result.hint}; {result.context.owners(metric.name)}"
            )
        return lines


def build_parser() -> argparse.ArgumentParser:
    parser = common.plugin_parser(
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
    common.add_percent(parser)
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="catalog TOML with max_rate and owners (default: el-monitor.toml if present)",
    )
    return parser


def build_check(args: argparse.Namespace, graphite: common.Graphite) -> nagiosplugin.Check:
    from el_monitor.catalog.load import load_catalog  # slow to import; not needed for --help

    catalog = load_catalog(args.config)
    return nagiosplugin.Check(
        SchemaRates(graphite, args.prefix),
        SchemaRateContext(catalog, args.warning, args.critical, args.percent),
        SchemaRateSummary(graphite.window.label()),
    )


def main(argv: Sequence[str] | None = None) -> int:
    return common.run(NAME, build_parser(), build_check, argv)


if __name__ == "__main__":
    raise SystemExit(main())
