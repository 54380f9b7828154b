"""``el-monitor drill failover --other-replica`` on three private servers: a primary (1), the
replica to promote (2) and another replica (3).  A full drill under load moves the other
replica under the new primary with every canary and row; aborts leave it under the old
primary (not moved, or put back) or, once it has applied the new primary's writes, where it
is; the pre-flight and ``--dry-run`` list it."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pytest
from harness.mariadb import MariaDBServer
from harness.wait import wait_until

from el_monitor.backup import drill_log
from el_monitor.backup.canary import CanaryStream, beacon_sender, load_template
from el_monitor.backup.failover import FailoverDrill, FailoverPlan
from el_monitor.backup.reattach import LEFT, MOVED, NOT_MOVED, PUT_BACK
from el_monitor.backup.repoint import ForwarderLink
from el_monitor.store import open_store
from el_monitor.store.base import safe_url

from .failover_support import (
    DrillForwarder,
    SteadyStream,
    add_writer,
    canaries_on,
    canary_file,
    canary_table,
    drill_command,
    read_only,
    stream_uuids,
    writer_url,
)

PHASES = ["pre-flight", "fence", "catch-up", "promote", "re-attach", "re-point", "verify"]


class Trio(NamedTuple):
    primary: MariaDBServer
    replica: MariaDBServer  # to promote
    other: MariaDBServer  # to move under it


@pytest.fixture
def trio(mariadb_servers):
    """A primary with two replicas, the writer account on all, caught up."""
    primary, replica, other = mariadb_servers(1), mariadb_servers(2), mariadb_servers(3)
    replica.replicate_from(primary)
    other.replicate_from(primary)
    add_writer(primary)
    replica.wait_caught_up(primary)
    other.wait_caught_up(primary)
    return Trio(primary, replica, other)


def primary_of(server: MariaDBServer) -> int:
    """The port ``server`` replicates from, once both its threads run."""

    def running() -> bool:
        status = server.slave_status()
        return status.get("Slave_IO_Running") == status.get("Slave_SQL_Running") == "Yes"

    wait_until(running, 60, lambda: f"replication on {server.port}: {server.slave_status()}")
    return int(server.slave_status()["Master_Port"])


def row_counts(server: MariaDBServer) -> dict[str, int]:
    tables = [t for (t,) in server.execute("SHOW TABLES", database="test")]
    return {t: server.value(f"SELECT COUNT(*) FROM test.`{t}`") for t in tables}


def marker(server: MariaDBServer, value: int) -> None:
    """A write of root's (``read_only`` does not hold it) that replicates."""
    server.execute("CREATE TABLE IF NOT EXISTS test.marker (id INT PRIMARY KEY)")
    server.execute("INSERT INTO test.marker VALUES (%s)", (value,))


def markers(server: MariaDBServer) -> list[int]:
    return [i for (i,) in server.execute("SELECT id FROM test.marker ORDER BY id")]


def with_forwarder(
    trio: Trio, tmp_path: Path, catch_up_timeout: float, canary_timeout: float = 60
) -> tuple[DrillForwarder, CanaryStream, FailoverPlan]:
    """A forwarder on the primary, canaries through it, and the plan of a drill that moves
    the other replica."""
    forwarder = DrillForwarder(tmp_path / "fw", writer_url(trio.primary))
    canaries = CanaryStream(beacon_sender(forwarder.beacon), load_template(canary_file(tmp_path)))
    link = ForwarderLink(forwarder.pid_file, forwarder.db_file)
    plan = FailoverPlan(trio.primary.url, trio.replica.url, link, canaries,
                        catch_up_timeout=catch_up_timeout, canary_timeout=canary_timeout,
                        others=(trio.other.url,))  # fmt: skip
    return forwarder, canaries, plan


