"""What ``el-monitor notify`` remembers between calls, on a controlled clock: flapping summarised
once until it settles, the repeat interval, state changes and recoveries, and a state file that
cannot be used or read never stops the alert."""

from __future__ import annotations

import json

from el_monitor.catalog.load import load_catalog
from el_monitor.notify.dispatch import notify

from .support import (
    HOUR,
    OK_OUTPUT,
    PROBLEM_FLAGS,
    RATE_OUTPUT,
    RATE_PERF,
    Clock,
    by_recipient,
    parts,
    problem,
    run_cli,
)


def test_flapping_is_summarised_once_until_it_settles(catalog_path, inbox):
    catalog = load_catalog(catalog_path)
    clock = Clock()
    ok = problem(type="RECOVERY", state="OK", output=OK_OUTPUT, perfdata="rate=80;150;200;0")
    sent = []
    for i in range(8):  # CRITICAL, OK, CRITICAL, ... every 5 minutes
        notify(problem() if i % 2 == 0 else ok, catalog, clock=clock)
        sent.append([m["Subject"] for _, m in inbox.take()])
        clock.now += 300
    assert all(len(s) == 2 for s in sent[:5])  # changes 1..5: mailed as they come
    assert sent[5] == [
        "[el-monitor] FLAPPING: el-rate — NavigationTiming, SaveTiming",
        "[el-monitor] FLAPPING: el-rate — EditAttemptStep",
    ]
    assert sent[6] == sent[7] == []  # held while it keeps flapping
    clock.now += HOUR  # the changes fall out of the window: settled
    notify(problem(), catalog, clock=clock)
    (_, settled), _ = inbox.take()
    assert settled["Subject"].startswith("[el-monitor] PROBLEM: CRITICAL el-rate")
    assert "stopped flapping" in parts(settled)[0]


def test_flapping_summary_text(catalog_path, inbox):
    catalog = load_catalog(catalog_path)
    clock = Clock()
    ok = problem(type="RECOVERY", state="OK", output=OK_OUTPUT, perfdata="rate=80;150;200;0")
    for i in range(6):
        notify(problem() if i % 2 == 0 else ok, catalog, clock=clock)
        clock.now += 60
    summary = by_recipient(inbox.take()[-2:])["perf-team@example.org"]
    text, html, _ = parts(summary)
    assert "el-rate is flapping: 6 changes in the last hour" in text
    assert "el-rate is flapping: 6 changes in the last hour" in html


def test_repeat_interval_state_change_and_recovery(catalog_path, inbox, tmp_path):
    catalog = load_catalog(catalog_path)
    clock = Clock()
    notify(problem(), catalog, clock=clock)
    assert len(inbox.take()) == 2
    clock.now += 30 * 60  # Icinga's reminder: held back
    held = notify(problem(), catalog, clock=clock)
    assert held.messages == () and inbox.take() == []
    assert set(held.held) == {"NavigationTiming", "SaveTiming", "EditAttemptStep"}
    # A schema new to the problem is mailed at once, alone.
    clock.now += 60
    more = problem(output=RATE_OUTPUT + ", HelpPanel 3/s", perfdata=RATE_PERF + " HelpPanel=3")
    notify(more, catalog, clock=clock)
    [(rcpt, message)] = inbox.take()
    assert rcpt == ["ops@example.org"] and message["Subject"].endswith("— HelpPanel")
    # A change of state (CRITICAL -> WARNING) is mailed within the interval.
    clock.now += 60
    notify(problem(state="WARNING"), catalog, clock=clock)
    assert {m["Subject"].split(" el-rate")[0] for _, m in inbox.take()} == {
        "[el-monitor] PROBLEM: WARNING"
    }
    # After the repeat interval the same state is mailed again.
    clock.now += 4 * HOUR + 1
    notify(problem(state="WARNING"), catalog, clock=clock)
    assert len(inbox.take()) == 2
    # Recoveries always go out: to everyone told of the problem (HelpPanel's ops included) ...
    clock.now += 60
    notify(problem(type="RECOVERY", state="OK", output=OK_OUTPUT), catalog, clock=clock)
    assert len(inbox.take()) == 3
    # ... and a second one, with no problem remembered, to ops: an OK line names no culprit.
    clock.now += 60
    notify(problem(type="RECOVERY", state="OK", output=OK_OUTPUT), catalog, clock=clock)
    [(rcpt, message)] = inbox.take()
    assert rcpt == ["ops@example.org"]
    assert message["Subject"] == "[el-monitor] RECOVERY: OK el-rate on eventlogging"
    state = json.loads((tmp_path / "el-monitor-notify.state.json").read_text())
    assert state["services"]["eventlogging!el-rate"]["state"] == "OK"


def test_unusable_or_corrupt_state_file_never_stops_the_alert(
    catalog_path, inbox, tmp_path, capsys
):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    flags = PROBLEM_FLAGS
    status = run_cli(
        "notify", "--config", str(catalog_path), "--state-file", str(blocker / "state.json"), *flags
    )
    assert status == 1 and len(inbox.take()) == 2
    assert "repeats not suppressed: notify state file" in capsys.readouterr().err
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text("{not json")
    assert (
        run_cli("notify", "--config", str(catalog_path), "--state-file", str(corrupt), *flags) == 0
    )
    assert len(inbox.take()) == 2
    assert "eventlogging!el-rate" in json.loads(corrupt.read_text())["services"]
