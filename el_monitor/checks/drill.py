"""check_el_drill: has a failover drill passed lately?  Drills are six-monthly (a timer runs
``el-monitor drill failover``), so the age of the last successful one in the drill log is
judged against ``-w 183 -c 366`` (days)::

    EL_DRILL WARNING - last successful failover drill 190.2 days ago (> 183), on 2026-01-01
    | last_success_days=190.2;183;366;0

No successful drill in the log is CRITICAL; a drill that failed after the last success is
said in the text (and makes an OK at least WARNING: the failover is not known to work
today).  Reads the log's JSON records only; a log directory that does not exist is UNKNOWN
(``--log-dir`` is wrong, or no drill ever ran on this host).
"""

from __future__ import annotations

import argparse
import datetime
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import nagiosplugin
from nagiosplugin import Critical, Ok, Warn

from el_monitor.backup.drill_log import DEFAULT_DIR
from el_monitor.checks import options
from el_monitor.checks.judge import ValueContext, compared, judge_value
from el_monitor.checks.output import num, unknown_text, worst
from el_monitor.checks.runtime import run_check

NAME = "EL_DRILL"
AGE = "last_success_days"


class DrillAge(NamedTuple):
    """The last successful drill's age, and the last drill when it came after and failed."""

    days: float | None  # None: no drill ever passed
    passed_on: str | None
    failed_since: str | None  # "2026-06-01 (aborted: ...)"


class DrillLog(nagiosplugin.Resource):
    def __init__(self, directory: str, kind: str, now: datetime.datetime) -> None:
        self.directory, self.kind, self.now = directory, kind, now

    def probe(self) -> Iterator[nagiosplugin.Metric]:
        from el_monitor.backup.drill_log import last

        if not Path(self.directory).is_dir():
            raise nagiosplugin.CheckError(
                f"no drill log at {self.directory}: check --log-dir (has a drill run here?)"
            )
        passed = last(self.directory, self.kind, passed=True)
        latest = last(self.directory, self.kind)
        failed = None
        if latest is not None and not latest.passed:
            failed = f"{latest.started[:10]} ({latest.outcome}: {latest.error or 'see its report'})"
        if passed is None:
            yield nagiosplugin.Metric(AGE, DrillAge(None, None, failed), context=AGE)
            return
        days = (self.now - passed.started_at).total_seconds() / 86400
        yield nagiosplugin.Metric(AGE, DrillAge(days, passed.started[:10], failed), context=AGE)


class AgeContext(ValueContext):
    """Days since the last success against ``-w``/``-c``; never passed is CRITICAL; a failed
    drill since makes OK a WARNING."""

    def value(self, metric: nagiosplugin.Metric) -> float:
        days: float | None = metric.value.days
        return float("nan") if days is None else days

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> nagiosplugin.Result:
        age: DrillAge = metric.value
        if age.days is None:
            return nagiosplugin.Result(Critical, None, metric)
        state = judge_value(age.days, self.warning, self.critical)
        if state == Ok and age.failed_since:
            state = Warn
        return nagiosplugin.Result(state, None, metric)


class DrillSummary(nagiosplugin.Summary):
    def __init__(self, kind: str) -> None:
        self.kind = kind

    def ok(self, results: nagiosplugin.Results) -> str:
        return self._text(results)

    def problem(self, results: nagiosplugin.Results) -> str:
        return unknown_text(results) or self._text(results)

    def _text(self, results: nagiosplugin.Results) -> str:
        result = worst(results, AGE)
        assert result is not None
        age: DrillAge = result.metric.value
        if age.days is None:
            text = f"no successful {self.kind} drill in the log"
        else:
            text = f"last successful {self.kind} drill {num(age.days)} days ago"
            limit = result.context.failed(result) if result.state != Ok else None
            if limit is not None and judge_value(age.days, limit, None) != Ok:
                text += f" {compared(age.days, limit)}"
            text += f", on {age.passed_on}"
        if age.failed_since:
            text += f"; the last drill failed: {age.failed_since}"
        return text


def build_parser() -> argparse.ArgumentParser:
    parser = options.base_parser(
        "check_el_drill",
        "Drills kept up: the days since the last successful drill in the drill log "
        "(el-monitor drill failover or forwarder --report-dir); CRITICAL when none ever passed.",
        warning="183",
        critical="366",
        units="days since the last successful drill",
        waits_for="reading the log",
    )
    parser.add_argument(
        "--log-dir",
        default=DEFAULT_DIR,
        metavar="DIR",
        help=f"the drill log (default: {DEFAULT_DIR})",
    )
    parser.add_argument(
        "--kind", default="failover", metavar="KIND", help="the drill (default: failover)"
    )
    options.add_now(parser)
    return parser


def build_check(args: argparse.Namespace) -> nagiosplugin.Check:
    now = args.now or datetime.datetime.now(datetime.UTC)
    return nagiosplugin.Check(
        DrillLog(args.log_dir, args.kind, now),
        AgeContext(AGE, args.warning, args.critical),
        DrillSummary(args.kind),
    )


def _source(args: argparse.Namespace) -> str:
    return f"the drill log {args.log_dir}"


def main(argv: Sequence[str] | None = None) -> int:
    return run_check(NAME, build_parser(), build_check, _source, argv)


if __name__ == "__main__":
    raise SystemExit(main())
