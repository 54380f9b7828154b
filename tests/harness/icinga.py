"""A private Icinga 2 for tests: Debian's icinga2-bin in a temporary directory.

    with IcingaDaemon(config_files=[ROOT / "icinga/commands.conf"], objects=TEST_OBJECTS,
                      constants={"ElMonitorBin": "/path/to/bin"}) as icinga:
        attrs = icinga.wait_for_state("host", "service", "CRITICAL", timeout=30)
        icinga.output("host", "service")        # last_check_result.output
        icinga.reschedule("host", "service")    # check now

    ok, output = IcingaDaemon(...).validate()   # `icinga2 daemon -C`, no daemon started

This module starts and stops the daemon (found out on icinga2 2.13.6, Debian 12); what it is
configured with is icinga_config.py, and its REST API is icinga_api.py.

- User: `-DConfiguration.RunAsUser/RunAsGroup` = the user running the tests (root in the
  container). Without them icinga2, started as root, drops to `nagios` (created by
  icinga2-common) even for `icinga2 pki ...` and fails on our root-owned directories. icinga2
  does not refuse to run as root; it re-execs itself with --no-stack-rlimit on its own.
- API: a self-signed certificate made by `icinga2 pki new-cert --cert` (also used as the CA).
- Processes: `icinga2 daemon` is an umbrella process, a worker and a process-spawn helper, in
  the session the harness starts. Plugins are started in sessions of their own and outlive a
  graceful shutdown, so every process started here carries a marker in its environment
  (EL_TEST_ICINGA=<token>, inherited by the plugins) and stop() kills whatever still carries it.
  The umbrella gets SIGTERM when the process that started it dies (PR_SET_PDEATHSIG; the
  worker has no such link: SIGKILL on the umbrella orphans it), so a killed pytest still shuts
  icinga2 down.
"""

from __future__ import annotations

import contextlib
import grp
import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import requests

from harness.icinga_api import STATE_NAMES, IcingaApi, IcingaError, short_result, state_code
from harness.icinga_config import DIRS, api_objects, constants_text, main_config, read_objects
from harness.processes import (
    PortTaken,
    free_ports,
    pgid,
    pids_with_marker,
    retry_taken_ports,
    tail,
    term_with_parent,
)
from harness.wait import wait_until

ICINGA2 = "icinga2"
ICINGA2_SBIN = Path("/usr/sbin/icinga2")  # not on a non-root user's PATH


def icinga2_binary() -> str | None:
    """Path of the icinga2 command, or None when icinga2-bin is not installed."""
    return shutil.which(ICINGA2) or (str(ICINGA2_SBIN) if ICINGA2_SBIN.exists() else None)


def missing_reason() -> str | None:
    """Why an Icinga test cannot run here (None when it can)."""
    if icinga2_binary() is None:
        return (
            "icinga2 is not installed (Debian package icinga2-bin); `make test` installs it "
            "through scripts/ensure-monitoring when run as root"
        )
    if not Path("/usr/share/icinga2/include/itl").exists():
        return "the Icinga Template Library is missing (Debian package icinga2-common)"
    return None


