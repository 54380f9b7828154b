"""A private Graphite for tests: Debian's carbon-cache and graphite-web on free 127.0.0.1 ports.

    with GraphiteServer(tmp_dir) as graphite:
        graphite.send(["eventlogging.a.overall.raw.count 12 1700000000"])
        series = graphite.wait_for("eventlogging.a.overall.raw.count", from_="1699999990")
        graphite.url        # http://127.0.0.1:PORT, the render API is graphite.url + "/render"
        graphite.carbon     # ("127.0.0.1", PORT), carbon's plaintext line receiver

Everything lives under one directory (config, whisper files, sqlite, logs, pid files); the
system's /etc/carbon, /etc/graphite and /var/lib/graphite are never read or written.

- carbon-cache (graphite-carbon, /usr/bin/carbon-cache) runs in the foreground from a private
  carbon.conf: line, pickle and cache-query ports picked free on 127.0.0.1, unlimited creates
  and updates, tags off (they would be POSTed to a graphite-web on port 8000).
- graphite-web (the Django app in /usr/lib/python3/dist-packages/graphite) runs under the
  SYSTEM python3 (Debian's Django, not the venv's) in a threaded wsgiref server. Its settings
  are graphite.settings with a private local-settings module named by GRAPHITE_SETTINGS_MODULE,
  which points WHISPER_DIR at carbon's data and CARBONLINK_HOSTS at carbon's cache-query port,
  so points still in carbon's cache are rendered too. Caching is off, so a render right after
  a send sees the new points.
- Carbon creates a metric's whisper file in place (whisper.create opens it, then writes the
  header and allocates the archives), and graphite-web reads any .wsp file it finds: a render
  in between fails with HTTP 500 (struct.error in whisper.py). render() raises that as
  WhisperFileIncomplete, and wait_for() treats it as "not there yet".
- Storage schemas: the project's graphite/storage-schemas.conf and storage-aggregation.conf
  when they exist (a built-in fallback otherwise), with every `retentions` replaced by
  `retentions=` (default 1s:6h,10s:1d: one point per second is what tests want; pass None to
  keep the project's own retentions).

Both processes run in their own session and get SIGKILL when the process that started them
dies (PR_SET_PDEATHSIG), so a killed pytest leaves no orphan; stop() terminates, then kills,
each whole process group.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from harness.wait import wait_until

ROOT = Path(__file__).resolve().parents[2]
PROJECT_SCHEMAS = ROOT / "graphite" / "storage-schemas.conf"
PROJECT_AGGREGATION = ROOT / "graphite" / "storage-aggregation.conf"

CARBON_CACHE = Path("/usr/bin/carbon-cache")
SYSTEM_PYTHON = Path("/usr/bin/python3")
SETPRIV = Path("/usr/bin/setpriv")
GRAPHITE_WEB = Path("/usr/lib/python3/dist-packages/graphite/settings.py")
# What each needed file comes from, for the skip message.
REQUIRED = {CARBON_CACHE: "graphite-carbon", GRAPHITE_WEB: "graphite-web", SYSTEM_PYTHON: "python3"}

TEST_RETENTIONS = "1s:6h,10s:1d"
FALLBACK_SCHEMAS = """\
# Built-in fallback: the project has no graphite/storage-schemas.conf.
[default]
pattern = .*
retentions = 1s:1h,10s:1d
"""
FALLBACK_AGGREGATION = """\
# Built-in fallback: the project has no graphite/storage-aggregation.conf.
[count]
pattern = \\.count$
xFilesFactor = 0
aggregationMethod = sum

