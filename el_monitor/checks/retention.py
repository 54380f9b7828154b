"""check_el_retention: is the retention policy kept?  Old rows gone or sanitized, and the daily
run still succeeding.

Per event table (every one in the database, old revisions too), the oldest row still holding
what the policy says must be gone — not deleted, or not sanitized (to ``keep``, or to ``keep``
and an extension's fields first) — is judged by how many days it is past the retention that
applies to it now (catalog ``retention_days``, an unexpired extension's when longer).  ``-w 1
-c 7`` (days): a daily run leaves rows at most a day past policy before the next one, so more
than a day late means a run was missed, more than a week that retention is not working.  A
table retention has never handled (no row in ``el_monitor_retention_state``) with rows past
policy is CRITICAL whatever ``-c`` says, naming the table: nothing enforces the policy there::

    EL_RETENTION CRITICAL - retention has never run on Edit_1 (oldest row 110.5 days past its
    90-day retention) | Edit_1=110.5;1;7;0 last_success_hours=U;26;50;0

Then the age of the last successful run: per table the state's ``last_success`` (a run that
failed on a table leaves it behind), the oldest of them against ``--run-warning 26
--run-critical 50`` (hours: the run is daily, so a day plus slack, then a second missed day)::

    EL_RETENTION WARNING - last successful run on Edit_1 30.2 h ago (> 26); 6 tables within
    policy | ...

Perfdata: per table the days its oldest unhandled row is past policy (0 when none is), and
``last_success_hours``.  The rules come from ``--config`` (the catalog ``retention run``
uses) and the extensions recorded in the database; ``--schemas`` names the schemas, so a
table name splits back into schema and revision as ``retention run`` splits it.  Reads only:
no table is created, not even the state table.  A database that does not answer is UNKNOWN.
"""

from __future__ import annotations

import argparse
import datetime
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import nagiosplugin
from nagiosplugin import Critical, Ok

from el_monitor.checks import options, output
from el_monitor.checks.database import opened_database
from el_monitor.checks.judge import ValueContext, compared, judge_value
from el_monitor.checks.runtime import run_check

NAME = "EL_RETENTION"
RUN_AGE = "last_success_hours"


class RunAge(NamedTuple):
    """The table whose last successful run is oldest: ``hours`` None when a run handled it
    but none ever succeeded; ``table`` None when no run has handled any table."""

    hours: float | None
    table: str | None
    error: str | None = None


class Retention(nagiosplugin.Resource):
    """Every event table's status (``retention.status``), read once from the database."""

    def __init__(
        self, db: str, config: str | None, schemas: str | None, now: datetime.datetime
    ) -> None:
        self.db, self.config, self.schemas, self.now = db, config, schemas, now

    def probe(self) -> Iterator[nagiosplugin.Metric]:
        from el_monitor.catalog.load import load_catalog  # slow imports: not for --help
        from el_monitor.retention.status import enforcement
        from el_monitor.schema.registry import DirectoryRegistry, require_schemas
        from el_monitor.store.base import safe_url

        registry, known = None, []
        if self.schemas:
            registry = DirectoryRegistry(self.schemas)
            known = [name for name, _ in require_schemas(registry, self.schemas)]
        catalog = load_catalog(self.config, registry)
        with opened_database(self.db) as store:
            status = enforcement(store, catalog, self.now, known)
        if not status.tables:
            raise nagiosplugin.CheckError(
                f"no event tables in {safe_url(self.db)}: nothing to judge; check --db"
            )
        for table in sorted(status.tables, key=lambda t: t.table):
            yield nagiosplugin.Metric(table.table, table, min=0, context="overdue")
        handled = [t for t in status.tables if not t.never_run]
        ages = [(t.run_age_hours(self.now), t) for t in handled]
        never = [t for age, t in ages if age is None]
        if never:
            state = never[0].state
            age = RunAge(None, never[0].table, state.error if state else None)
        elif ages:
            hours, oldest = max(ages, key=lambda a: a[0] or 0.0)
            age = RunAge(hours, oldest.table)
        else:
            age = RunAge(None, None)
        yield nagiosplugin.Metric(RUN_AGE, age, min=0, context=RUN_AGE)


class OverdueContext(ValueContext):
    """Days past policy against ``-w``/``-c``; a never-run table with rows past policy is
    CRITICAL whatever they say."""

    def value(self, metric: nagiosplugin.Metric) -> float:
        days: float = metric.value.overdue_days
        return days

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> nagiosplugin.Result:
        status = metric.value
        if status.never_run and status.overdue:
            return nagiosplugin.Result(Critical, "never run", metric)
        return super().evaluate(metric, resource)


