"""``retention run``: plan every event table, check the guards, run the pre-steps, then purge
and sanitize in bounded batches.

Order matters: the guards see the whole plan before anything changes; the pre-steps (rollups,
log files) see rows before they lose detail; only then are rows deleted or sanitized, one
batch per transaction together with its state row (``store.retention``), so a run killed at
any point leaves every table consistent and the next run simply goes on (rows done are gone
or marked, and are never selected again).  A dry run (the default) writes nothing at all.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from el_monitor.catalog.model import Catalog
from el_monitor.progress import ProgressSink
from el_monitor.retention.extensions import catalog_grants, database_grants
from el_monitor.retention.guards import RetentionRefused, check_guards
from el_monitor.retention.hashing import TokenHasher, forget_salts
from el_monitor.retention.plan import PreStep, RunPlan, Step, TablePlan, plan_table, store_tables
from el_monitor.retention.policy import DELETE, SANITIZE, row_time, rules_for
from el_monitor.store import JobRunning, Store, StoreError
from el_monitor.store.catalogue import others_inserts
from el_monitor.store.retention import (
    StatePolicy,
    batch_state,
    create_retention_tables,
    finish_table,
    start_table,
    table_states,
)
from el_monitor.store.retention_rows import (
    AnyMarker,
    PeriodSalt,
    Sanitize,
    Unhandled,
    add_marker,
    delete_batch,
    due_batch,
    sanitize_batch,
    unhandled,
)

log = logging.getLogger(__name__)

BATCH_SIZE = 5000  # rows a transaction at most (retention run --batch-size): tens of ms of locks
# Seconds a batch's transaction may hold its row locks: on a busy server a batch that took
# longer makes the next ones smaller (they grow back when the server is quick again), so no
# lock is held for a second whatever the load.
LOCK_BUDGET = 0.4
RETENTION_JOB = "retention"  # the name of its lock (``Store.exclusive``)
MIN_BATCH = 100
# While other sessions insert (live traffic), each batch is followed by a pause this many times
# as long as it took: retention then takes at most about half of one server thread, and the
# forwarder keeps its pace.  Alone on the server it runs flat out.
YIELD_FACTOR = 1.0


@dataclass(frozen=True)
class TableResult:
    plan: TablePlan
    deleted: int = 0
    sanitized: int = 0


@dataclass(frozen=True)
class RunResult:
    plan: RunPlan
    tables: tuple[TableResult, ...]
    pre_steps: tuple[str, ...] = ()
    salts_forgotten: int = 0

    @property
    def due(self) -> int:
        """Rows the run found due (all of them handled, when executed)."""
        return sum(t.plan.due(DELETE) + t.plan.due(SANITIZE) for t in self.tables)


def plan_run(
    store: Store,
    catalog: Catalog,
    now: datetime.datetime,
    known_schemas: Iterable[str],
    *,
    execute: bool = False,
    only: str | None = None,
    before: datetime.date | None = None,
) -> RunPlan:
    """Every event table (of schema ``only`` if given) with its rules and rows due."""
    names = {*known_schemas, *catalog.schemas}
    tables = store_tables(store, names, only)
    grants = (
        *catalog_grants(catalog, (schema for _, schema, _, _ in tables)),
        *database_grants(store),
    )
    states = table_states(store)
    plans = tuple(
        plan_table(
            store,
            table,
            schema,
            revision,
            rules_for(catalog.policy(schema), grants, now, before),
            columns,
            states.get(table),
        )
        for table, schema, revision, columns in tables
    )
    hasher = TokenHasher(store, now) if execute else None
    return RunPlan(store, catalog, now, execute, plans, grants, before, only, hasher)


def run_retention(
    plan: RunPlan,
    *,
    max_age_gap: float | None = None,
    pre_steps: Sequence[PreStep] = (),
    batch_size: int = BATCH_SIZE,
    pause: float = 0.0,
    yield_factor: float = YIELD_FACTOR,
    progress: ProgressSink | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> RunResult:
    """Check the guards (RetentionRefused, as when another run holds the database's
    retention lock), run ``pre_steps``, then, when ``plan.execute``, every table's steps;
    ``pause`` seconds between batches let replicas catch up, and ``yield_factor`` times a
    batch's time after it while others insert (``YIELD_FACTOR``)."""
    store = plan.store
    problems = check_guards(store, plan.catalog, plan.tables, plan.grants, plan.now, max_age_gap)
    if problems:
        raise RetentionRefused(problems)
    # Two runs at once would roll up rows the other is deleting, and fight over row locks.
    try:
        with store.exclusive(RETENTION_JOB) if plan.execute else contextlib.nullcontext():
            pacing = _Pacing(pause, yield_factor, sleep)
            return _run(plan, pre_steps, batch_size, pacing, progress)
    except JobRunning as exc:
        raise RetentionRefused([f"{exc}: wait for it to end"]) from None


def _run(
    plan: RunPlan,
    pre_steps: Sequence[PreStep],
    batch_size: int,
    pacing: _Pacing,
    progress: ProgressSink | None,
) -> RunResult:
    store = plan.store
    lines = tuple(step(plan) for step in pre_steps)
    if not plan.execute:
        return RunResult(plan, tuple(TableResult(t) for t in plan.tables), lines)
    create_retention_tables(store)
    tables = [_with_marker(store, plan, t) if t.needs_marker else t for t in plan.tables]
    if progress is not None:
        progress.set_total(sum(t.due(DELETE) + t.due(SANITIZE) for t in tables))
    batches = _Batches(store, plan, batch_size, pacing, progress)
    results = tuple(batches.run_table(table) for table in tables)
    forgotten = 0
    if plan.before is None and plan.only is None:  # every table is as the policy says
        forgotten = forget_salts(store, plan.now, _longest(plan))
    return RunResult(plan, results, lines, forgotten)