[default]
pattern = .*
xFilesFactor = 0
aggregationMethod = average
"""

Series = list[dict[str, Any]]


class GraphiteError(RuntimeError):
    """The private Graphite could not start or does not answer; the message has the logs."""


class WhisperFileIncomplete(GraphiteError):
    """graphite-web read a whisper file that carbon is still creating (HTTP 500 from whisper's
    struct.error on a header or archive not written yet): ask again."""


def _whisper_incomplete(body: str) -> bool:
    # The 500 page is graphite-web's traceback: a short read of a file being created.
    return "whisper.py" in body and "unpack requires a buffer of" in body


def missing_packages() -> list[str]:
    """Debian packages whose files the harness needs and cannot find (empty when all there)."""
    return sorted({pkg for path, pkg in REQUIRED.items() if not path.exists()})


def points(series: Series, target: str | None = None) -> list[tuple[int, float]]:
    """The non-null (timestamp, value) pairs of one series of a render answer.

    With `target`, the series of that name; otherwise the answer must hold exactly one series.
    """
    if target is not None:
        chosen = [s for s in series if s["target"] == target]
        if not chosen:
            raise KeyError(f"no series {target!r} in {[s['target'] for s in series]}")
    else:
        chosen = series
    if len(chosen) != 1:
        raise ValueError(f"expected one series, got {[s['target'] for s in chosen]}")
    return [(int(ts), value) for value, ts in chosen[0]["datapoints"] if value is not None]


def _free_ports(count: int) -> list[int]:
    """`count` distinct free ports on 127.0.0.1 (held together, so they differ)."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
        return ports


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty)"


