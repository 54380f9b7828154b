"""The private configuration of the test Graphite, all under one directory (GraphiteDirs):
carbon.conf, graphite-web's local settings and the runner that serves it under wsgiref, and the
storage schemas.

- carbon.conf: line, pickle and cache-query ports picked free on 127.0.0.1, unlimited creates
  and updates, tags off (they would be POSTed to a graphite-web on port 8000).
- graphite-web: graphite.settings with a private local-settings module named by
  GRAPHITE_SETTINGS_MODULE, which points WHISPER_DIR at carbon's data and CARBONLINK_HOSTS at
  carbon's cache-query port, so points still in carbon's cache are rendered too. Caching is
  off, so a render right after a send sees the new points.
- Storage schemas: the project's graphite/storage-schemas.conf and storage-aggregation.conf
  when they exist (a built-in fallback otherwise), with every `retentions` line replaced by the
  server's `retentions=` (default 1s:6h,10s:1d: one point per second is what tests want; None
  keeps the project's own retentions).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT_SCHEMAS = ROOT / "graphite" / "storage-schemas.conf"
PROJECT_AGGREGATION = ROOT / "graphite" / "storage-aggregation.conf"

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


WEB_RUNNER = '''\
"""graphite-web under wsgiref, for the tests (written by tests/harness/graphite_config.py)."""
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


@dataclass(frozen=True)
class GraphiteDirs:
    """Where the private Graphite keeps its configuration, data, logs and pid files."""

    root: Path

    @property
    def conf(self) -> Path:
        return self.root / "conf"

    @property
    def storage(self) -> Path:
        return self.root / "storage"

    @property
    def whisper(self) -> Path:
        return self.storage / "whisper"

    @property
    def log(self) -> Path:
        return self.root / "log"

    @property
    def web(self) -> Path:
        return self.root / "webapp"

    @property
    def run(self) -> Path:
        return self.root / "run"


def write_static_config(
    dirs: GraphiteDirs,
    schemas_source: Path,
    aggregation_source: Path,
    retentions: str | None,
) -> None:
    """The directories, the storage schemas and graphite-web's runner: what no port changes."""
    for d in (
        dirs.conf,
        dirs.whisper,
        dirs.storage / "lists",
        dirs.log,
        dirs.log / "webapp",
        dirs.run,
        dirs.web,
    ):
        d.mkdir(parents=True, exist_ok=True)
    schemas = schemas_source.read_text() if schemas_source.exists() else FALLBACK_SCHEMAS
    if retentions is not None:
        schemas = re.sub(r"(?im)^(\s*retentions\s*=).*$", rf"\g<1> {retentions}", schemas)
    (dirs.conf / "storage-schemas.conf").write_text(schemas)
    aggregation = (
        aggregation_source.read_text() if aggregation_source.exists() else FALLBACK_AGGREGATION
    )
    (dirs.conf / "storage-aggregation.conf").write_text(aggregation)
    (dirs.web / "graphite_web_runner.py").write_text(WEB_RUNNER)


def write_port_config(
    dirs: GraphiteDirs, line_port: int, pickle_port: int, query_port: int
) -> None:
    """carbon.conf and graphite-web's local settings, for carbon's ports of this attempt."""
    (dirs.conf / "carbon.conf").write_text(
        f"""\
[cache]
STORAGE_DIR = {dirs.storage}
LOCAL_DATA_DIR = {dirs.whisper}
WHITELISTS_DIR = {dirs.storage / "lists"}
LOG_DIR = {dirs.log}
PID_DIR = {dirs.run}
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
LINE_RECEIVER_PORT = {line_port}
ENABLE_UDP_LISTENER = False
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = {pickle_port}
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = {query_port}
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
    (dirs.web / "elm_graphite_settings.py").write_text(
        f"""\
# Private graphite-web settings for the tests (written by tests/harness/graphite_config.py).
SECRET_KEY = "el-monitor-tests-only"
ALLOWED_HOSTS = ["*"]
TIME_ZONE = "UTC"
DEBUG = False
CONF_DIR = {str(dirs.conf)!r}
STORAGE_DIR = {str(dirs.storage)!r}
WHISPER_DIR = {str(dirs.whisper) + "/"!r}
LOG_DIR = {str(dirs.log / "webapp")!r}
INDEX_FILE = {str(dirs.storage / "index")!r}
DATABASES = {{
    "default": {{
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": {str(dirs.storage / "graphite.db")!r},
    }}
}}
CARBONLINK_HOSTS = ["127.0.0.1:{query_port}"]
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
