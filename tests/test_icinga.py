"""The Icinga 2 objects in icinga/, checked by a real icinga2 (Debian's icinga2-bin).

1. `icinga2 daemon -C` accepts commands.conf, notifications.conf and services.conf with
   constants.conf.example copied in (ElMonitorBin = this venv's bin directory); the resolved
   objects run the venv's console scripts, every argument is an option the plugin accepts and
   is fed by an el_<plugin>_<param> variable.
2. End to end: a private icinga2 (tests/harness/icinga.py) with those objects runs the real
   plugins against a real Graphite (tests/harness/graphite.py) fed like a forwarder with twice
   the critical 200 events/s: el-rate goes CRITICAL naming NavigationTiming and `el-monitor
   notify` is called with the facts as options and environment; when the burst is over it
   returns to OK and the recovery is notified.

Both skip, saying why, when icinga2 (or, for 2, graphite-carbon/graphite-web) is not installed;
`make test` installs them through scripts/ensure-monitoring.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import secrets
import shlex
import signal
import stat
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from harness.icinga import IcingaDaemon, constants_from_example, missing_reason
from harness.smtp import Inbox
from harness.wait import wait_until
from helpers import SCHEMAS, example_capsules, udp_socket

ROOT = Path(__file__).resolve().parents[1]
ICINGA_DIR = ROOT / "icinga"
CONFIG_FILES = [ICINGA_DIR / f"{name}.conf" for name in ("commands", "notifications", "services")]
CONSTANTS_EXAMPLE = ICINGA_DIR / "constants.conf.example"
CATALOG = ROOT / "examples" / "el-monitor.toml"
VENV_BIN = Path(sysconfig.get_path("scripts"))
# CheckCommand -> (console script, module with main(argv))
PLUGINS = {
    "el_rate": ("check_el_rate", "el_monitor.checks.rate"),
    "el_schema_rate": ("check_el_schema_rate", "el_monitor.checks.schema_rate"),
    "el_invalid": ("check_el_invalid", "el_monitor.checks.invalid"),
    "el_inserted": ("check_el_inserted", "el_monitor.checks.inserted"),
    "el_silence": ("check_el_silence", "el_monitor.checks.silence"),
}
SERVICES = {  # service (services.conf) -> CheckCommand
    "el-rate": "el_rate",
    "el-schema-rate": "el_schema_rate",
    "el-invalid": "el_invalid",
    "el-inserted": "el_inserted",
    "el-silence": "el_silence",
}
NOTIFY_OPTIONS = ["--type", "--host", "--service", "--state", "--output", "--perfdata", "--time"]

needs_icinga = pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason()))


def project_daemon(bin_dir: Path, **kwargs: Any) -> IcingaDaemon:
    """An IcingaDaemon with the project's objects and constants.conf.example (ElMonitorBin set)."""
    overrides = {"ElMonitorBin": str(bin_dir), **kwargs.pop("constants", {})}
    return IcingaDaemon(
        config_files=CONFIG_FILES,
        constants=constants_from_example(CONSTANTS_EXAMPLE, overrides),
        **kwargs,
    )


