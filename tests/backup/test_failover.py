"""``el-monitor drill failover`` on private servers with a real forwarder under a steady load:
a full drill (every canary and every accepted event on the new primary, the old one fenced,
the forwarder writing to the new one), an aborted one (the replica killed mid-way: the
primary writable again, the forwarder still on it, nothing lost), and ``--dry-run``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from harness.wait import wait_until

from el_monitor.backup import drill_log
from el_monitor.backup.canary import CanaryStream, beacon_sender, load_template
from el_monitor.backup.failover import FailoverDrill, FailoverPlan
from el_monitor.backup.repoint import ForwarderLink
from el_monitor.ingest.target import parse_target
from el_monitor.store import open_store

from .failover_support import (
    DrillForwarder,
    SteadyStream,
    add_writer,
    canaries_on,
    canary_file,
    drill_command,
    read_only,
    stream_uuids,
    writer_url,
)


@pytest.fixture
def servers(mariadb_servers):
    """A primary (1) and its replica (2), the writer account on both, caught up."""
    primary = mariadb_servers(1)
    replica = mariadb_servers(2)
    replica.replicate_from(primary)
    add_writer(primary)
    replica.wait_caught_up(primary)
    return primary, replica


def test_a_full_drill_under_load_loses_nothing(servers, tmp_path, smtp):
    primary, replica = servers
    catalog = tmp_path / "el-monitor.toml"
    catalog.write_text(
        f'ops = ["ops@example.org"]\n[smtp]\nhost = "127.0.0.1"\nport = {smtp.port}\n'
    )
    forwarder = DrillForwarder(tmp_path / "fw", writer_url(primary))
    stream = SteadyStream(forwarder.port)
    try:
        wait_until(lambda: len(stream_uuids(primary)) >= 200, 60, "the stream on the primary")
        logs = tmp_path / "drills"
        done = drill_command(
            "--primary", primary.url, "--replica", replica.url,
            "--forwarder", str(forwarder.pid_file), "--db-file", str(forwarder.db_file),
            "--canary-url", forwarder.beacon, "--canary-event", str(canary_file(tmp_path)),
            "--report-dir", str(logs), "--catch-up-timeout", "30", "--canary-timeout", "30",
            "--config", str(catalog), "--mail",
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        before = stream.count()
        wait_until(lambda: stream.count() >= before + 100, 60, "the stream going on")
        answered = stream.stop()
        out, err = forwarder.stop()
    finally:
        stream.stop()
        forwarder.kill()
    # The record: passed, every canary found, every phase timed.
    [record] = drill_log.records(logs, "failover")
    assert record.outcome == "passed", done.stdout
    assert record.canaries_sent >= 6 and record.canaries_found == record.canaries_sent
    assert record.missing == () and record.rolled_back == ()
    assert [p.name for p in record.phases] == [
        "pre-flight", "fence", "catch-up", "promote", "re-point", "verify"
    ]  # fmt: skip
    assert all(p.ok for p in record.phases)
    assert "RPO: 0 events lost" in done.stdout
    assert {path.suffix for path in logs.iterdir()} == {".json", ".txt", ".html"}
    # The servers: the old primary fenced, the replica promoted and holding everything.
    assert read_only(primary) == 1 and read_only(replica) == 0
    assert replica.value("SHOW SLAVE STATUS") is None
    stored = stream_uuids(replica)
    assert set(answered) <= stored, f"{len(set(answered) - stored)} accepted events lost"
    # The forwarder: pointed at the replica, its later events there and not on the old primary.
    url = parse_target(forwarder.db_file.read_text())
    assert url is not None and f":{replica.port}/" in url and "el_writer" in url
    assert "database target is now" in err
    assert set(answered[-100:]).isdisjoint(stream_uuids(primary))
    # The mail to ops: the same report, text and HTML, no password.
    [(recipients, mail)] = smtp.handler.messages()
    assert recipients == ["ops@example.org"]
    assert (
        mail["Subject"].startswith("Failover drill PASSED:") and "RPO 0 events" in mail["Subject"]
    )
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "RPO: 0 events lost" in text and "<td>verify</td>" in html
    assert "writer-secret" not in text + html + done.stdout


def test_a_drill_aborted_mid_way_unfences_and_keeps_the_forwarder(servers, tmp_path):
    primary, replica = servers
    forwarder = DrillForwarder(tmp_path / "fw", writer_url(primary))
    original = forwarder.db_file.read_bytes()
    stream = SteadyStream(forwarder.port)
    canaries = CanaryStream(beacon_sender(forwarder.beacon), load_template(canary_file(tmp_path)))
    plan = FailoverPlan(
        primary=primary.url,
        replica=replica.url,
        forwarder=ForwarderLink(forwarder.pid_file, forwarder.db_file),
        canaries=canaries,
        catch_up_timeout=30,
    )

    def replica_dies(phase: str) -> None:
        if phase == "catch-up":
            replica.kill()

    try:
        wait_until(lambda: len(stream_uuids(primary)) >= 100, 60, "the stream on the primary")
        record = FailoverDrill(plan, open_store, hook=replica_dies).run()
        before = stream.count()
        wait_until(lambda: stream.count() >= before + 100, 60, "the stream going on")
        answered = stream.stop()
        wait_until(lambda: set(answered) <= stream_uuids(primary), 60, "all events on the primary")
        sent = canaries.accepted()
        wait_until(lambda: canaries_on(primary, sent) == set(sent), 60, "the canaries")
        _, err = forwarder.stop()
    finally:
        stream.stop()
        forwarder.kill()
    assert record.outcome == "aborted"
    assert [(p.name, p.ok) for p in record.phases] == [
        ("pre-flight", True), ("fence", True), ("catch-up", False)
    ]  # fmt: skip
    assert record.error
    assert record.rolled_back == ("primary unfenced (read_only OFF)",)
    assert read_only(primary) == 0
    assert forwarder.db_file.read_bytes() == original
    assert "database target is now" not in err


def test_a_drill_failing_after_the_re_point_points_the_forwarder_back(servers, tmp_path):
    """Canaries the beacon accepts but validation refuses never reach the new primary: the
    drill aborts after the switch, puts the forwarder back and unfences the primary."""
    primary, replica = servers
    forwarder = DrillForwarder(tmp_path / "fw", writer_url(primary))
    original = forwarder.db_file.read_bytes()
    invalid = load_template(canary_file(tmp_path))
    invalid["event"] = dict(invalid["event"], not_in_the_schema=1)
    canaries = CanaryStream(beacon_sender(forwarder.beacon), invalid)
    plan = FailoverPlan(primary.url, replica.url,
                        ForwarderLink(forwarder.pid_file, forwarder.db_file), canaries,
                        catch_up_timeout=30, canary_timeout=2)  # fmt: skip
    stream = SteadyStream(forwarder.port)
    try:
        wait_until(lambda: len(stream_uuids(primary)) >= 100, 60, "the stream on the primary")
        record = FailoverDrill(plan, open_store).run()
        wait_until(lambda: forwarder.output.text().count("database target is now") == 2, 60,
                   "the forwarder back on the primary")  # fmt: skip
        before = stream.count()
        wait_until(lambda: stream.count() >= before + 100, 60, "the stream going on")
        answered = stream.stop()
        wait_until(lambda: set(answered[-100:]) <= stream_uuids(primary), 60, "back on primary")
        _, err = forwarder.stop()
    finally:
        stream.stop()
        forwarder.kill()
    assert record.outcome == "aborted"
    assert [(p.name, p.ok) for p in record.phases][-1] == ("re-point", False)
    assert "is not on the new primary" in (record.error or "")
    assert record.rolled_back[:2] == (
        "primary unfenced (read_only OFF)", "forwarder pointed back at the primary"
    )  # fmt: skip
    assert "no longer replicates" in record.rolled_back[2]
    assert read_only(primary) == 0
    assert forwarder.db_file.read_bytes() == original
    # Events accepted while it wrote to the promoted replica are there, none lost.
    assert set(answered) <= stream_uuids(primary) | stream_uuids(replica)


def test_a_stopped_replica_fails_the_pre_flight_and_changes_nothing(servers, tmp_path):
    primary, replica = servers
    replica.execute("STOP SLAVE")
    forwarder = DrillForwarder(tmp_path / "fw", writer_url(primary))
    try:
        plan = FailoverPlan(primary.url, replica.url,
                            ForwarderLink(forwarder.pid_file, forwarder.db_file))  # fmt: skip
        record = FailoverDrill(plan, open_store).run()
    finally:
        forwarder.stop()
    assert record.outcome == "aborted"
    assert "replication is not running" in (record.error or "")
    assert [p.name for p in record.phases] == ["pre-flight"] and record.rolled_back == ()
    assert read_only(primary) == 0


def test_dry_run_checks_prints_the_plan_and_changes_nothing(servers, tmp_path):
    primary, replica = servers
    forwarder = DrillForwarder(tmp_path / "fw", writer_url(primary))
    original = forwarder.db_file.read_bytes()
    logs = tmp_path / "drills"
    try:
        done = drill_command(
            "--primary", primary.url, "--replica", replica.url,
            "--forwarder", str(forwarder.pid_file), "--db-file", str(forwarder.db_file),
            "--canary-url", forwarder.beacon, "--canary-event", str(canary_file(tmp_path)),
            "--report-dir", str(logs), "--dry-run",
        )  # fmt: skip
        _, err = forwarder.stop()
    finally:
        forwarder.kill()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "DRY-RUN" in done.stdout and "SET GLOBAL read_only = ON" in done.stdout
    assert f":{replica.port}/test" in done.stdout  # where the forwarder would go
    assert read_only(primary) == 0 and read_only(replica) == 0
    status = replica.slave_status()
    assert status["Slave_IO_Running"] == "Yes" and status["Slave_SQL_Running"] == "Yes"
    assert forwarder.db_file.read_bytes() == original
    assert not logs.exists()
    assert "database target is now" not in err


def test_the_command_refuses_half_a_forwarder(tmp_path):
    done = drill_command(
        "--primary", "mysql://root@127.0.0.1:1/x", "--replica", "mysql://root@127.0.0.1:2/x",
        "--forwarder", str(tmp_path / "pid"),
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "el-monitor: --forwarder and --db-file go together: the pid file and the database "
        "file of the same forwarder"
    ]


def test_the_record_reads_back(tmp_path):
    record = drill_log.DrillRecord(
        kind="failover", started="2026-06-01T12:00:00+00:00", finished="2026-06-01T12:01:00+00:00",
        outcome="passed", primary="mysql://a/x", replica="mysql://b/x",
        phases=(drill_log.Phase("fence", 0.5, True, ""),), canaries_sent=3, canaries_found=3,
    )  # fmt: skip
    path = drill_log.keep(tmp_path, record, [(".txt", "report")])
    assert path.name == "failover-20260601T120000Z.json"
    assert drill_log.DrillRecord.from_json(path.read_bytes()) == record
    assert json.loads(path.read_text())["outcome"] == "passed"
    assert drill_log.last(Path(tmp_path), "failover", passed=True) == record
