"""A private Graphite for tests: Debian's carbon-cache and graphite-web on free 127.0.0.1 ports.

    with GraphiteServer(tmp_dir) as graphite:
        graphite.send(["eventlogging.a.overall.raw.count 12 1700000000"])
        series = graphite.wait_for("eventlogging.a.overall.raw.count", from_="1699999990")
        graphite.url        # http://127.0.0.1:PORT, the render API is graphite.url + "/render"
        graphite.carbon     # ("127.0.0.1", PORT), carbon's plaintext line receiver

Everything lives under one directory (config, whisper files, sqlite, logs, pid files); the
system's /etc/carbon, /etc/graphite and /var/lib/graphite are never read or written. This
module starts and stops the processes; what they are configured with is graphite_config.py,
and asking the render API is graphite_render.py.

- carbon-cache (graphite-carbon, /usr/bin/carbon-cache) runs in the foreground from a private
  carbon.conf.
- graphite-web (the Django app in /usr/lib/python3/dist-packages/graphite) runs under the
  SYSTEM python3 (Debian's Django, not the venv's) in a threaded wsgiref server.

Both processes run in their own session and get SIGKILL when the process that started them
dies (PR_SET_PDEATHSIG), so a killed pytest leaves no orphan; stop() terminates, then kills,
each whole process group.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from harness import graphite_render
from harness.graphite_config import (
    PROJECT_AGGREGATION,
    PROJECT_SCHEMAS,
    TEST_RETENTIONS,
    GraphiteDirs,
    write_port_config,
    write_static_config,
)
from harness.graphite_render import GraphiteError, Series
from harness.processes import PortTaken, free_ports, port_open, retry_taken_ports, tail

CARBON_CACHE = Path("/usr/bin/carbon-cache")
SYSTEM_PYTHON = Path("/usr/bin/python3")
SETPRIV = Path("/usr/bin/setpriv")
GRAPHITE_WEB = Path("/usr/lib/python3/dist-packages/graphite/settings.py")
# What each needed file comes from, for the skip message.
REQUIRED = {CARBON_CACHE: "graphite-carbon", GRAPHITE_WEB: "graphite-web", SYSTEM_PYTHON: "python3"}


def missing_packages() -> list[str]:
    """Debian packages whose files the harness needs and cannot find (empty when all there)."""
    return sorted({pkg for path, pkg in REQUIRED.items() if not path.exists()})


class GraphiteServer:
    """A private carbon-cache + graphite-web; a context manager (start on enter, stop on exit).

    directory:   where config, data and logs go; a new temporary directory (removed on stop)
                 when None. A given directory is kept, logs included.
    retentions:  replaces every schema's retentions (None keeps the configured ones).
    schemas, aggregation: storage-schemas.conf / storage-aggregation.conf to use (default: the
                 project's, else a built-in fallback).
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        *,
        retentions: str | None = TEST_RETENTIONS,
        schemas: str | os.PathLike[str] | None = None,
        aggregation: str | os.PathLike[str] | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        self._own_dir = directory is None
        self.dir = Path(directory or tempfile.mkdtemp(prefix="el-monitor-graphite-"))
        self.retentions = retentions
        self.schemas_source = Path(schemas) if schemas else PROJECT_SCHEMAS
        self.aggregation_source = Path(aggregation) if aggregation else PROJECT_AGGREGATION
        self.startup_timeout = startup_timeout
        self.dirs = GraphiteDirs(self.dir)
        self.conf_dir = self.dirs.conf
        self.storage_dir = self.dirs.storage
        self.whisper_dir = self.dirs.whisper
        self.log_dir = self.dirs.log
        self.web_dir = self.dirs.web
        self.carbon_log = self.log_dir / "carbon-cache.log"
        self.web_log = self.log_dir / "graphite-web.log"
        self.line_port = self.pickle_port = self.query_port = self.web_port = 0
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[Any] = []
        self.startup_seconds: float | None = None

    # ---- public API ------------------------------------------------------------------------

    @property
    def carbon(self) -> tuple[str, int]:
        """(host, port) of carbon's plaintext line receiver."""
        return ("127.0.0.1", self.line_port)

    @property
    def pickle(self) -> tuple[str, int]:
        return ("127.0.0.1", self.pickle_port)

    @property
    def url(self) -> str:
        """Base URL of graphite-web; the render API is at url + '/render'."""
        return f"http://127.0.0.1:{self.web_port}"

    def __enter__(self) -> GraphiteServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        missing = missing_packages()
        if missing:
            raise GraphiteError(f"not installed: {', '.join(missing)}")
        started = time.monotonic()
        write_static_config(
            self.dirs, self.schemas_source, self.aggregation_source, self.retentions
        )
        try:
            retry_taken_ports(
                self._start_once,
                self._stop_processes,
                lambda: GraphiteError("carbon-cache could not bind free ports\n" + self.logs()),
            )
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started

    def stop(self) -> None:
        self._stop_processes()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def send(self, lines: str | Iterable[str | tuple[str, float, float]]) -> None:
        """Send plaintext lines ("name value timestamp") or (name, value, timestamp) tuples."""
        if isinstance(lines, str):
            lines = [lines]
        text = "".join(
            (line if isinstance(line, str) else f"{line[0]} {line[1]} {int(line[2])}").rstrip("\n")
            + "\n"
            for line in lines
        )
        with socket.create_connection(self.carbon, timeout=5) as sock:
            sock.sendall(text.encode())

    def render(
        self,
        target: str | Sequence[str],
        from_: str | int = "-1h",
        until: str | int = "now",
        timeout: float = 10.0,
        **params: Any,
    ) -> Series:
        """GET /render?format=json for one or several targets; the decoded list of series."""
        return graphite_render.render(
            self.url, target, from_, until, timeout, logs=self.logs, **params
        )

    def wait_for(
        self,
        target: str | Sequence[str],
        predicate: Callable[[Series], bool] | None = None,
        timeout: float = 30.0,
        from_: str | int = "-1h",
        until: str | int = "now",
        **params: Any,
    ) -> Series:
        """Poll the render API until `predicate(series)` holds; return that answer.

        The default predicate: some series has a non-null point. A render that reads a whisper
        file carbon is still creating is "not yet". On timeout, AssertionError with the last
        answer (or error) and the servers' logs.
        """
        return graphite_render.wait_for(
            self.url, target, predicate, timeout, from_, until, logs=self.logs, **params
        )

    def logs(self, lines: int = 40) -> str:
        """The tail of each server's log, for failure messages."""
        return "\n".join(
            f"--- {path} (last {lines} lines)\n{tail(path, lines)}"
            for path in (self.carbon_log, self.web_log)
        )

    # ---- internals ---------------------------------------------------------------------------

    def _write_port_config(self) -> None:
        self.line_port, self.pickle_port, self.query_port = free_ports(3)
        write_port_config(self.dirs, self.line_port, self.pickle_port, self.query_port)

    def _spawn(self, name: str, argv: list[str], log: Path) -> subprocess.Popen[bytes]:
        # Debian's python3, not the venv's: drop anything that would redirect its imports.
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("PYTHON") and k not in ("VIRTUAL_ENV", "DJANGO_SETTINGS_MODULE")
        }
        env["TZ"] = "UTC"
        env["PYTHONWARNINGS"] = "ignore"  # twisted's cryptography deprecations drown the log
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        out = open(log, "ab")  # noqa: SIM115 - kept open for the process's life
        self._logs.append(out)
        # setpriv (util-linux, Essential in Debian) sets the parent-death signal and execs the
        # server: no preexec_fn, which is unsafe in a process that has threads.
        if SETPRIV.exists():
            argv = [str(SETPRIV), "--pdeathsig", "KILL", "--", *argv]
        proc = subprocess.Popen(
            argv,
            cwd=self.dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._procs[name] = proc
        return proc

    def _start_once(self) -> None:
        self._write_port_config()
        port_file = self.web_dir / "port"
        port_file.unlink(missing_ok=True)
        carbon = self._spawn(
            "carbon-cache",
            [str(CARBON_CACHE), f"--config={self.conf_dir / 'carbon.conf'}", "--nodaemon", "start"],
            self.carbon_log,
        )
        # Started together: graphite-web's imports (Django) take about as long as twistd's.
        web = self._spawn(
            "graphite-web",
            [
                str(SYSTEM_PYTHON),
                "-I",
                str(self.web_dir / "graphite_web_runner.py"),
                str(port_file),
            ],
            self.web_log,
        )
        deadline = time.monotonic() + self.startup_timeout
        carbon_up = False
        while not (carbon_up and self.web_port):
            if carbon.poll() is not None:
                log = tail(self.carbon_log, 200)
                if "Address already in use" in log or "CannotListenError" in log:
                    raise PortTaken()
                raise GraphiteError(f"carbon-cache exited with {carbon.returncode}\n{self.logs()}")
            if web.poll() is not None:
                raise GraphiteError(f"graphite-web exited with {web.returncode}\n{self.logs()}")
            if time.monotonic() > deadline:
                raise GraphiteError(
                    f"Graphite did not start within {self.startup_timeout}s\n{self.logs()}"
                )
            if not carbon_up:
                # Carbon's own word that it listens on our ports: a connect alone could reach
                # whoever took a port between our pick and carbon's bind.
                log = tail(self.carbon_log, 200)
                carbon_up = all(
                    re.search(rf"starting on {port}\b", log)
                    for port in (self.line_port, self.pickle_port, self.query_port)
                ) and port_open(self.line_port)
            if not self.web_port and port_file.exists():
                self.web_port = int(port_file.read_text())
            time.sleep(0.05)
        # The first render loads Django's URLconf and the finders: do it before any test does.
        answer = self.render("el_monitor.harness.does.not.exist", from_="-1min")
        if answer != []:
            raise GraphiteError(f"unexpected answer from an empty Graphite: {answer!r}")

    def _stop_processes(self) -> None:
        procs, self._procs = self._procs, {}
        for proc in procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        for proc in procs.values():
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                # Still not reaped, so its pid still names its group: kill all of it.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for out in self._logs:
            out.close()
        self._logs = []
        self.web_port = 0