WEB_RUNNER = '''\
"""graphite-web under wsgiref, for the tests (written by tests/harness/graphite.py)."""
import os
import socketserver
import sys
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
os.environ["DJANGO_SETTINGS_MODULE"] = "graphite.settings"
os.environ["GRAPHITE_SETTINGS_MODULE"] = "elm_graphite_settings"

from graphite.wsgi import application  # noqa: E402


class Server(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class Handler(WSGIRequestHandler):
    def log_message(self, format, *args):
        sys.stderr.write("%s %s\\n" % (self.log_date_time_string(), format % args))
        sys.stderr.flush()


server = make_server("127.0.0.1", 0, application, server_class=Server, handler_class=Handler)
port_file = sys.argv[1]
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.replace(port_file + ".tmp", port_file)
print("graphite-web listening on 127.0.0.1:%d" % server.server_address[1], file=sys.stderr)
sys.stderr.flush()
server.serve_forever()
'''


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
        self.conf_dir = self.dir / "conf"
        self.storage_dir = self.dir / "storage"
        self.whisper_dir = self.storage_dir / "whisper"
        self.log_dir = self.dir / "log"
        self.web_dir = self.dir / "webapp"
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
        self._write_static_config()
        try:
            for attempt in range(3):
                try:
                    self._start_once()
                    break
                except _PortTaken:
                    # Another process took a port between our pick and carbon's bind.
                    self._stop_processes()
                    if attempt == 2:
                        raise GraphiteError(
                            "carbon-cache could not bind free ports\n" + self.logs()
                        ) from None
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
        targets = [target] if isinstance(target, str) else list(target)
        query = [("target", t) for t in targets]
        query += [("from", str(from_)), ("until", str(until)), ("format", "json")]
        query += [(k, str(v)) for k, v in params.items()]
        url = f"{self.url}/render?{urllib.parse.urlencode(query)}"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            body = exc.read().decode(errors="replace")
            error = WhisperFileIncomplete if _whisper_incomplete(body) else GraphiteError
            raise error(f"GET {url}: HTTP {exc.code}\n{body[-2000:]}\n{self.logs()}") from exc

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
        check = predicate or _any_point
        last: list[Any] = ["no answer"]

        def holds() -> bool:
            try:
                last[0] = self.render(target, from_=from_, until=until, **params)
            except WhisperFileIncomplete as exc:
                last[0] = exc
                return False
            return check(last[0])

        wait_until(
            holds,
            timeout,
            lambda: (
                f"Graphite to satisfy the predicate for {target!r}; last answer: "
                f"{_short(last[0]) if isinstance(last[0], list) else last[0]}\n{self.logs()}"
            ),
            interval=0.1,
        )
        return last[0]

    def logs(self, lines: int = 40) -> str:
        """The tail of each server's log, for failure messages."""
        return "\n".join(
            f"--- {path} (last {lines} lines)\n{_tail(path, lines)}"
            for path in (self.carbon_log, self.web_log)
        )

    # ---- internals ---------------------------------------------------------------------------

    def _write_static_config(self) -> None:
        for d in (
            self.conf_dir,
            self.whisper_dir,
            self.storage_dir / "lists",
            self.log_dir,
            self.log_dir / "webapp",
            self.dir / "run",
            self.web_dir,
        ):
            d.mkdir(parents=True, exist_ok=True)
        schemas = (
            self.schemas_source.read_text() if self.schemas_source.exists() else FALLBACK_SCHEMAS
        )
        if self.retentions is not None:
            schemas = re.sub(r"(?im)^(\s*retentions\s*=).*$", rf"\g<1> {self.retentions}", schemas)
        (self.conf_dir / "storage-schemas.conf").write_text(schemas)
        aggregation = (
            self.aggregation_source.read_text()
            if self.aggregation_source.exists()
            else FALLBACK_AGGREGATION
        )
        (self.conf_dir / "storage-aggregation.conf").write_text(aggregation)
        (self.web_dir / "graphite_web_runner.py").write_text(WEB_RUNNER)

    def _write_port_config(self) -> None:
        self.line_port, self.pickle_port, self.query_port = _free_ports(3)
        (self.conf_dir / "carbon.conf").write_text(
            f"""\
[cache]
STORAGE_DIR = {self.storage_dir}
LOCAL_DATA_DIR = {self.whisper_dir}
WHITELISTS_DIR = {self.storage_dir / "lists"}
LOG_DIR = {self.log_dir}
PID_DIR = {self.dir / "run"}
ENABLE_LOGROTATION = False
USER =
DATABASE = whisper
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = 100000
MAX_CREATES_PER_MINUTE = inf
CACHE_WRITE_STRATEGY = sorted
WHISPER_AUTOFLUSH = False
WHISPER_FALLOCATE_CREATE = True
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = {self.line_port}
ENABLE_UDP_LISTENER = False
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = {self.pickle_port}
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = {self.query_port}
USE_FLOW_CONTROL = True
LOG_UPDATES = False
LOG_CREATES = True
LOG_CACHE_HITS = False
LOG_CACHE_QUEUE_SORTS = False
LOG_LISTENER_CONNECTIONS = False
ENABLE_TAGS = False
ENABLE_MANHOLE = False
ENABLE_AMQP = False
CARBON_METRIC_INTERVAL = 0
"""
        )
        (self.web_dir / "elm_graphite_settings.py").write_text(
            f"""\
# Private graphite-web settings for the tests (written by tests/harness/graphite.py).
SECRET_KEY = "el-monitor-tests-only"
ALLOWED_HOSTS = ["*"]
TIME_ZONE = "UTC"
DEBUG = False
CONF_DIR = {str(self.conf_dir)!r}
STORAGE_DIR = {str(self.storage_dir)!r}
WHISPER_DIR = {str(self.whisper_dir) + "/"!r}
LOG_DIR = {str(self.log_dir / "webapp")!r}
INDEX_FILE = {str(self.storage_dir / "index")!r}
DATABASES = {{
    "default": {{
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": {str(self.storage_dir / "graphite.db")!r},
    }}
}}
CARBONLINK_HOSTS = ["127.0.0.1:{self.query_port}"]
CARBONLINK_TIMEOUT = 2.0
CARBONLINK_RETRY_DELAY = 1
# No caching anywhere: a render right after a send must see the new points.
DEFAULT_CACHE_DURATION = 0
FIND_CACHE_DURATION = 0
TAGDB = "graphite.tags.base.DummyTagDB"
LOG_ROTATION = False
LOG_RENDERING_PERFORMANCE = False
LOG_CACHE_PERFORMANCE = False
LOG_INFO_PERFORMANCE = False
DEFAULT_XFILES_FACTOR = 0
FUNCTION_PLUGINS = []
"""
        )

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
                log = _tail(self.carbon_log, 200)
                if "Address already in use" in log or "CannotListenError" in log:
                    raise _PortTaken()
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
                log = _tail(self.carbon_log, 200)
                carbon_up = all(
                    re.search(rf"starting on {port}\b", log)
                    for port in (self.line_port, self.pickle_port, self.query_port)
                ) and _port_open(self.line_port)
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


class _PortTaken(Exception):
    pass


def _any_point(series: Series) -> bool:
    return any(value is not None for s in series for value, _ in s["datapoints"])


def _short(series: Series) -> str:
    return json.dumps(
        [
            {"target": s["target"], "points": [p for p in s["datapoints"] if p[0] is not None]}
            for s in series
        ]
    )[:2000]