def by_type(objects: Iterable[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    """Objects of one type by full name (a Service is "host!service")."""
    return {o["properties"]["__name"]: o["properties"] for o in objects if o["type"] == kind}


# --- 1. icinga2 daemon -C -------------------------------------------------------------------


@needs_icinga
def test_project_objects_validate(tmp_path: Path) -> None:
    daemon = project_daemon(VENV_BIN, directory=tmp_path / "icinga")
    ok, output = daemon.validate()
    assert ok, output
    assert "warning/" not in output, output
    objects = daemon.objects_dump()

    commands = by_type(objects, "CheckCommand")
    for name, (script, _module) in PLUGINS.items():
        assert commands[name]["command"] == [str(VENV_BIN / script)]
        assert os.access(VENV_BIN / script, os.X_OK), f"{script} not installed: pip install -e ."
    notify = by_type(objects, "NotificationCommand")["el-monitor-notify"]
    assert notify["command"] == [str(VENV_BIN / "el-monitor"), "notify"]
    assert sorted(notify["arguments"]) == sorted(NOTIFY_OPTIONS)
    assert sorted(notify["env"]) == sorted(
        "EL_NOTIFY_" + option[2:].upper() for option in NOTIFY_OPTIONS
    )
    for option in NOTIFY_OPTIONS:  # the option and its variable carry the same macro
        env = "EL_NOTIFY_" + option[2:].upper()
        assert notify["arguments"][option]["value"] == notify["env"][env]

    services = by_type(objects, "Service")
    example = {name: services[f"eventlogging!{name}"] for name in SERVICES}
    for name, command in SERVICES.items():
        assert example[name]["check_command"] == command
        assert example[name]["check_interval"] == 60
        assert example[name]["vars"]["el_monitor"] is True
    notifications = by_type(objects, "Notification")
    for name in SERVICES:
        notification = notifications[f"eventlogging!{name}!el-monitor"]
        assert notification["command"] == "el-monitor-notify"
        assert notification["user_groups"] == ["el-monitor"]
    host = by_type(objects, "Host")["eventlogging"]
    assert host["vars"]["el_graphite_url"] == "http://127.0.0.1:8080"  # ElGraphiteUrl


@needs_icinga
def test_arguments_match_the_plugins(tmp_path: Path) -> None:
    """Every argument is an option of its plugin, fed by an el_<plugin>_<param> variable."""
    daemon = project_daemon(VENV_BIN, directory=tmp_path / "icinga")
    ok, output = daemon.validate()
    assert ok, output
    commands = by_type(daemon.objects_dump(), "CheckCommand")
    for name, (_script, module_name) in PLUGINS.items():
        module = importlib.import_module(module_name)
        accepted = {s for a in module.build_parser()._actions for s in a.option_strings}
        for option, spec in commands[name]["arguments"].items():
            assert option in accepted, f"{name}: {option} is not an option of {module_name}"
            macro = spec.get("value") or spec.get("set_if")
            assert macro.startswith(f"${name}_") and macro.endswith("$"), (name, option, macro)


def test_console_scripts_are_declared() -> None:
    """ElMonitorBin + "/check_el_*" only works when pip installs those console scripts."""
    import tomllib

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    for script, module in PLUGINS.values():
        assert script in scripts, f"pyproject.toml [project.scripts] lacks {script}"
        assert scripts[script] == f"{module}:main"
    assert "el-monitor" in scripts


@needs_icinga
def test_validate_catches_a_missing_constant(tmp_path: Path) -> None:
    """validate() is not vacuous: without constants.conf, ElMonitorBin is undefined."""
    daemon = IcingaDaemon(config_files=CONFIG_FILES, directory=tmp_path / "icinga")
    ok, output = daemon.validate()
    assert not ok
    assert "ElMonitorBin" in output, output


# --- 2. end to end --------------------------------------------------------------------------


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


class ForwarderFeed:
    """A real forwarder (``el-monitor forward --graphite``, flushing every second) fed over
    UDP at the current rates (events/s per schema): what Icinga sees is what production would
    send, emitter included.

    The feed keeps to its rates by the clock: each tick sends what is due since the rates were
    set, less what was sent, so a tick that runs late on a loaded machine is made up for by the
    next rather than lowering the rate (a burst that sagged below the critical threshold under
    load once left el-rate WARNING, or flipping between WARNING and CRITICAL)."""

    def __init__(self, graphite: Any, prefix: str, instance: str, directory: Path) -> None:
        import socket

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        carbon_host, carbon_port = graphite.carbon
        self.process = subprocess.Popen(
            [sys.executable, "-m", "el_monitor.cli", "forward", "--schemas", str(SCHEMAS),
             "--db", f"sqlite:///{directory / 'el.db'}", "--input", f"udp://127.0.0.1:{self.port}",
             "--graphite", f"{carbon_host}:{carbon_port}", "--graphite-prefix", prefix,
             "--instance", instance, "--graphite-interval", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        self._rates: tuple[dict[str, float], float] = ({}, 0.0)  # rates, and since when
        self.sent = 0
        self._samples = {c["schema"]: c for c in example_capsules()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="forwarder-feed", daemon=True)
        self.error: BaseException | None = None

    def start(self, rates: Mapping[str, float]) -> None:
        def bound() -> bool:
            assert self.process.poll() is None, self.process.communicate()[1].decode()
            return udp_socket(self.port) is not None

        wait_until(bound, 60, f"the forwarder to bind udp://127.0.0.1:{self.port}")
        self.change(rates)
        self._thread.start()

    def change(self, rates: Mapping[str, float]) -> None:
        """Feed at these rates from now on."""
        self._rates = (dict(rates), time.monotonic())

    def _run(self) -> None:
        import socket

        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
                current: tuple[dict[str, float], float] = ({}, 0.0)
                sent: dict[str, int] = {}
                # The tick only paces the sending (events go out in tenths of a second, as
                # from real clients); how many go out is decided by the clock below.
                while not self._stop.wait(0.1):
                    if self._rates is not current:
                        current, sent = self._rates, {}
                    rates, since = current
                    elapsed = time.monotonic() - since
                    for schema, rate in rates.items():
                        due = int(rate * elapsed) - sent.get(schema, 0)
                        sent[schema] = sent.get(schema, 0) + max(due, 0)
                        lines = [self._event(schema) for _ in range(due)]
                        for start in range(0, len(lines), 10):
                            sender.sendto(
                                b"\n".join(lines[start : start + 10]), ("127.0.0.1", self.port)
                            )
        except BaseException as exc:  # surfaced by the test
            self.error = exc

    def _event(self, schema: str) -> bytes:
        self.sent += 1
        capsule = dict(self._samples[schema], uuid=f"{self.sent:032x}")
        return json.dumps(capsule).encode()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.process.send_signal(signal.SIGTERM)
        self.process.communicate(timeout=30)


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
    test is about. Flapping is tested on a controlled clock in test_notify.py.
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
