"""The pre-steps of ``retention run``, before any row changes: the rollups (computed while
the rows still hold every field), then the event logs and the stored error examples, judged
by the same rules as the tables (``RunPlan.rules_for``), so a schema's records in a log file
go when and as its rows do."""

from __future__ import annotations

import datetime
import hmac
import logging
import os
import secrets
from hashlib import sha256

from el_monitor.retention.aggregate import roll_up
from el_monitor.retention.examples import clear_old_examples
from el_monitor.retention.logfiles import DELETE, REWRITE, clean_log_files
from el_monitor.retention.plan import PreStep, RunPlan, TablePlan
from el_monitor.retention.policy import row_time
from el_monitor.retention.records import KEEP, Hasher, SchemaRules, Stage

log = logging.getLogger(__name__)


def rollup_step(plan: RunPlan) -> str:
    """Compute the catalog's rollups of every schema with rows about to lose detail: the
    periods from where the last executed run left off (its first cutoff) to this run's.  A
    dry run only says which; it writes no rollup table."""
    done = []
    for schema in sorted({table.schema for table in plan.tables}):
        policy = plan.catalog.policy(schema)
        if not policy.aggregate:
            continue
        tables = [t for t in plan.tables if t.schema == schema]
        before = row_time(plan.rules_for(schema).first_cutoff)
        since = _rolled_up_until(tables)
        if not plan.execute:
            start = "the oldest row" if since is None else f"{since:%Y-%m-%d}"
            rules = ", ".join(rule.name for rule in policy.aggregate)
            done.append(f"{schema} ({rules}) from {start} to {before:%Y-%m-%d}")
            continue
        names = [t.table for t in tables]
        for result in roll_up(plan.store, policy, before, since, names):
            done.append(f"{result.table} ({len(result.periods)} periods, {result.events:,} rows)")
    verb = "computed" if plan.execute else "would be computed"
    return f"rollups {verb}: {'; '.join(done)}" if done else "rollups: none due"


def _rolled_up_until(tables: list[TablePlan]) -> datetime.datetime | None:
    """Where the last executed run's first cutoff lay: rows older may have lost detail and
    their periods were rolled up then.  None when no table of the schema was handled yet."""
    ends = [
        row_time(t.previous.policy.cutoff)
        + datetime.timedelta(days=t.previous.policy.retention_days - t.previous.policy.first_days)
        for t in tables
        if t.previous is not None
    ]
    return min(ends, default=None)


def log_rules(plan: RunPlan, schema: str) -> SchemaRules:
    """A schema's table rules as log-record stages: sanitized to keep + an extension's fields
    at the normal retention when an extension keeps fields longer, then handled for good."""
    rules = plan.rules_for(schema)
    final = Stage(row_time(rules.cutoff), rules.keep, rules.hash)
    if not rules.partial:
        return SchemaRules((final,))
    first = Stage(row_time(rules.first_cutoff), (*rules.keep, *rules.extended), rules.hash)
    return SchemaRules((first, final))


def _shortest_days(plan: RunPlan) -> int:
    """The shortest retention in the catalog: raw text (all and invalid logs, error examples)
    is kept no longer than any schema's rows."""
    days = [plan.catalog.defaults.retention_days]
    days += [policy.retention_days for policy in plan.catalog.schemas.values()]
    return min(days)


def _dry_run_hasher() -> Hasher:
    """A dry run records no salt: hashes under a key that dies with the process, only
    computed to count what a real run would sanitize."""
    key = secrets.token_bytes(32)
    return lambda value, _when: hmac.new(key, value.encode(), sha256).hexdigest()


def log_step(directory: str | os.PathLike[str]) -> PreStep:
    """Clean the event logs of ``directory``: files deleted, or rewritten record by record."""

    def step(plan: RunPlan) -> str:
        hasher = plan.hasher.hash if plan.hasher is not None else _dry_run_hasher()
        cleaning = clean_log_files(
            directory,
            lambda schema: log_rules(plan, schema),
            hasher,
            plan.now.astimezone(datetime.UTC),
            default_days=plan.catalog.defaults.retention_days,
            shortest_days=_shortest_days(plan),
            execute=plan.execute,
        )
        for failed in cleaning.failed:
            log.error("retention: %s left as it was: %s", failed.path, failed.error)
        done = [f for f in cleaning.files if f.error is None]
        deleted = sum(f.action == DELETE for f in done)
        rewritten = [f for f in done if f.action == REWRITE]
        verb = "" if plan.execute else "would be "
        line = (
            f"log files: {deleted} {verb}deleted, {len(rewritten)} {verb}rewritten "
            f"({sum(f.sanitized for f in rewritten):,} records sanitized, "
            f"{sum(f.removed for f in rewritten):,} removed), "
            f"{sum(f.action == KEEP for f in done) + cleaning.recent} within retention"
        )
        if cleaning.failed:
            line += f"; {len(cleaning.failed)} could not be changed (see the log)"
        return line

    return step


def examples_step(plan: RunPlan) -> str:
    """Drop the stored error examples past the shortest retention."""
    cleaning = clear_old_examples(
        plan.store, plan.now.astimezone(datetime.UTC),
        shortest_days=_shortest_days(plan), execute=plan.execute,
    )  # fmt: skip
    verb = "cleared" if plan.execute else "would be cleared"
    return (
        f"error examples: {cleaning.cleared:,} {verb} "
        f"(hours before {cleaning.before:%Y-%m-%d %H:%M} UTC)"
    )