def _with_marker(store: Store, plan: RunPlan, table: TablePlan) -> TablePlan:
    """The table with its marker (added now if missing), its steps counted again."""
    if not add_marker(store, table.table):
        return table
    columns = {c.name.lower(): c.name for c in store.columns(table.table)}
    return plan_table(
        store, table.table, table.schema, table.revision, table.rules, columns, table.previous
    )


def _longest(plan: RunPlan) -> int:
    """The longest retention anything may have in force: salts of older periods can go."""
    today = plan.now.astimezone(datetime.UTC).date()
    days = [plan.catalog.defaults.retention_days]
    days += [policy.retention_days for policy in plan.catalog.schemas.values()]
    days += [t.rules.retention_days for t in plan.tables]
    days += [g.retention_days for g in plan.grants if g.active(today)]
    return max(days)


class _Pacing:
    """How a run spaces its batches: a fixed ``pause``, and a pause of ``factor`` times the
    last batch's time whenever other sessions ran inserts since the batch before (the
    engines that cannot tell never yield)."""

    def __init__(self, pause: float, factor: float, sleep: Callable[[float], None]) -> None:
        self.pause, self.factor, self.sleep = pause, factor, sleep
        self._inserted: int | None = None
        self.yielded = 0.0  # seconds spent yielding, for the log

    def after_batch(self, store: Store, seconds: float) -> None:
        wait = self.pause
        if self.factor:
            inserted = others_inserts(store)
            before, self._inserted = self._inserted, inserted
            if inserted is not None and before is not None and inserted > before:
                wait += self.factor * seconds
                self.yielded += self.factor * seconds
        if wait:
            self.sleep(wait)


class _Batches:
    """One run's batch loop over tables: the store, sizes, pacing and progress it shares."""

    def __init__(
        self,
        store: Store,
        plan: RunPlan,
        batch_size: int,
        pacing: _Pacing,
        progress: ProgressSink | None,
    ) -> None:
        self.store, self.plan, self.size = store, plan, batch_size
        self.pacing, self.progress = pacing, progress

    def run_table(self, table: TablePlan) -> TableResult:
        store, now, rules = self.store, self.plan.now, table.rules
        policy = StatePolicy(
            table.table,
            table.schema,
            table.revision,
            rules.action,
            rules.retention_days,
            rules.first_days,
            rules.cutoff,
        )
        start_table(store, policy, now)
        deleted = sanitized = 0
        try:
            for step in table.steps:
                done = self._run_step(table.table, step)
                if step.action == DELETE:
                    deleted += done
                else:
                    sanitized += done
        except BaseException as exc:
            with contextlib.suppress(Exception):  # the database may be what failed
                finish_table(store, table.table, _oldest(store, table), now, str(exc) or "stopped")
            raise
        finish_table(store, table.table, _oldest(store, table), now)
        log.info("retention: %s: %d deleted, %d sanitized (%.1f s yielded to inserts so far)",
                 table.table, deleted, sanitized, self.pacing.yielded)  # fmt: skip
        return TableResult(table, deleted, sanitized)

    def _run_step(self, table: str, step: Step) -> int:
        store, now, total = self.store, self.plan.now, 0
        how = None
        if step.action == SANITIZE:  # on a table with its marker: only ever NULL or a stage
            assert not isinstance(step.marker_from, AnyMarker) and step.marker_to is not None
            how = Sanitize(step.nulls, step.marker_from, step.marker_to)
        size = self.size
        while True:
            ids, checkpoint, oldest = due_batch(store, table, step.cutoff, step.marker_from, size)
            if not ids or checkpoint is None:
                return total
            if how is None:
                state = batch_state(store, table, checkpoint, len(ids), 0, now)
                started = time.perf_counter()
                done = delete_batch(store, table, ids, state)
            else:
                state = batch_state(store, table, checkpoint, 0, len(ids), now)
                salts = self._salts(oldest or checkpoint, checkpoint) if step.hashes else []
                started = time.perf_counter()
                done = sanitize_batch(store, table, ids, how, step.hashes, salts, state)
            seconds = time.perf_counter() - started
            asked, size = size, self._next_size(size, seconds)
            if not done:
                raise StoreError(f"{table}: a batch of {len(ids)} due rows changed nothing")
            total += done
            if self.progress is not None:
                self.progress.advance(len(ids), table)
            if len(ids) < asked:
                return total
            self.pacing.after_batch(store, seconds)

    def _next_size(self, size: int, seconds: float) -> int:
        """The next batch's size after one of ``size`` rows held its locks ``seconds``:
        shrunk to fit ``LOCK_BUDGET`` when over it, doubled (up to the size asked for) when
        well under."""
        if seconds > LOCK_BUDGET:
            smaller = min(size // 2, int(size * LOCK_BUDGET / seconds * 0.8))
            return min(self.size, max(MIN_BATCH, smaller))
        if seconds < LOCK_BUDGET / 3:
            return min(self.size, size * 2)
        return size

    def _salts(self, oldest: str, newest: str) -> list[PeriodSalt]:
        """The salts of the periods a batch's rows (``oldest`` to ``newest``) fall in."""
        if self.plan.hasher is None:
            raise StoreError("hashing needs an executing run's salts")
        return self.plan.hasher.salts(_day(oldest), _day(newest))


def _day(timestamp: str) -> datetime.datetime:
    return row_time(timestamp[:8] + "000000")


def _oldest(store: Store, table: TablePlan) -> Unhandled:
    """(oldest untouched, oldest unfinished) row of the table as it is now."""
    return unhandled(store, table.table, table.has_marker, table.rules.action == DELETE)
