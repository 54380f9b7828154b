"""The failover drill: promote the replica while the pipeline runs, and prove nothing was lost.

Phases, each timed: pre-flight (replica running and caught up within ``max_lag``, the
forwarder alive and on the primary, disk space, a canary accepted), fence (the primary
``read_only``: the forwarder's writes fail and it spools), catch-up (the replica applies the
primary's last GTID), promote (``STOP SLAVE``, ``RESET SLAVE ALL``, ``read_only`` off),
re-point (the forwarder's database file names the replica, SIGHUP; done when a canary sent
after it is stored there), verify (every canary accepted during the drill is on the new
primary: the RPO, 0 events).  Canaries are sent from before the fence to the end.

Any failure aborts: the primary is unfenced and the forwarder pointed back at it, and the
record says what was undone and what was not (a promoted replica no longer replicates).
The SQL is in ``store.replication`` and ``store.catalogue``.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from el_monitor.backup.canary import CanaryStream
from el_monitor.backup.drill_log import ABORTED, PASSED, PLANNED, DrillRecord, Phase, utc_now
from el_monitor.backup.repoint import ForwarderLink, moved_url, same_server
from el_monitor.errors import UserError
from el_monitor.store import Store, StoreError, StoreUnavailable
from el_monitor.store.base import safe_url
from el_monitor.store.catalogue import stored_uuids
from el_monitor.store.mapping import table_name
from el_monitor.store.replication import (
    gtid_binlog_pos,
    is_read_only,
    promote,
    replica_status,
    set_read_only,
    wait_for_gtid,
)

log = logging.getLogger(__name__)

KIND = "failover"
POLL = 0.1  # seconds between looks for canaries on the new primary


class DrillFailed(Exception):
    """A phase found what stops the drill; the message says what."""


@dataclass(frozen=True)
class FailoverPlan:
    primary: str  # admin URLs: the drill fences, waits and promotes
    replica: str
    forwarder: ForwarderLink | None = None
    canaries: CanaryStream | None = None
    max_lag: float = 5.0  # seconds the replica may be behind at pre-flight
    catch_up_timeout: float = 60.0
    canary_timeout: float = 60.0  # for canaries to reach the new primary
    min_free_bytes: int = 512 << 20
    space_paths: tuple[Path, ...] = ()  # where spooled events and the report go
    after_switch: int = 5  # canaries accepted after the re-point before the drill ends

    def steps(self, forwarder_url: str | None) -> tuple[str, ...]:
        """What the drill will do, in order (``--dry-run`` prints it)."""
        replica, primary = safe_url(self.replica), safe_url(self.primary)
        steps = [
            f"fence the primary {primary}: SET GLOBAL read_only = ON",
            f"wait (up to {self.catch_up_timeout:g} s) for the replica {replica} to apply "
            "the primary's last GTID (MASTER_GTID_WAIT)",
            f"promote {replica}: STOP SLAVE, RESET SLAVE ALL, SET GLOBAL read_only = OFF",
        ]
        if self.forwarder is not None and forwarder_url:
            new = safe_url(moved_url(forwarder_url, self.replica))
            steps.append(
                f"point the forwarder at {new}: rewrite {self.forwarder.db_file}, "
                f"SIGHUP the pid in {self.forwarder.pid_file}"
            )
        if self.canaries is not None:
            schema, revision = self.canaries.schema
            steps.insert(
                0,
                f"send a {schema}/{revision} canary every "
                f"{self.canaries.interval:g} s through the forwarder, to the end",
            )
            steps.append("prove every canary is on the new primary (RPO 0 events)")
        steps.append("on any failure: unfence the primary, point the forwarder back, report")
        return tuple(steps)


@dataclass
class _State:
    """What the drill has done so far: what an abort must undo."""

    phases: list[Phase] = field(default_factory=list)
    fenced: bool = False
    promoted: bool = False
    repointed: bool = False
    notes: list[str] = field(default_factory=list)


Hook = Callable[[str], None]  # called with each phase's name before it runs (tests, progress)
Opener = Callable[[str], Store]


class FailoverDrill:
    def __init__(self, plan: FailoverPlan, open_db: Opener, hook: Hook | None = None) -> None:
        self.plan = plan
        self.open_db = open_db
        self.hook = hook
        self.state = _State()

    # the drill -------------------------------------------------------------------------------

    def run(self, dry_run: bool = False) -> DrillRecord:
        """The drill (or only its pre-flight, ``dry_run``) as a record; never raises for what
        the databases or the forwarder do: that is in the record."""
        started = utc_now()
        plan, state = self.plan, self.state
        primary = replica = None
        error: str | None = None
        sent: list[str] = []
        found: set[str] = set()
        steps: tuple[str, ...] = ()
        try:
            primary, replica = self.open_db(plan.primary), self.open_db(plan.replica)
            with self._phase("pre-flight"):
                forwarder_url = self._preflight(primary, replica)
            steps = plan.steps(forwarder_url)
            if dry_run:
                return self._record(started, PLANNED, steps=steps)
            self._start_canaries()
            with self._phase("fence"):
                set_read_only(primary, True)
                state.fenced = True
            with self._phase("catch-up") as detail:
                position = gtid_binlog_pos(primary)
                if not wait_for_gtid(replica, position, plan.catch_up_timeout):
                    raise DrillFailed(
                        f"the replica did not reach GTID {position} within "
                        f"{plan.catch_up_timeout:g} s"
                    )
                detail.append(f"GTID {position or '(none)'}")
            with self._phase("promote"):
                promote(replica)
                state.promoted = True
            with self._phase("re-point") as detail:
                self._repoint(forwarder_url, replica, detail)
            with self._phase("verify") as detail:
                sent, found = self._verify(replica, detail)
        except (DrillFailed, UserError, StoreError, StoreUnavailable, OSError) as exc:
            error = str(exc)
            log.error("failover drill failed: %s", exc)
        finally:
            if plan.canaries is not None:
                sent = plan.canaries.stop()
        rolled_back = self._abort(primary) if error else ()
        for store in (primary, replica):
            if store is not None:
                store.close()
        outcome = ABORTED if error else PASSED
        missing = tuple(u for u in sent if u not in found) if not error else ()
        return self._record(started, outcome, steps, sent, found, missing, rolled_back, error)

    def _record(
        self, started, outcome, steps=(), sent=(), found=(), missing=(), rolled_back=(), error=None
    ) -> DrillRecord:
        plan = self.plan
        return DrillRecord(
            kind=KIND,
            started=started.isoformat(),
            finished=utc_now().isoformat(),
            outcome=outcome,
            primary=safe_url(plan.primary),
            replica=safe_url(plan.replica),
            phases=tuple(self.state.phases),
            canaries_sent=len(sent),
            canaries_found=len(found),
            missing=tuple(missing),
            rolled_back=tuple(rolled_back),
            plan=tuple(steps),
            notes=tuple(self.state.notes),
            error=error,
        )

    @contextmanager
    def _phase(self, name: str) -> Iterator[list[str]]:
        """Time a phase; its detail lines are what the block appends."""
        if self.hook is not None:
            self.hook(name)
        detail: list[str] = []
        began = time.monotonic()
        try:
            yield detail
        except Exception as exc:
            seconds = time.monotonic() - began
            self.state.phases.append(Phase(name, seconds, False, str(exc)))
            raise
        seconds = time.monotonic() - began
        self.state.phases.append(Phase(name, seconds, True, "; ".join(detail)))
        log.info("%s: %.2f s %s", name, seconds, "; ".join(detail))

    # phases ----------------------------------------------------------------------------------

    def _preflight(self, primary: Store, replica: Store) -> str | None:
        """Every reason not to start, at once; the forwarder's URL when there is one."""
        plan = self.plan
        problems: list[str] = []
        if is_read_only(primary):
            problems.append("the primary is read_only already (a drill in progress?)")
        status = replica_status(replica)
        if status is None:
            problems.append(f"{safe_url(plan.replica)} is not a replica")
        else:
            if not status.running:
                problems.append(
                    f"replication is not running (IO {status.io_state}, SQL "
                    f"{status.sql_state}) {status.last_io_error or status.last_sql_error}"
                )
            elif status.seconds_behind is None or status.seconds_behind > plan.max_lag:
                problems.append(
                    f"the replica is {status.seconds_behind} s behind (at most {plan.max_lag:g} s)"
                )
            if not same_server(f"mysql://{status.master_host}:{status.master_port}/", plan.primary):
                problems.append(
                    f"the replica replicates from {status.master_host}:"
                    f"{status.master_port}, not from the primary"
                )
        for path in plan.space_paths:
            free = shutil.disk_usage(path).free
            if free < plan.min_free_bytes:
                problems.append(
                    f"{path}: {free >> 20} MiB free (at least {plan.min_free_bytes >> 20} MiB)"
                )
        forwarder_url = None
        if plan.forwarder is not None:
            try:
                plan.forwarder.pid()
                forwarder_url = plan.forwarder.url()
            except UserError as exc:
                problems.append(str(exc))
            else:
                if not forwarder_url or not same_server(forwarder_url, plan.primary):
                    problems.append(
                        f"the forwarder's database file names "
                        f"{safe_url(forwarder_url or 'nothing')}, not the primary"
                    )
        if plan.canaries is not None and not problems:
            plan.canaries.send_one()
            if not plan.canaries.accepted():
                problems.append(f"the forwarder refused a canary: {plan.canaries.last_error}")
        if problems:
            raise DrillFailed("pre-flight: " + "; ".join(problems))
        return forwarder_url

    def _start_canaries(self) -> None:
        canaries = self.plan.canaries
        if canaries is None:
            self.state.notes.append("no canaries (--canary-url): the RPO is not measured")
            return
        canaries.start()

    def _repoint(self, forwarder_url: str | None, replica: Store, detail: list[str]) -> None:
        plan = self.plan
        if plan.forwarder is None or forwarder_url is None:
            detail.append("no forwarder to re-point")
            return
        new = moved_url(forwarder_url, plan.replica)
        plan.forwarder.point(new, "failover drill: the replica, promoted")
        self.state.repointed = True
        detail.append(f"forwarder on {safe_url(new)}")
        canaries = plan.canaries
        if canaries is None:
            return
        # Writes resumed when a canary sent after the SIGHUP is stored on the new primary.
        if not canaries.wait_for(1, plan.canary_timeout):
            raise DrillFailed(f"no canary accepted after the re-point: {canaries.last_error}")
        first = canaries.accepted()[-1]
        table = table_name(*canaries.schema)
        if not self._wait_stored(replica, table, [first]):
            raise DrillFailed(
                f"canary {first} sent after the re-point is not on the new primary "
                f"after {plan.canary_timeout:g} s"
            )

    def _verify(self, replica: Store, detail: list[str]) -> tuple[list[str], set[str]]:
        plan, canaries = self.plan, self.plan.canaries
        if canaries is None:
            detail.append("no canaries")
            return [], set()
        canaries.wait_for(plan.after_switch, plan.canary_timeout)
        sent = canaries.stop()
        table = table_name(*canaries.schema)
        found = self._wait_stored(replica, table, sent)
        detail.append(f"{len(found)} of {len(sent)} canaries on the new primary")
        if canaries.refused:
            detail.append(f"{canaries.refused} refused by the forwarder (retried)")
        if len(found) < len(sent):
            missing = [u for u in sent if u not in found]
            raise DrillFailed(
                f"{len(missing)} canaries missing on the new primary: {', '.join(missing[:20])}"
            )
        return sent, found

    def _wait_stored(self, store: Store, table: str, uuids: list[str]) -> set[str]:
        deadline = time.monotonic() + self.plan.canary_timeout
        while True:
            found = stored_uuids(store, table, uuids)
            if len(found) == len(set(uuids)) or time.monotonic() >= deadline:
                return found
            time.sleep(POLL)

    # abort -----------------------------------------------------------------------------------

    def _abort(self, primary: Store | None) -> tuple[str, ...]:
        """Undo what the drill did, each step on its own (one failing does not stop the
        next); what was undone, and what could not be, for the record."""
        state, plan, done = self.state, self.plan, []
        if state.fenced and primary is not None:
            try:
                set_read_only(primary, False)
                done.append("primary unfenced (read_only OFF)")
            except (StoreError, StoreUnavailable, UserError) as exc:
                done.append(f"could NOT unfence the primary: {exc}")
        if state.repointed and plan.forwarder is not None:
            try:
                plan.forwarder.restore()
                done.append("forwarder pointed back at the primary")
            except (UserError, OSError) as exc:
                done.append(f"could NOT point the forwarder back: {exc}")
        if state.promoted:
            done.append(
                "the replica was promoted and no longer replicates: make it a replica "
                "of the primary again (CHANGE MASTER TO ... MASTER_USE_GTID=slave_pos)"
            )
        return tuple(done)
