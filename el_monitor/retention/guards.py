"""Checks that stop a retention run before anything changes.

Each catches a mistake that would otherwise destroy data silently or keep it against policy:

* a ``keep``, ``hash`` or extension field that names no column of any of the schema's tables
  (a typo would sanitize away the very field meant to stay; eventlogging_cleaner's guard
  compared the wrong lists and never fired);
* a ``hash`` field whose column cannot hold a hash (a number column);
* a schema ``retention_days`` longer than the policy's maximum (``[defaults]``
  ``retention_days``) without an unexpired extension that covers it;
* with ``max_age_gap``: rows due up to a cutoff more than that many days past the one the
  previous run left the table at — a clock or configuration error rather than a backlog
  (a table no run has handled yet is not checked: its first run is a backlog by nature).
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable, Sequence

from el_monitor.catalog.model import Catalog
from el_monitor.errors import UserError
from el_monitor.retention.extensions import Grant
from el_monitor.retention.plan import TablePlan
from el_monitor.retention.policy import row_time
from el_monitor.store import Store
from el_monitor.store.mapping import field_column
from el_monitor.store.retention_rows import PARTIAL

_TEXT_TYPES = ("char", "text")  # VARCHAR(191), TEXT, CHAR: what a 64-hex hash fits in


class RetentionRefused(UserError):
    """A guard stopped the run; ``problems`` says every reason, one line each."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"retention refused: {problems[0]}{more}")


def check_guards(
    store: Store,
    catalog: Catalog,
    plans: Sequence[TablePlan],
    grants: Iterable[Grant],
    now: datetime.datetime,
    max_age_gap: float | None = None,
) -> list[str]:
    """Every reason to refuse the run; empty when it may go on."""
    today = now.astimezone(datetime.UTC).date()
    active = [g for g in grants if g.active(today)]
    by_schema: dict[str, list[TablePlan]] = defaultdict(list)
    for plan in plans:
        by_schema[plan.schema].append(plan)
    problems: list[str] = []
    for schema, tables in by_schema.items():
        problems += _unknown_fields(schema, tables, [g for g in active if g.schema == schema])
        problems += _hash_types(store, tables)
        problems += _too_long(catalog, schema, [g for g in active if g.schema == schema])
    if max_age_gap is not None:
        for plan in plans:
            problems += _age_gap(plan, max_age_gap)
    return problems


def _unknown_fields(schema: str, tables: Sequence[TablePlan], grants: Sequence[Grant]) -> list[str]:
    have = {lower for plan in tables for lower in plan.columns}
    rules = tables[0].rules
    lists = [("keep", rules.keep), ("hash", rules.hash)]
    lists += [(f"extension ({g.describe()})", g.fields) for g in grants]
    names = ", ".join(plan.table for plan in tables)
    return [
        f"{schema}: {what} field {name!r} names no column of its tables ({names}); "
        "fix the catalog or the extension"
        for what, fields in lists
        for name in fields
        if field_column(name).lower() not in have
    ]


def _hash_types(store: Store, tables: Sequence[TablePlan]) -> list[str]:
    problems = []
    for plan in tables:
        wanted = {field_column(f).lower(): f for f in plan.rules.hash}
        if not wanted:
            continue
        for column in store.columns(plan.table):
            field = wanted.get(column.name.lower())
            if field is not None and not any(t in column.sql_type.lower() for t in _TEXT_TYPES):
                problems.append(
                    f"{plan.table}: hash field {field!r} is a {column.sql_type} column, which "
                    "cannot hold a hash; keep it, or leave it out to have it nulled"
                )
    return problems


def _too_long(catalog: Catalog, schema: str, grants: Sequence[Grant]) -> list[str]:
    days, limit = catalog.policy(schema).retention_days, catalog.defaults.retention_days
    if days <= limit or any(g.retention_days >= days for g in grants):
        return []
    return [
        f"{schema}: retention_days {days} is longer than the policy's {limit} ([defaults] "
        "retention_days) and no unexpired extension covers it; record one (el-monitor "
        "retention extend) or shorten it"
    ]


def _age_gap(plan: TablePlan, max_days: float) -> list[str]:
    before = plan.previous
    if before is None:
        return []
    last_run = datetime.datetime.strptime(before.last_run, "%Y-%m-%dT%H:%M:%SZ")
    last_run = last_run.replace(tzinfo=datetime.UTC)
    problems = []
    for step in plan.steps:
        if not step.due.rows:
            continue
        if step.marker_to == PARTIAL:
            left = last_run - datetime.timedelta(days=before.policy.first_days)
        else:
            left = row_time(before.policy.cutoff)
        gap = (row_time(step.cutoff) - left).total_seconds() / 86400
        if gap > max_days:
            problems.append(
                f"{plan.table}: {step.due.rows} rows due up to {step.cutoff}, {gap:.1f} days "
                f"past where the last run ({before.last_run}) left it; more than --max-age-gap "
                f"{max_days:g}: a clock or configuration error? (a larger gap if meant)"
            )
    return problems