def test_a_full_drill_moves_the_other_replica_with_every_canary(trio, tmp_path):
    primary, replica, other = trio
    forwarder = DrillForwarder(tmp_path / "fw", writer_url(primary))
    stream = SteadyStream(forwarder.port)
    logs = tmp_path / "drills"
    try:
        wait_until(lambda: len(stream_uuids(primary)) >= 200, 60, "the stream on the primary")
        done = drill_command(
            "--primary", primary.url, "--replica", replica.url, "--other-replica", other.url,
            "--forwarder", str(forwarder.pid_file), "--db-file", str(forwarder.db_file),
            "--canary-url", forwarder.beacon, "--canary-event", str(canary_file(tmp_path)),
            "--report-dir", str(logs), "--catch-up-timeout", "30", "--canary-timeout", "30",
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        before = stream.count()
        wait_until(lambda: stream.count() >= before + 100, 60, "the stream going on")
        answered = stream.stop()
        forwarder.stop()
    finally:
        stream.stop()
        forwarder.kill()
    [record] = drill_log.records(logs, "failover")
    assert record.outcome == "passed" and [p.name for p in record.phases] == PHASES
    [moved] = record.other_replicas
    assert (moved.url, moved.outcome) == (safe_url(other.url), MOVED)
    assert moved.canaries_found == record.canaries_sent >= 6
    assert "Other replicas:" in done.stdout and f"{moved.url}: moved" in done.stdout
    # The other replica follows the new primary and holds what it holds: every canary and
    # every event the forwarder accepted, before and after the switch.
    assert primary_of(other) == replica.port
    other.wait_caught_up(replica)
    assert row_counts(other) == row_counts(replica)
    canaries = [u for (u,) in replica.execute(f"SELECT uuid FROM test.`{canary_table()}`")]
    assert len(canaries) >= record.canaries_sent and canaries_on(other, canaries) == set(canaries)
    assert set(answered) <= stream_uuids(other)
    # A later write on the new primary reaches it.
    marker(replica, 1)
    other.wait_caught_up(replica)
    assert markers(other) == [1]


def test_an_other_replica_that_cannot_catch_up_aborts_before_it_moves(trio, tmp_path):
    """Its SQL thread stopped before the fence, with a write after: it never reaches the
    fence position, so the drill aborts in re-attach with nothing moved but the promotion."""
    primary, replica, other = trio
    forwarder, canaries, plan = with_forwarder(trio, tmp_path, catch_up_timeout=10)
    original = forwarder.db_file.read_bytes()

    def sql_thread_stops(phase: str) -> None:
        if phase == "fence":
            other.execute("STOP SLAVE SQL_THREAD")
            marker(primary, 1)

    try:
        record = FailoverDrill(plan, open_store, hook=sql_thread_stops).run()
        sent = canaries.accepted()
        wait_until(lambda: canaries_on(primary, sent) == set(sent), 60, "the canaries")
        _, err = forwarder.stop()
    finally:
        forwarder.kill()
    assert record.outcome == "aborted"
    assert [(p.name, p.ok) for p in record.phases] == [
        ("pre-flight", True), ("fence", True), ("catch-up", True), ("promote", True),
        ("re-attach", False),
    ]  # fmt: skip
    assert "did not reach GTID" in (record.error or "") and "SQL No" in (record.error or "")
    assert record.rolled_back[0] == "primary unfenced (read_only OFF)"
    assert "no longer replicates" in record.rolled_back[-1]
    [left] = record.other_replicas
    assert left.outcome == NOT_MOVED
    assert read_only(primary) == 0
    assert forwarder.db_file.read_bytes() == original
    assert "database target is now" not in err
    # Still under the old primary: once its SQL thread runs again it applies what it missed.
    other.execute("START SLAVE SQL_THREAD")
    assert primary_of(other) == primary.port
    marker(primary, 2)
    other.wait_caught_up(primary)
    assert markers(other) == [1, 2]


def test_a_drill_failing_after_the_move_puts_the_other_replica_back(trio, tmp_path):
    """The other replica stops applying right after it moved: verify cannot see the canaries
    there and aborts; having applied nothing of the new primary, it is put back."""
    primary, replica, other = trio
    forwarder, _, plan = with_forwarder(trio, tmp_path, catch_up_timeout=30, canary_timeout=5)
    original = forwarder.db_file.read_bytes()

    def sql_thread_stops(phase: str) -> None:
        if phase == "re-point":
            other.execute("STOP SLAVE SQL_THREAD")

    try:
        record = FailoverDrill(plan, open_store, hook=sql_thread_stops).run()
        wait_until(lambda: forwarder.output.text().count("database target is now") == 2, 60,
                   "the forwarder back on the primary")  # fmt: skip
        forwarder.stop()
    finally:
        forwarder.kill()
    assert record.outcome == "aborted"
    assert [(p.name, p.ok) for p in record.phases][-2:] == [("re-point", True), ("verify", False)]
    assert "did not reach the new primary's GTID" in (record.error or "")
    [back] = record.other_replicas
    assert back.outcome == PUT_BACK and f":{primary.port} again" in back.detail
    assert record.rolled_back[:2] == (
        "primary unfenced (read_only OFF)", "forwarder pointed back at the primary"
    )  # fmt: skip
    assert any(line.startswith(f"the other replica {back.url}: put back") for line in
               record.rolled_back)  # fmt: skip
    assert read_only(primary) == 0
    assert forwarder.db_file.read_bytes() == original
    assert primary_of(other) == primary.port
    marker(primary, 1)
    other.wait_caught_up(primary)
    assert markers(other) == [1]


def test_an_other_replica_holding_writes_of_the_new_primary_is_left_there(trio):
    """Put back, it would hold rows the old primary never had: it stays and the record says
    so.  No forwarder: the writes are root's on the new primary."""
    primary, replica, other = trio
    plan = FailoverPlan(primary.url, replica.url, catch_up_timeout=30, canary_timeout=3,
                        others=(other.url,))  # fmt: skip

    def new_primary_writes(phase: str) -> None:
        if phase == "verify":
            marker(replica, 1)
            other.wait_caught_up(replica)
            other.execute("STOP SLAVE SQL_THREAD")
            marker(replica, 2)

    record = FailoverDrill(plan, open_store, hook=new_primary_writes).run()
    assert record.outcome == "aborted"
    assert [(p.name, p.ok) for p in record.phases][-1] == ("verify", False)
    [left] = record.other_replicas
    assert left.outcome == LEFT and "the old primary lacks" in left.detail
    assert read_only(primary) == 0
    # Where it was: under the new primary, applying again.
    assert primary_of(other) == replica.port
    other.wait_caught_up(replica)
    assert markers(other) == [1, 2]


def test_dry_run_lists_the_other_replica_and_a_stopped_one_fails_the_pre_flight(trio, tmp_path):
    primary, replica, other = trio
    done = drill_command(
        "--primary", primary.url, "--replica", replica.url, "--other-replica", other.url,
        "--report-dir", str(tmp_path / "drills"), "--dry-run",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"wait for the other replica {safe_url(other.url)} to apply" in done.stdout
    assert f"CHANGE MASTER TO 127.0.0.1:{replica.port}" in done.stdout
    assert f"{safe_url(other.url)}: checked" in done.stdout
    other.execute("STOP SLAVE")
    plan = FailoverPlan(primary.url, replica.url, others=(other.url, replica.url))
    record = FailoverDrill(plan, open_store).run()
    assert record.outcome == "aborted" and [p.name for p in record.phases] == ["pre-flight"]
    error = record.error or ""
    assert f"the other replica {safe_url(other.url)}: replication is not running" in error
    assert f"the other replica {safe_url(replica.url)} is named twice" in error
    assert [o.outcome for o in record.other_replicas] == [NOT_MOVED, NOT_MOVED]
    assert record.rolled_back == () and read_only(primary) == 0 and read_only(replica) == 0
    assert other.slave_status()["Slave_SQL_Running"] == "No"
    assert primary_of(replica) == primary.port
