"""What a retention run will do: every event table in the database, its rules, and its steps.

The table list comes from the database (``store_tables``), not the registry, so revisions no
longer in any registry are covered too; each table's schema is read back from its name with
the one inverse of the table-name mapping (``store.mapping.split_table_name``).  Columns are
matched case-insensitively, as MySQL does.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

from el_monitor.catalog.model import Catalog
from el_monitor.retention.extensions import Grant
from el_monitor.retention.hashing import TokenHasher
from el_monitor.retention.policy import ALWAYS_KEPT, DELETE, SANITIZE, Rules, rules_for
from el_monitor.store import Store
from el_monitor.store.mapping import RETENTION_MARKER, field_column, split_table_name
from el_monitor.store.retention import TableState
from el_monitor.store.retention_rows import (
    ANY,
    FINAL,
    PARTIAL,
    DueRows,
    Marker,
    count_due,
    event_tables,
)


@dataclass(frozen=True)
class Step:
    """One pass over a table: rows older than ``cutoff`` with marker ``marker_from``."""

    action: str  # DELETE or SANITIZE
    cutoff: str
    marker_from: Marker
    marker_to: int | None  # None for DELETE
    nulls: tuple[str, ...] = ()  # columns set to NULL
    hashes: tuple[str, ...] = ()  # columns replaced by their HMAC
    due: DueRows = DueRows(0, None)
    since: str | None = None  # counted from here: older rows are another step's


@dataclass(frozen=True)
class TablePlan:
    table: str
    schema: str
    revision: str
    rules: Rules
    columns: Mapping[str, str]  # lower-case name → the table's spelling
    steps: tuple[Step, ...]
    previous: TableState | None  # what the last executed run recorded

    @property
    def needs_marker(self) -> bool:
        return any(step.marker_to is not None for step in self.steps)

    @property
    def has_marker(self) -> bool:
        return RETENTION_MARKER in self.columns

    def due(self, action: str) -> int:
        return sum(step.due.rows for step in self.steps if step.action == action)

    @property
    def oldest_due(self) -> str | None:
        return min((s.due.oldest for s in self.steps if s.due.oldest), default=None)


@dataclass(frozen=True)
class RunPlan:
    """A whole run: handed to the pre-steps (rollups, log files) before any row changes."""

    store: Store
    catalog: Catalog
    now: datetime.datetime
    execute: bool
    tables: tuple[TablePlan, ...]
    grants: tuple[Grant, ...]
    before: datetime.date | None = None  # every cutoff capped at this day
    only: str | None = None  # the one schema this run is about
    hasher: TokenHasher | None = None  # None in a dry run: nothing may be recorded
    notes: list[str] = field(default_factory=list)  # lines the pre-steps want printed

    def rules_for(self, schema: str) -> Rules:
        """The rules of any schema (log files hold schemas without a table too)."""
        return rules_for(self.catalog.policy(schema), self.grants, self.now, self.before)


# What runs after the guards pass and before any row changes, in dry runs too: given the
# plan, it does its work (only counting unless ``plan.execute``) and returns a summary line.
PreStep = Callable[[RunPlan], str]


def columns_of(columns: Mapping[str, str], fields: Iterable[str]) -> tuple[str, ...]:
    """The table's spelling of the columns of ``fields`` it has."""
    found = (columns.get(field_column(f).lower()) for f in fields)
    return tuple(dict.fromkeys(c for c in found if c is not None))


def plan_table(
    store: Store,
    table: str,
    schema: str,
    revision: str,
    rules: Rules,
    columns: Mapping[str, str],
    previous: TableState | None,
) -> TablePlan:
    """The steps for one table, with the rows each would handle now."""
    has_marker = RETENTION_MARKER in columns
    kept = {*ALWAYS_KEPT, RETENTION_MARKER}
    hashes = columns_of(columns, rules.hash)
    final_keep = {c.lower() for c in (*columns_of(columns, rules.keep), *hashes)} | kept
    steps: list[Step] = []
    if rules.action == DELETE:
        steps.append(Step(DELETE, rules.cutoff, ANY, None))
    else:
        nulls = tuple(name for lower, name in columns.items() if lower not in final_keep)
        steps.append(Step(rules.action, rules.cutoff, None, FINAL, nulls, hashes))
        if has_marker:  # rows sanitized but for an extension's fields: now those go too
            steps.append(Step(rules.action, rules.cutoff, PARTIAL, FINAL, nulls))
    if rules.partial:
        first_keep = final_keep | {c.lower() for c in columns_of(columns, rules.extended)}
        nulls = tuple(name for lower, name in columns.items() if lower not in first_keep)
        steps.append(
            Step(SANITIZE, rules.first_cutoff, None, PARTIAL, nulls, hashes, since=rules.cutoff)
        )
    counted = tuple(_counted(store, table, step, has_marker) for step in steps)
    return TablePlan(table, schema, revision, rules, columns, counted, previous)


def _counted(store: Store, table: str, step: Step, has_marker: bool) -> Step:
    """The step with its due rows; a table without the marker has no sanitized row yet.
    The first stage's rows also due for the final one are counted there, not twice."""
    marker = step.marker_from if has_marker else ANY
    since = step.since if step.marker_to == PARTIAL else None
    return replace(step, due=count_due(store, table, step.cutoff, marker, since))


def store_tables(
    store: Store, names: Iterable[str], only: str | None = None
) -> list[tuple[str, str, str, dict[str, str]]]:
    """(table, schema, revision, columns) of every event table, of schema ``only`` if given;
    ``names``: the schema names known (registry and catalog), so the longest one wins."""
    known = set(names)
    out = []
    for table, columns in sorted(event_tables(store).items()):
        split = split_table_name(table, known)
        if split is not None and (only is None or split[0] == only):
            out.append((table, *split, columns))
    return out