class IcingaDaemon:
    """A private icinga2 daemon; a context manager (start on enter, stop on exit).

    config_files: Icinga config files included, in order, after the constants (the project's
                  icinga/*.conf).
    objects:      more config text (test hosts, services), written to test-objects.conf.
    constants:    the text of constants.conf, or a mapping of constant name -> string value.
    directory:    where everything goes; a new temporary directory (removed on stop) when None.
                  A given directory is kept, logs included.
    env:          extra environment for the daemon and so for every plugin it runs.
    """

    def __init__(
        self,
        *,
        config_files: Iterable[str | os.PathLike[str]] = (),
        objects: str = "",
        constants: str | Mapping[str, str] = "",
        directory: str | os.PathLike[str] | None = None,
        node_name: str = "el-monitor-test",
        env: Mapping[str, str] | None = None,
        log_severity: str = "information",
        startup_timeout: float = 30.0,
    ) -> None:
        self._own_dir = directory is None
        # Absolute: icinga2 resolves a relative include against "/", not the config's directory.
        self.dir = Path(directory or tempfile.mkdtemp(prefix="el-monitor-icinga-")).resolve()
        self.config_files = [Path(p).resolve() for p in config_files]
        self.objects = objects
        self.constants = constants_text(constants)
        self.node_name = node_name
        self.extra_env = dict(env or {})
        self.log_severity = log_severity
        self.startup_timeout = startup_timeout
        self.conf = self.dir / "icinga2.conf"
        self.log_file = self.dir / "log" / "icinga2.log"
        self.console_log = self.dir / "log" / "console.log"
        self.rest = IcingaApi("el-monitor-test", secrets.token_hex(16))
        self._marker = f"EL_TEST_ICINGA={secrets.token_hex(8)}"
        self._proc: subprocess.Popen[bytes] | None = None
        self.startup_seconds: float | None = None

    # ---- public API ------------------------------------------------------------------------

    def __enter__(self) -> IcingaDaemon:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def defines(self) -> list[str]:
        """The -D options that keep icinga2 inside self.dir and running as the current user."""
        user = pwd.getpwuid(os.geteuid()).pw_name
        group = grp.getgrgid(os.getegid()).gr_name
        out = [f"-DConfiguration.{name}={self.dir / sub}" for name, sub in DIRS.items()]
        out += [f"-DConfiguration.RunAsUser={user}", f"-DConfiguration.RunAsGroup={group}"]
        return out

    def validate(self) -> tuple[bool, str]:
        """`icinga2 daemon -C` on the configuration: (valid, everything icinga2 printed).

        The ApiListener is left out (it wants its certificate to exist even to validate), so
        this needs no key generation; start() validates again with it anyway.
        """
        self._write_config(api=False)
        result = self._icinga2(["daemon", "-C", "-c", str(self.conf)], check=False)
        return result.returncode == 0, result.stdout

    def objects_dump(self) -> list[dict[str, Any]]:
        """Every object of the last validate()/start(), from icinga2's objects file.

        Each is {"type", "name", "properties": {...}}: the resolved attributes (a CheckCommand's
        `command` as the list it runs, its `arguments` and `vars`).
        """
        return read_objects(self.dir / DIRS["CacheDir"] / "icinga2.debug")

    def start(self) -> None:
        reason = missing_reason()
        if reason:
            raise IcingaError(reason)
        started = time.monotonic()
        self._write_config()
        self._make_certificate()
        try:
            retry_taken_ports(
                self._start_once,
                self._stop_processes,
                lambda: IcingaError("the API could not bind a free port\n" + self.logs()),
            )
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started

    def _start_once(self) -> None:
        self.rest.port = free_ports(1)[0]
        self._write_config()
        self._spawn()
        self._wait_ready()

    def stop(self) -> None:
        self._stop_processes()
        self.rest.close()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """One REST API call (path after /v1); the decoded JSON answer. Raises on HTTP errors."""
        return self.rest.call(method, path, **kwargs)

    def service(self, host: str, service: str) -> dict[str, Any]:
        """The attributes of one service (state, last_check_result, last_hard_state, ...)."""
        return self.rest.service(host, service)

    def services(self, host: str | None = None) -> dict[str, dict[str, Any]]:
        """Attributes of every service (of one host), by "host!service"."""
        return self.rest.services(host)

    def output(self, host: str, service: str) -> str | None:
        """last_check_result.output of a service (None before its first check)."""
        return self.rest.output(host, service)

    def reschedule(self, host: str, service: str) -> None:
        """Run the service's check now (reschedule-check with force)."""
        self.rest.reschedule(host, service)

    def wait_for_state(
        self,
        host: str,
        service: str,
        state: int | str,
        timeout: float = 30.0,
        *,
        since: float | None = None,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        poll: float = 0.5,
    ) -> dict[str, Any]:
        """Poll until the service is in `state` (OK, WARNING, CRITICAL, UNKNOWN or 0-3).

        since:     only a check that ended after this Unix time counts.
        predicate: must also hold for the attributes (e.g. on the output).
        Returns the attributes; on timeout AssertionError with the last result and the log.
        """
        wanted = state_code(state)
        attrs: dict[str, Any] = {}

        def reached() -> dict[str, Any] | None:
            nonlocal attrs
            self._check_alive()
            attrs = self.service(host, service)
            result = attrs.get("last_check_result") or {}
            if (
                result
                and int(attrs["state"]) == wanted
                and (since is None or result.get("execution_end", 0) >= since)
                and (predicate is None or predicate(attrs))
            ):
                return attrs
            return None

        def last_seen() -> str:
            result = attrs.get("last_check_result") or {}
            return (
                f"{host}!{service} to be {STATE_NAMES[wanted]}; "
                f"state {STATE_NAMES.get(int(attrs.get('state', 3)))}, last result: "
                f"{json.dumps(short_result(result), indent=1)}\n{self.logs()}"
            )

        return wait_until(reached, timeout, last_seen, interval=poll)

    def logs(self, lines: int = 40) -> str:
        """The tail of icinga2's log (and of its console output), for failure messages."""
        return "\n".join(
            f"--- {path} (last {lines} lines)\n{tail(path, lines)}"
            for path in (self.log_file, self.console_log)
        )

    # ---- internals ---------------------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        name, value = self._marker.split("=", 1)
        return {**os.environ, **self.extra_env, name: value}

    def _icinga2(self, args: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        binary = icinga2_binary()
        if binary is None:
            raise IcingaError(missing_reason() or "icinga2 not found")
        result = subprocess.run(
            [binary, *args, *self.defines()],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=self._env(),
            timeout=120,
        )
        if check and result.returncode != 0:
            raise IcingaError(f"icinga2 {' '.join(args)} failed:\n{result.stdout}")
        return result

    def _write_config(self, api: bool = True) -> None:
        for sub in DIRS.values():
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        (self.dir / "constants.conf").write_text(self.constants)
        (self.dir / "test-objects.conf").write_text(self.objects)
        includes = [self.dir / "constants.conf", *self.config_files, self.dir / "test-objects.conf"]
        listener = api_objects(self.rest.port, self.rest.user, self.rest.password) if api else ""
        self.conf.write_text(main_config(self.node_name, self.log_severity, listener, includes))

    def _make_certificate(self) -> None:
        """A self-signed node certificate, which is also the CA, where the ApiListener looks."""
        certs = self.dir / DIRS["DataDir"] / "certs"
        certs.mkdir(parents=True, exist_ok=True)
        crt = certs / f"{self.node_name}.crt"
        if crt.exists():
            return
        key = certs / f"{self.node_name}.key"
        self._icinga2(
            ["pki", "new-cert", "--cn", self.node_name, "--key", str(key), "--cert", str(crt)]
        )
        shutil.copyfile(crt, certs / "ca.crt")

    def _spawn(self) -> None:
        binary = icinga2_binary()
        assert binary is not None
        self.console_log.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.unlink(missing_ok=True)  # a retry must not see the last try's errors
        with open(self.console_log, "wb") as console:
            self._proc = subprocess.Popen(
                [binary, "daemon", "-c", str(self.conf), *self.defines()],
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                env=self._env(),
                start_new_session=True,
                preexec_fn=term_with_parent,
            )

    def _check_alive(self) -> None:
        if self._proc is None or self._proc.poll() is not None:
            code = None if self._proc is None else self._proc.returncode
            raise IcingaError(f"icinga2 is not running (exit status {code})\n{self.logs()}")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while True:
            self._check_alive_for_start()
            with contextlib.suppress(requests.RequestException, IcingaError):
                answer = self.api("GET", "/status/IcingaApplication", timeout=2)
                if answer.get("results"):
                    return
            if time.monotonic() > deadline:
                raise IcingaError(
                    f"icinga2's API did not answer within {self.startup_timeout}s\n{self.logs()}"
                )
            time.sleep(0.2)

    def _check_alive_for_start(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            text = tail(self.log_file, 200) + tail(self.console_log, 200)
            if "Address already in use" in text or "Cannot bind" in text:
                raise PortTaken
            return
        self._check_alive()

    def _stop_processes(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)  # the umbrella passes it to the worker
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        marker = self._marker.encode()
        if proc is not None:
            # The umbrella exits at once; the worker still writes its state file. Let it finish.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and any(
                pgid(pid) == proc.pid for pid in pids_with_marker(marker)
            ):
                time.sleep(0.1)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)  # worker and spawn helper, if left
        # Plugins run in sessions of their own and outlive the daemon: find them by marker.
        for _ in range(50):
            pids = pids_with_marker(marker)
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)
