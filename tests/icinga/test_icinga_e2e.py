"""The Icinga 2 objects in icinga/ end to end, with a real icinga2 and a real Graphite.

A private icinga2 (tests/harness/icinga.py) with those objects runs the real plugins against a
real Graphite (tests/harness/graphite.py) fed like a forwarder with twice the critical 200
events/s: el-rate goes CRITICAL naming NavigationTiming and `el-monitor notify` is called with
the facts as options and environment; when the burst is over it returns to OK and the recovery
is notified.

Skips, saying why, when icinga2, graphite-carbon or graphite-web is not installed; `make test`
installs them through scripts/ensure-monitoring.
"""

from __future__ import annotations

import json
import re
import secrets
import shlex
import stat
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from harness.icinga import IcingaDaemon, missing_reason
from harness.smtp import Inbox
from harness.wait import wait_until

from .forwarder_feed import ForwarderFeed
from .support import CATALOG, PLUGINS, SERVICES, VENV_BIN, project_daemon


def write_bin_dir(directory: Path, notify_log: Path, notify_options: list[str]) -> Path:
    """ElMonitorBin for the end-to-end test: the real plugins and a recording `el-monitor`.

    A plugin is the venv's console script when installed, else a wrapper running its module
    with this Python. `el-monitor` (the notification command's target) records its arguments
    and EL_NOTIFY_* environment as one JSON line in notify_log, then runs the real
    `el-monitor notify` with ``notify_options`` (SMTP server, catalog, state file) added.
    """
    directory.mkdir(parents=True, exist_ok=True)
    for script, module in PLUGINS.values():
        installed = VENV_BIN / script
        target = directory / script
        if installed.exists():
            target.symlink_to(installed)
        else:
            target.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m {module} "$@"\n')
    (directory / "el-monitor").write_text(
        f"""#!{sys.executable}
import json, os, sys
record = {{
    "argv": sys.argv[1:],
    "env": {{k: v for k, v in os.environ.items() if k.startswith("EL_NOTIFY_")}},
}}
with open({str(notify_log)!r}, "a") as f:
    f.write(json.dumps(record) + "\\n")
argv = [{str(VENV_BIN / "el-monitor")!r}, sys.argv[1], *{notify_options!r}, *sys.argv[2:]]
os.execv(argv[0], argv)
"""
    )
    for path in directory.iterdir():
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return directory


