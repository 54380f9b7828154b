"""check_el_backup: the backup chain's verdict for Icinga, the very findings ``el-monitor backup
verify`` prints (``backup.verify.verify_chain``), judged and worded as a plugin.

Every hop of the catalog's ``[backup]`` (``--config``): databases answer and replicas
replicate; each dump directory's newest complete backup is fresh for its ``schedule``
(WARNING past it, CRITICAL past twice it), intact (files against manifests, manifests against
the completion marker), not shrunk against the previous one (``warn_shrink``/``crit_shrink``),
not followed by a partial dump, and matching its source where the range is still whole::

    EL_BACKUP CRITICAL - archive: 2026-12-04T020000Z: NavigationTiming_1_7_0: dump file
    NavigationTiming_1_7_0.sql.gz does not match its manifest ...; 1 more problem; 14 ok
    | archive_age_hours=3.2 archive_bytes=81234567 critical=1 warning=0

The thresholds are the catalog's (one place for ``backup verify``, this plugin and the
timer), so there is no ``-w``/``-c``.  Perfdata: per dumps hop the newest backup's age in
hours and its size, and the number of critical and warning findings.
"""

from __future__ import annotations

import argparse
import datetime
from collections.abc import Iterator, Sequence

import nagiosplugin
from nagiosplugin import Critical, Ok, Unknown, Warn

from el_monitor.argtypes import positive_float
from el_monitor.checks import options, output
from el_monitor.checks.options import DEFAULT_TIMEOUT, PluginParser
from el_monitor.checks.runtime import run_check

NAME = "EL_BACKUP"
FINDING = "finding"
PERF = "perf"
_STATES = (Ok, Warn, Critical, Unknown)  # by Level value


class Chain(nagiosplugin.Resource):
    """Every finding of ``verify_chain``, one metric each, and the hops' figures."""

    def __init__(self, config: str | None, hops: Sequence[str], now: datetime.datetime) -> None:
        self.config, self.hops, self.now = config, tuple(hops), now

    def probe(self) -> Iterator[nagiosplugin.Metric]:
        from el_monitor.backup.findings import Level
        from el_monitor.backup.verify import selected_hops, verify_chain
        from el_monitor.catalog.load import load_catalog

        catalog = load_catalog(self.config)
        findings = verify_chain(selected_hops(catalog, self.hops), self.now, catalog=catalog)
        for index, finding in enumerate(findings):
            yield nagiosplugin.Metric(f"finding{index}", finding, context=FINDING)
            for label, value in finding.perf:
                yield nagiosplugin.Metric(label, value, min=0, context=PERF)
        for level in (Level.CRITICAL, Level.WARNING):
            count = sum(f.level is level for f in findings)
            yield nagiosplugin.Metric(level.name.lower(), count, min=0, context=PERF)


class FindingContext(nagiosplugin.Context):
    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> nagiosplugin.Result:
        return nagiosplugin.Result(_STATES[int(metric.value.level)], None, metric)

    def performance(
        self, metric: nagiosplugin.Metric, resource: object
    ) -> nagiosplugin.Performance | None:
        return None


class PerfContext(nagiosplugin.Context):
    """Figures shown as perfdata, never judged (the findings carry the verdict)."""

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> nagiosplugin.Result:
        return nagiosplugin.Result(Ok, None, metric)

    def performance(
        self, metric: nagiosplugin.Metric, resource: object
    ) -> nagiosplugin.Performance:
        return output.performance(metric.name, metric.value, minimum=0)


def _text(result: nagiosplugin.Result) -> str:
    finding = result.metric.value
    return f"{finding.hop}: {finding.text}"


class ChainSummary(nagiosplugin.Summary):
    def ok(self, results: nagiosplugin.Results) -> str:
        findings = output.by_context(results, FINDING)
        hops = sorted({r.metric.value.hop for r in findings})
        ages = [
            f"{r.metric.name.removesuffix('_age_hours')} {output.num(r.metric.value)} h old"
            for r in output.by_context(results, PERF)
            if r.metric.name.endswith("_age_hours")
        ]
        text = f"{len(hops)} hops verified ({', '.join(hops)})"
        return text + (f"; newest backups: {', '.join(ages)}" if ages else "")

    def problem(self, results: nagiosplugin.Results) -> str:
        findings = output.by_context(results, FINDING)
        bad = [r for r in findings if r.state != Ok]
        if not findings:
            return output.unknown_text(results) or "nothing verified"
        bad.sort(key=lambda r: -int(r.metric.value.level))
        shown = "; ".join(_text(r) for r in bad[:2])
        more = f"; {len(bad) - 2} more problems" if len(bad) > 2 else ""
        return f"{shown}{more}; {len(findings) - len(bad)} ok"

    def verbose(self, results: nagiosplugin.Results) -> list[str]:
        return [r.metric.value.line() for r in output.by_context(results, FINDING)]


def build_parser() -> argparse.ArgumentParser:
    parser = PluginParser(
        prog="check_el_backup",
        description="The backup chain of the catalog's [backup]: databases reachable and "
        "replicating, each dump directory's newest complete backup fresh, intact, not "
        "shrunk, not followed by a partial dump, and matching its source. The same verdict "
        "as el-monitor backup verify; thresholds come from the catalog.",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="catalog TOML with [[backup.hop]] (default: el-monitor.toml if present)",
    )
    parser.add_argument(
        "--hop", action="append", default=[], metavar="NAME", help="only this hop (repeatable)"
    )
    parser.add_argument(
        "-t",
        "--timeout",
        type=positive_float,
        default=DEFAULT_TIMEOUT * 6,
        metavar="SECONDS",
        help="give up (UNKNOWN) after this long: reading the dumps and the source "
        "included (default: %(default)g)",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="one line per finding; -vv tracebacks"
    )
    options.add_now(parser)
    return parser


def build_check(args: argparse.Namespace) -> nagiosplugin.Check:
    now = args.now or datetime.datetime.now(datetime.UTC)
    return nagiosplugin.Check(
        Chain(args.config, args.hop, now),
        FindingContext(FINDING),
        PerfContext(PERF),
        ChainSummary(),
    )


def main(argv: Sequence[str] | None = None) -> int:
    return run_check(NAME, build_parser(), build_check, lambda _: "the backup chain", argv)


if __name__ == "__main__":
    raise SystemExit(main())
