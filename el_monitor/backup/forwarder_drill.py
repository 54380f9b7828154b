"""``el-monitor drill forwarder``: kill one forwarder of a JetStream consumer group under load
and prove the others take over, every event published stored once.

The drill starts N forwarder processes in the group and waits until each is pulling, then
publishes the load (copies of the canary event, each with its own uuid, as record messages)
at the rate asked.  Half-way it notes the last stream sequence delivered and SIGKILLs the
first forwarder: what it held unacknowledged goes back to the others after the ack wait.
The *recovery* is the time from the kill until the group's ack floor passes that sequence:
every message delivered before the kill, the killed one's included, is then acknowledged,
which the forwarders do only once it is stored.  When the load is all published, the drill
waits until every event is in its table, stops the others (SIGTERM) and counts: lost (never
stored) and duplicated (more than one row) must both be 0.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from el_monitor.backup.drill_log import FAILED, PASSED, DrillRecord, Phase
from el_monitor.backup.failover_plan import DrillFailed
from el_monitor.backup.jetstream_link import JetStreamLink, Load
from el_monitor.event.names import short_hostname
from el_monitor.ingest.sources.jetstream_address import JetStreamAddress, parse_consume_uri
from el_monitor.ingest.sources.jetstream_group import ConsumerState
from el_monitor.store import Store, StoreUnavailable
from el_monitor.store.base import safe_url
from el_monitor.store.catalogue import uuid_rows
from el_monitor.store.mapping import table_name

log = logging.getLogger(__name__)

KIND = "forwarder"  # in the drill log: ``check_el_drill --kind forwarder``
POLL_SECONDS = 0.1
JOIN_SECONDS = 60.0  # for the forwarders to start and pull
STOP_SECONDS = 60.0


@dataclass(frozen=True)
class ForwarderDrillPlan:
    stream: str  # nats://HOST:PORT/STREAM?consumer=NAME, as the forwarders are given
    forwarders: int
    db: str
    schemas: str
    template: dict  # the canary event: schema, revision, wiki, event
    workdir: Path  # the forwarders' logs
    events: int = 10_000
    rate: float = 1_000.0
    subject: str | None = None  # where to publish; default: the stream's subject
    timeout: float = 120.0  # after the load, for every event to be stored
    max_recovery: float | None = None  # fail when the recovery takes longer


@dataclass
class ForwarderDrillResult:
    published: int = 0
    refused: int = 0  # publishes JetStream did not acknowledge (not counted as published)
    stored: int = 0
    duplicated: int = 0
    recovery: float | None = None  # seconds; None: not seen within the drill
    ack_wait: float = 0.0
    killed: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return self.published - self.stored

    @property
    def passed(self) -> bool:
        return (
            not self.notes
            and self.published > 0
            and self.lost == 0
            and self.duplicated == 0
            and self.recovery is not None
        )


class Member:
    """One forwarder of the drill, its stderr in a log file of its own."""

    def __init__(self, plan: ForwarderDrillPlan, number: int) -> None:
        self.number = number
        self.log_path = plan.workdir / f"forwarder-{number}.log"
        db, env = _password_to_environment(plan.db)
        with open(self.log_path, "wb") as log_file:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "el_monitor.cli", "forward", "--input", plan.stream,
                 "--db", db, "--schemas", plan.schemas,
                 "--instance", f"{short_hostname()}-drill{number}"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log_file, env=env,
            )  # fmt: skip

    def check(self) -> None:
        if self.proc.poll() is not None:
            raise DrillFailed(
                f"forwarder {self.number} (pid {self.proc.pid}) exited with status "
                f"{self.proc.returncode}; see {self.log_path}"
            )

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None


def _password_to_environment(url: str) -> tuple[str, dict[str, str]]:
    """The URL without its password, and the environment carrying it (``MYSQL_PWD``, which
    the store reads): a secret is never put in a child's argv."""
    parts = urlsplit(url)
    env = dict(os.environ)
    if parts.password is None:
        return url, env
    env["MYSQL_PWD"] = unquote(parts.password)
    netloc = parts.netloc.replace(":" + parts.password + "@", "@")
    return urlunsplit(parts._replace(netloc=netloc)), env