def notifications(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def options(argv: list[str]) -> dict[str, str]:
    """`el-monitor notify --type X --host Y ...` as {"--type": "X", ...}."""
    assert argv[0] == "notify", argv
    rest = argv[1:]
    return dict(zip(rest[::2], rest[1::2], strict=True))


def wait_for_notification(
    log: Path,
    icinga: IcingaDaemon,
    host: str,
    service: str,
    kind: str,
    timeout: float,
    state: str | None = None,
) -> dict[str, str]:
    def notified() -> dict[str, str] | None:
        for record in notifications(log):
            opts = options(record["argv"])
            if (opts.get("--host"), opts.get("--service"), opts.get("--type")) == (
                host,
                service,
                kind,
            ) and state in (None, opts.get("--state")):
                env = {"--" + k[len("EL_NOTIFY_") :].lower(): v for k, v in record["env"].items()}
                assert env == opts, "options and EL_NOTIFY_* environment disagree"
                return opts
        return None

    return wait_until(
        notified,
        timeout,
        lambda: (
            f"a {kind} notification for {host}!{service}; got {notifications(log)}\n{icinga.logs()}"
        ),
        interval=0.25,
    )


@dataclass
class E2E:
    """The end-to-end set-up: icinga2 running our objects, and what the test feeds it."""

    icinga: IcingaDaemon
    graphite: Any
    host: str
    prefix: str  # a prefix of our own: the session's Graphite is shared by other tests
    instance: str
    window: int  # seconds: every check's --from
    notify_log: Path
    inbox: Inbox  # what `el-monitor notify` mailed


def notify_catalog(directory: Path) -> Path:
    """The example catalog, for `el-monitor notify`, without its flapping rule.

    How many states el-rate passes through on the way up and down (WARNING, a dip back while
    the window holds few points) depends on where the forwarder's flushes fall, and past
    flap_changes notify mails one flapping summary instead of the PROBLEM and RECOVERY this
    test is about. Flapping is tested on a controlled clock in
    tests/notify/test_notify_state.py.
    """
    text, count = re.subn(r"(?m)^flap_changes\s*=.*$", "flap_changes = 1000", CATALOG.read_text())
    assert count == 1, f"{CATALOG} no longer sets [alerts] flap_changes"
    path = directory / "el-monitor.toml"
    path.write_text(text)
    return path


@pytest.fixture
def e2e(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[E2E]:
    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    if not CATALOG.exists():
        pytest.skip(f"no example catalog at {CATALOG}")
    # Only now: it starts Graphite (or skips, naming the missing graphite packages).
    graphite_server = request.getfixturevalue("graphite_server")
    host, window = "el-e2e", 20
    # Other tests write eventlogging.<instance>.* to the same Graphite: a prefix of our own one
    # level down keeps their points out of our sums (eventlogging.*.overall...) and ours out of
    # theirs, and still gets the project's storage schema for ^eventlogging\.
    prefix = f"eventlogging.e2e{secrets.token_hex(4)}"
    notify_log = tmp_path / "notifications.jsonl"
    smtp = request.getfixturevalue("smtp")
    notify_options = [
        "--config", str(notify_catalog(tmp_path)), "--smtp", f"127.0.0.1:{smtp.port}",
        "--state-file", str(tmp_path / "notify-state.json"), "--graphite", graphite_server.url,
        "--mail-from", "el-monitor@example.org",
    ]  # fmt: skip
    bin_dir = write_bin_dir(tmp_path / "bin", notify_log, notify_options)
    froms = "".join(f'\tvars.{command}_from = "-{window}s"\n' for command in SERVICES.values())
    objects = f"""
object Host "{host}" {{
	check_command = "dummy"
	vars.el_monitor = true
	vars.el_graphite_url = "{graphite_server.url}"
	vars.el_graphite_prefix = "{prefix}"
	vars.el_monitor_catalog = "{CATALOG}"
	vars.el_silence_schema = [ "NavigationTiming" ]
	vars.el_check_interval = 2s
	vars.el_retry_interval = 2s
	vars.el_max_check_attempts = 1
{froms}}}
"""
    daemon = project_daemon(
        bin_dir,
        constants={"ElGraphiteUrl": graphite_server.url, "ElMonitorCatalog": str(CATALOG)},
        objects=objects,
        directory=tmp_path / "icinga",
    )
    ok, output = daemon.validate()
    assert ok, output
    with daemon:
        yield E2E(daemon, graphite_server, host, prefix, "test1", window, notify_log, smtp.handler)


@pytest.mark.e2e
@pytest.mark.graphite  # its Graphite is requested inside the fixture, after the icinga2 check
def test_rate_burst_goes_critical_and_recovers(e2e: E2E) -> None:
    icinga, host, log = e2e.icinga, e2e.host, e2e.notify_log
    burst = {"NavigationTiming": 370.0, "EditAttemptStep": 30.0}  # 400 events/s overall
    calm = {"NavigationTiming": 30.0, "EditAttemptStep": 10.0}  # 40 events/s
    feed = ForwarderFeed(e2e.graphite, e2e.prefix, e2e.instance, e2e.notify_log.parent)
    started = time.time()
    feed.start(burst)
    try:
        e2e.graphite.wait_for(
            f"{e2e.prefix}.{e2e.instance}.overall.raw.rate", from_=f"-{e2e.window}s", timeout=60
        )

        attrs = icinga.wait_for_state(
            host,
            "el-rate",
            "CRITICAL",
            timeout=90,
            predicate=lambda a: "NavigationTiming" in a["last_check_result"]["output"],
        )
        result = attrs["last_check_result"]
        assert result["output"].startswith("EL_RATE CRITICAL"), result["output"]
        command = result["command"]
        assert command[0] == str(log.parent / "bin" / "check_el_rate")
        for expected in (
            ["-w", "150"],
            ["-c", "200"],
            ["--percent", "50"],
            ["--graphite", e2e.graphite.url],
            ["--prefix", e2e.prefix],
        ):
            assert_sublist(expected, command)
        assert f"--from=-{e2e.window}s" in command
        # (Before the forwarder's first flush the check may have been UNKNOWN: no data yet.)
        problem = wait_for_notification(
            log, icinga, host, "el-rate", "PROBLEM", timeout=60, state="CRITICAL"
        )
        assert problem["--state"] == "CRITICAL"
        assert "NavigationTiming" in problem["--output"]
        assert "rate=" in problem["--perfdata"]
        assert int(started) <= int(problem["--time"]) <= time.time()  # the Unix time, now

        # Every service ran its real plugin with arguments it accepts.
        ran = wait_for_all_services(icinga, host, timeout=60)
        silence = ran["el-silence"]["last_check_result"]["command"]
        assert_sublist(["--schema", "NavigationTiming"], silence)
        assert not any(a.startswith("--lookback") for a in silence)  # unset: plugin default

        feed.change(calm)  # the burst is over
        calm_since = time.time()
        attrs = icinga.wait_for_state(host, "el-rate", "OK", timeout=90, since=calm_since)
        assert attrs["last_check_result"]["output"].startswith("EL_RATE OK")
        recovery = wait_for_notification(log, icinga, host, "el-rate", "RECOVERY", timeout=60)
        assert recovery["--state"] == "OK"
        # The real `el-monitor notify` mailed NavigationTiming's owners a PROBLEM, then a
        # RECOVERY (the example catalog: perf-team@example.org).
        mails = wait_for_mails(e2e.inbox, ["PROBLEM", "RECOVERY"], timeout=60)
        for kind, (recipients, message) in mails.items():
            assert "perf-team@example.org" in recipients, (kind, recipients)
            assert "NavigationTiming" in message["Subject"], message["Subject"]
            assert message.get_body(("plain",)).get_content()
        assert feed.error is None, feed.error
    finally:
        feed.stop()
    print(
        f"burst to CRITICAL and back to OK in {time.time() - started:.1f} s "
        f"(icinga2 started in {icinga.startup_seconds:.1f} s)"
    )


def wait_for_mails(
    inbox: Inbox, kinds: list[str], timeout: float
) -> dict[str, tuple[list[str], Any]]:
    """The first el-rate mail about NavigationTiming whose subject names each kind (PROBLEM,
    RECOVERY); an earlier UNKNOWN (no data yet) goes to ops and is not one of them."""

    def mailed() -> dict[str, tuple[list[str], Any]] | None:
        found: dict[str, tuple[list[str], Any]] = {}
        for recipients, message in inbox.messages():
            for kind in kinds:
                subject = message["Subject"]
                words = subject.split()
                if f"{kind}:" in words and "el-rate" in words and "NavigationTiming" in subject:
                    found.setdefault(kind, (recipients, message))
        return found if len(found) == len(kinds) else None

    return wait_until(
        mailed,
        timeout,
        lambda: f"el-rate mails {kinds}; got {[m['Subject'] for _, m in inbox.messages()]}",
        interval=0.25,
    )


def assert_sublist(part: list[str], whole: list[str]) -> None:
    n = len(part)
    assert any(whole[i : i + n] == part for i in range(len(whole) - n + 1)), (part, whole)


def wait_for_all_services(icinga: IcingaDaemon, host: str, timeout: float) -> dict[str, Any]:
    """Each of the five services has a result that is not a usage error or a missing binary."""
    services: dict[str, Any] = {}

    def results() -> dict[str, Any]:
        services.update({k.split("!", 1)[1]: v for k, v in icinga.services(host).items()})
        return {name: (services.get(name, {}).get("last_check_result") or {}) for name in SERVICES}

    wait_until(
        lambda: all(results().values()),
        timeout,
        lambda: (
            f"every service of {host} to run: {[n for n, r in results().items() if not r]}"
            f" never ran\n{icinga.logs()}"
        ),
        interval=0.5,
    )
    for name, result in results().items():
        assert result, f"{host}!{name} never ran\n{icinga.logs()}"
        output = result["output"]
        assert "--help)" not in output and "usage:" not in output.lower(), (name, output)
        assert "execvpe" not in output and "No such file" not in output, (name, output)
    return services