class RunAgeContext(ValueContext):
    """Hours since the last successful run; CRITICAL when a table was handled but never
    successfully; not judged before any run."""

    def value(self, metric: nagiosplugin.Metric) -> float:
        hours: float | None = metric.value.hours
        return float("nan") if hours is None else hours

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> nagiosplugin.Result:
        age: RunAge = metric.value
        if age.table is None:
            return nagiosplugin.Result(Ok, None, metric)
        if age.hours is None:
            return nagiosplugin.Result(Critical, None, metric)
        state = judge_value(age.hours, self.warning, self.critical)
        return nagiosplugin.Result(state, None, metric)


def _late(result: nagiosplugin.Result) -> str:
    """``Edit_1 (oldest row 3.2 days past its 90-day retention)``."""
    status = result.metric.value
    return (
        f"{status.table} (oldest row {output.num(status.overdue_days)} days past its "
        f"{status.overdue_after}-day retention)"
    )


def _lateness(result: nagiosplugin.Result) -> tuple[int, float, str]:
    """Worst state first, then most days late (to the hundredth), then by name."""
    status = result.metric.value
    return (-int(result.state), -round(status.overdue_days, 2), status.table)


class RetentionSummary(nagiosplugin.Summary):
    def ok(self, results: nagiosplugin.Results) -> str:
        tables = output.by_context(results, "overdue")
        text = f"{len(tables)} tables within policy"
        age = output.worst(results, RUN_AGE)
        if age is None or age.metric.value.table is None:
            return f"{text}; retention has never run (nothing is past policy yet)"
        value = age.metric.value
        return f"{text}; last successful run {output.num(value.hours)} h ago (on {value.table})"

    def problem(self, results: nagiosplugin.Results) -> str:
        unknown = output.unknown_text(results)
        if unknown:
            return unknown
        parts = []
        bad = output.problems(results, "overdue")
        never = sorted((r for r in bad if r.hint == "never run"), key=_lateness)
        late = sorted((r for r in bad if r.hint != "never run"), key=_lateness)
        if never:
            parts.append("retention has never run on " + output.listing([_late(r) for r in never]))
        if late:
            parts.append("overdue: " + output.listing([_late(r) for r in late]))
        age = output.worst(results, RUN_AGE)
        if age is not None and age.state != Ok:
            parts.append(self._run_age(age))
        fine = len(output.by_context(results, "overdue")) - len(bad)
        parts.append(f"{fine} tables within policy")
        return "; ".join(parts)

    def _run_age(self, result: nagiosplugin.Result) -> str:
        value: RunAge = result.metric.value
        if value.hours is None:
            why = f" ({value.error})" if value.error else ""
            return f"retention has never succeeded on {value.table}{why}"
        limit = result.context.failed(result)
        return (
            f"last successful run on {value.table} {output.num(value.hours)} h ago "
            f"{compared(value.hours, limit)}"
        )

    def verbose(self, results: nagiosplugin.Results) -> list[str]:
        lines = []
        for result in output.by_context(results, "overdue"):
            status = result.metric.value
            last = status.state.last_success if status.state else None
            lines.append(
                f"{status.table}: {status.rules.action} after {status.rules.retention_days}d, "
                f"oldest unhandled row {status.oldest.unfinished or '-'}, "
                f"{output.num(status.overdue_days)} days overdue, last success {last or 'never'}"
            )
        return lines


def build_parser() -> argparse.ArgumentParser:
    parser = options.base_parser(
        "check_el_retention",
        "Retention enforced: per event table, how many days its oldest row not yet deleted or "
        "sanitized is past its policy (CRITICAL naming the table when retention has never run "
        "on it), and the hours since the last successful retention run.",
        warning="1",
        critical="7",
        units="days past policy",
        waits_for="the database",
    )
    parser.add_argument(
        "--db",
        required=True,
        metavar="URL",
        help="the event database: sqlite:///path or mysql://user@host:port/db",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="catalog TOML retention run uses (default: el-monitor.toml if present)",
    )
    parser.add_argument(
        "--schemas",
        metavar="DIR",
        help="schema registry directory: the schema names table names split back into",
    )
    for flag, default in (("--run-warning", "26"), ("--run-critical", "50")):
        parser.add_argument(
            flag,
            type=options.nagios_range,
            default=options.nagios_range(default),
            metavar="RANGE",
            help=f"range in hours since the last successful run (default: {default})",
        )
    options.add_now(parser)
    return parser


def build_check(args: argparse.Namespace) -> nagiosplugin.Check:
    now = args.now or datetime.datetime.now(datetime.UTC)
    return nagiosplugin.Check(
        Retention(args.db, args.config, args.schemas, now),
        OverdueContext("overdue", args.warning, args.critical),
        RunAgeContext(RUN_AGE, args.run_warning, args.run_critical),
        RetentionSummary(),
    )


def _source(args: argparse.Namespace) -> str:
    from el_monitor.store.base import safe_url

    return f"the database {safe_url(args.db)}"


def main(argv: Sequence[str] | None = None) -> int:
    return run_check(NAME, build_parser(), build_check, _source, argv)


if __name__ == "__main__":
    raise SystemExit(main())