class ForwarderDrill:
    def __init__(self, plan: ForwarderDrillPlan, open_db: Callable[[str], Store]) -> None:
        self.plan = plan
        self.open_db = open_db
        self.address: JetStreamAddress = parse_consume_uri(plan.stream)
        self.table = table_name(plan.template["schema"], str(plan.template["revision"]))
        self.result = ForwarderDrillResult()

    def run(self) -> ForwarderDrillResult:
        plan, result = self.plan, self.result
        link = JetStreamLink(self.address.server)
        members: list[Member] = []
        try:
            subject = plan.subject or link.subject_of(self.address.stream)
            members = [Member(plan, n) for n in range(1, plan.forwarders + 1)]
            self._until(lambda: self._pulling(link, members), JOIN_SECONDS, "forwarders pulling")
            link.start_load(subject, Load(plan.template, plan.events, plan.rate))
            half = plan.events // 2
            self._until(
                lambda: len(link.published) >= half or link.load_done(),
                plan.events / plan.rate + JOIN_SECONDS,
                "half the load published",
            )
            self._kill(link, members)
            link.wait_load()
            result.published, result.refused = len(link.published), link.failed
            self._until(lambda: self._all_stored(link, members[1:]), plan.timeout, "every event")
            for member in members[1:]:
                if member.stop() != 0:
                    result.notes.append(f"forwarder {member.number} did not stop cleanly: "
                                        f"see {member.log_path}")  # fmt: skip
        except DrillFailed as exc:
            result.notes.append(str(exc))
            result.published, result.refused = len(link.published), link.failed
        finally:
            for member in members:
                if member.proc.poll() is None:
                    member.proc.kill()
                    member.proc.wait()
            link.close()
        self._count(link.published)
        return result

    def _pulling(self, link: JetStreamLink, members: list[Member]) -> bool:
        for member in members:
            member.check()
        state = link.group(self.address.stream, self._consumer)
        return state is not None and state.waiting >= len(members)

    @property
    def _consumer(self) -> str:
        assert self.address.consumer is not None
        return self.address.consumer

    def _kill(self, link: JetStreamLink, members: list[Member]) -> None:
        """SIGKILL the first forwarder and time the group's recovery of its messages."""
        victim = members[0]
        victim.check()
        state = self._state(link)
        victim.proc.kill()
        killed_at = time.monotonic()
        victim.proc.wait()
        self.result.killed = (
            f"forwarder 1 (pid {victim.proc.pid}) after {len(link.published)} events published, "
            f"{state.ack_pending} messages unacknowledged in the group"
        )
        self.result.ack_wait = state.ack_wait
        timeout = state.ack_wait + self.plan.timeout

        def recovered() -> bool:
            for member in members[1:]:
                member.check()
            return self._state(link).ack_floor_stream >= state.delivered_stream

        self._until(recovered, timeout, "the killed forwarder's messages stored")
        self.result.recovery = time.monotonic() - killed_at
        limit = self.plan.max_recovery
        if limit is not None and self.result.recovery > limit:
            self.result.notes.append(
                f"recovery took {self.result.recovery:.1f} s, over {limit:g} s"
            )

    def _state(self, link: JetStreamLink) -> ConsumerState:
        state = link.group(self.address.stream, self._consumer)
        if state is None:
            raise DrillFailed(f"consumer {self._consumer} of {self.address.stream} is gone")
        return state

    def _all_stored(self, link: JetStreamLink, members: list[Member]) -> bool:
        for member in members:
            member.check()
        return self._stored(link.published) >= len(link.published)

    def _stored(self, uuids: list[str]) -> int:
        try:
            store = self.open_db(self.plan.db)
        except StoreUnavailable:
            return 0
        try:
            return len(uuid_rows(store, self.table, uuids))
        except StoreUnavailable:
            return 0
        finally:
            store.close()

    def _count(self, uuids: list[str]) -> None:
        try:
            store = self.open_db(self.plan.db)
            try:
                rows = uuid_rows(store, self.table, uuids)
            finally:
                store.close()
        except StoreUnavailable as exc:
            self.result.notes.append(f"cannot count the stored events: {exc}")
            return
        self.result.stored = len(rows)
        self.result.duplicated = sum(n - 1 for n in rows.values())

    @staticmethod
    def _until(condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() >= deadline:
                raise DrillFailed(f"timed out after {timeout:g} s waiting for {what}")
            time.sleep(POLL_SECONDS)


def report(plan: ForwarderDrillPlan, result: ForwarderDrillResult) -> str:
    """The drill's outcome as ops read it."""
    recovery = "not seen" if result.recovery is None else f"{result.recovery:.1f} s"
    lines = [
        f"forwarder drill: {'PASSED' if result.passed else 'FAILED'}",
        f"  group       {plan.stream} ({plan.forwarders} forwarders, "
        f"ack wait {result.ack_wait:g} s)",
        f"  published   {result.published} events ({result.refused} refused by JetStream)",
        f"  stored      {result.stored}",
        f"  lost        {result.lost}",
        f"  duplicated  {result.duplicated}",
        f"  killed      {result.killed or 'none'}",
        f"  recovery    {recovery} (from the kill until every message delivered before it "
        "was stored and acknowledged)",
    ]
    lines += [f"  note        {note}" for note in result.notes]
    return "\n".join(lines) + "\n"


def drill_record(
    plan: ForwarderDrillPlan, result: ForwarderDrillResult, started: str, finished: str
) -> DrillRecord:
    """The drill as the drill log keeps it (ISO 8601 ``started`` and ``finished``): the
    database as its primary and the group as its replica, the recovery as its one phase, the
    events published and stored as the canaries sent and found."""
    recovered = result.recovery is not None
    error = None
    if not result.passed:
        error = f"{result.lost} lost, {result.duplicated} duplicated"
        error += "" if recovered else ", recovery not seen"
        error += "".join(f"; {note}" for note in result.notes)
    return DrillRecord(
        kind=KIND,
        started=started,
        finished=finished,
        outcome=PASSED if result.passed else FAILED,
        primary=safe_url(plan.db),
        replica=safe_url(plan.stream),
        phases=(Phase("recovery", result.recovery or 0.0, recovered),),
        canaries_sent=result.published,
        canaries_found=result.stored,
        notes=(f"killed {result.killed or 'none'}", f"{result.duplicated} duplicated"),
        error=error,
    )
