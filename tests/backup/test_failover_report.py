"""A drill's report compares each phase with the last drill in the log, in text and HTML."""

from __future__ import annotations

from dataclasses import replace

from el_monitor.backup.drill_log import DrillRecord, Phase, ReplicaOutcome, keep, last
from el_monitor.backup.drill_report import DrillReport


def record(started: str, fence: float, verify: float, outcome: str = "passed") -> DrillRecord:
    return DrillRecord(
        kind="failover", started=started, finished=started, outcome=outcome,
        primary="mysql://el:***@db1/log", replica="mysql://el:***@db2/log",
        phases=(Phase("fence", fence, True), Phase("catch-up", 1.0, True, "GTID 0-1-9"),
                Phase("verify", verify, True)),
        canaries_sent=40, canaries_found=40,
    )  # fmt: skip


def test_the_next_drill_prints_its_phase_deltas_against_the_last(tmp_path):
    first = record("2026-06-01T03:00:00+00:00", fence=0.25, verify=2.0)
    keep(tmp_path, first, [])
    second = record("2026-12-01T03:00:00+00:00", fence=0.75, verify=1.5)
    report = DrillReport(second, last(tmp_path, "failover"))
    text = report.text()
    lines = {line.split()[0]: line for line in text.splitlines() if line[:1].isalpha()}
    assert lines["fence"].split()[1:4] == ["0.75", "+0.50", "s"]
    assert lines["verify"].split()[1:4] == ["1.50", "-0.50", "s"]
    assert "(last drill: passed on 2026-06-01T03:00:00+00:00)" in text
    assert "RTO (fence to forwarder writing again): 1.75 s" in text
    assert "RPO: 0 events lost (40 of 40 canaries on the new primary)" in text
    html = report.html()
    assert '<td>fence</td><td align="right">0.75</td><td align="right">+0.50 s</td>' in html


def test_the_first_drill_has_nothing_to_compare_with():
    text = DrillReport(record("2026-06-01T03:00:00+00:00", 0.25, 2.0), None).text()
    assert "(no earlier drill in the log to compare with)" in text
    [fence] = [line for line in text.splitlines() if line.startswith("fence")]
    assert fence.split() == ["fence", "0.25", "-", "ok"]


def test_the_other_replicas_outcomes_are_kept_and_reported(tmp_path):
    moved = ReplicaOutcome("mysql://el@db3/log", "moved", "replicates from db2:3306", 40)
    back = ReplicaOutcome("mysql://el@db4/log", "put back", "replicates from db1:3306 again")
    drill = replace(record("2026-06-01T03:00:00+00:00", 0.25, 2.0), other_replicas=(moved, back))
    keep(tmp_path, drill, [])
    assert last(tmp_path, "failover") == drill  # read back from its JSON
    report = DrillReport(drill, None)
    text = report.text()
    assert "Other replicas:\n  mysql://el@db3/log: moved (replicates from db2:3306)\n" in text
    assert "  mysql://el@db4/log: put back (replicates from db1:3306 again)\n" in text
    assert "<li>mysql://el@db4/log: <strong>put back</strong>" in report.html()
