"""The failover drill: promote the replica while the pipeline runs, and prove nothing was lost.

Phases, each timed: pre-flight (replica running and caught up within ``max_lag``, the
forwarder alive and on the primary, disk space, a canary accepted), fence (the primary
``read_only``: the forwarder's writes fail and it spools), catch-up (the replica applies the
primary's last GTID), promote (``STOP SLAVE``, ``RESET SLAVE ALL``, ``read_only`` off),
re-attach (only with other replicas: each applies the primary's last GTID, then replicates
from the new primary; ``backup.reattach``), re-point (the forwarder's database file names the
replica, SIGHUP; done when a canary sent after it is stored there), verify (every canary
accepted during the drill is on the new primary, the RPO, 0 events, and on each other
replica).  Canaries are sent from before the fence to the end.

Any failure aborts: the primary is unfenced, the forwarder pointed back at it and moved
replicas put back under it, and the record says what was undone and what was not (a
promoted replica no longer replicates).
The SQL is in ``store.replication`` and ``store.catalogue``.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

from el_monitor.backup.drill_log import ABORTED, PASSED, PLANNED, DrillRecord, Phase, utc_now
from el_monitor.backup.failover_plan import DrillFailed, FailoverPlan, preflight
from el_monitor.backup.reattach import CHECKED, OtherReplica, put_back, reattach
from el_monitor.backup.reattach import verify as verify_others
from el_monitor.backup.repoint import moved_url, server_address
from el_monitor.errors import UserError
from el_monitor.store import Store, StoreError, StoreUnavailable
from el_monitor.store.base import safe_url
from el_monitor.store.catalogue import stored_uuids
from el_monitor.store.mapping import table_name
from el_monitor.store.replication import gtid_binlog_pos, promote, set_read_only, wait_for_gtid

log = logging.getLogger(__name__)

KIND = "failover"
POLL = 0.1  # seconds between looks for canaries on the new primary


@dataclass
class _State:
    """What the drill has done so far: what an abort must undo."""

    phases: list[Phase] = field(default_factory=list)
    fenced: bool = False
    promoted: bool = False
    repointed: bool = False
    notes: list[str] = field(default_factory=list)
    steps: tuple[str, ...] = ()  # the plan, once the pre-flight knows the forwarder
    sent: list[str] = field(default_factory=list)  # canaries accepted
    found: set[str] = field(default_factory=set)  # of them, on the new primary
    verified: bool = False  # ``found`` was looked for


Hook = Callable[[str], None]  # called with each phase's name before it runs (tests, progress)
Opener = Callable[[str], Store]


class FailoverDrill:
    def __init__(self, plan: FailoverPlan, open_db: Opener, hook: Hook | None = None) -> None:
        self.plan = plan
        self.open_db = open_db
        self.hook = hook
        self.state = _State()
        self.others = [OtherReplica(url) for url in plan.others]

    # the drill -------------------------------------------------------------------------------

    def run(self, dry_run: bool = False) -> DrillRecord:
        """The drill (or only its pre-flight, ``dry_run``) as a record; never raises for what
        the databases or the forwarder do: that is in the record."""
        started = utc_now()
        error: str | None = None
        rolled_back: tuple[str, ...] = ()
        with ExitStack() as stores:
            primary = replica = None
            try:
                primary = stores.enter_context(_closing(self.open_db(self.plan.primary)))
                replica = stores.enter_context(_closing(self.open_db(self.plan.replica)))
                for other in self.others:
                    other.store = stores.enter_context(_closing(self.open_db(other.url)))
                self._phases(primary, replica, dry_run)
            except (DrillFailed, UserError, StoreError, StoreUnavailable, OSError) as exc:
                error = str(exc)
                log.error("failover drill failed: %s", exc)
            finally:
                if self.plan.canaries is not None:
                    self.state.sent = self.plan.canaries.stop()
            if error:
                rolled_back = self._abort(primary)
        outcome = ABORTED if error else PLANNED if dry_run else PASSED
        return self._record(started, outcome, rolled_back, error)

    def _phases(self, primary: Store, replica: Store, dry_run: bool) -> None:
        plan, state = self.plan, self.state
        with self._phase("pre-flight"):
            others = [(other.url, other.db) for other in self.others]
            forwarder_url = preflight(plan, primary, replica, dry_run, others)
        state.steps = plan.steps(forwarder_url)
        if dry_run:
            for other in self.others:
                other.outcome = CHECKED
            return
        self._start_canaries()
        with self._phase("fence"):
            set_read_only(primary, True)
            state.fenced = True
        with self._phase("catch-up") as detail:
            position = gtid_binlog_pos(primary)
            if not wait_for_gtid(replica, position, plan.catch_up_timeout):
                raise DrillFailed(
                    f"the replica did not reach GTID {position} within {plan.catch_up_timeout:g} s"
                )
            detail.append(f"GTID {position or '(none)'}")
        with self._phase("promote"):
            promote(replica)
            state.promoted = True
        if self.others:
            with self._phase("re-attach") as detail:
                new = server_address(plan.replica)
                detail += reattach(self.others, position, new, plan.catch_up_timeout)
        with self._phase("re-point") as detail:
            self._repoint(forwarder_url, replica, detail)
        with self._phase("verify") as detail:
            self._verify(replica, detail)

    def _record(
        self,
        started: datetime.datetime,
        outcome: str,
        rolled_back: tuple[str, ...] = (),
        error: str | None = None,
    ) -> DrillRecord:
        plan, state = self.plan, self.state
        return DrillRecord(
            kind=KIND,
            started=started.isoformat(),
            finished=utc_now().isoformat(),
            outcome=outcome,
            primary=safe_url(plan.primary),
            replica=safe_url(plan.replica),
            phases=tuple(state.phases),
            canaries_sent=len(state.sent),
            canaries_found=len(state.found),
            missing=tuple(u for u in state.sent if u not in state.found) if state.verified else (),
            rolled_back=rolled_back,
            plan=state.steps,
            notes=tuple(state.notes),
            error=error,
            other_replicas=tuple(other.record() for other in self.others),
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

    def _verify(self, replica: Store, detail: list[str]) -> None:
        problems = self._verify_canaries(replica, detail)
        if self.others:
            position = gtid_binlog_pos(replica)
            table = table_name(*self.plan.canaries.schema) if self.plan.canaries else None
            late = verify_others(
                self.others, position, table, self.state.sent, self.plan.canary_timeout
            )
            detail.append(
                f"{len(self.others) - len(late)} of {len(self.others)} other replicas at the "
                f"new primary's GTID {position or '(none)'}"
                + (" with every canary" if table and not late else "")
            )
            problems += late
        if problems:
            raise DrillFailed("; ".join(problems))

    def _verify_canaries(self, replica: Store, detail: list[str]) -> list[str]:
        plan, canaries, state = self.plan, self.plan.canaries, self.state
        if canaries is None:
            detail.append("no canaries")
            return []
        canaries.wait_for(plan.after_switch, plan.canary_timeout)
        state.sent = canaries.stop()
        state.found = self._wait_stored(replica, table_name(*canaries.schema), state.sent)
        state.verified = True
        detail.append(f"{len(state.found)} of {len(state.sent)} canaries on the new primary")
        if canaries.refused:
            detail.append(f"{canaries.refused} refused by the forwarder (retried)")
        missing = [u for u in state.sent if u not in state.found]
        if not missing:
            return []
        return [f"{len(missing)} canaries missing on the new primary: {', '.join(missing[:20])}"]

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
        done += put_back(self.others)
        if state.promoted:
            done.append(
                "the replica was promoted and no longer replicates: make it a replica "
                "of the primary again (CHANGE MASTER TO ... MASTER_USE_GTID=slave_pos)"
            )
        return tuple(done)


@contextmanager
def _closing(store: Store) -> Iterator[Store]:
    try:
        yield store
    finally:
        store.close()
