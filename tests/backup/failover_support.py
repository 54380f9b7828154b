"""Shared by the failover drill tests and ``benchmarks/bench_failover.py``: a primary and its
replica with an ordinary writer account (``read_only`` holds it, unlike root), a real
forwarder on the primary through ``--db-file``, a steady stream of events to its beacon, and
the canary event file.
"""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from harness.mariadb import MariaDBServer
from harness.processes import term_with_parent
from helpers import ROOT, SCHEMAS, ProcessOutput, example_capsules

from el_monitor.atomic import write_atomically

EL_MONITOR = [sys.executable, "-m", "el_monitor.cli"]
LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")
WRITER, WRITER_PASSWORD = "el_writer", "writer-secret"
STREAM_SCHEMAS = 3  # the stream cycles through the first few examples' schemas


def add_writer(primary: MariaDBServer) -> None:
    """The pipeline's account, made on the primary (it replicates): everything on ``test``,
    no READ ONLY ADMIN, so the fence stops it."""
    primary.execute(f"CREATE USER '{WRITER}'@'%' IDENTIFIED BY '{WRITER_PASSWORD}'")
    primary.execute(f"GRANT ALL ON test.* TO '{WRITER}'@'%'")


def writer_url(server: MariaDBServer) -> str:
    return f"mysql://{WRITER}:{WRITER_PASSWORD}@127.0.0.1:{server.port}/test"


def canary_file(directory: Path) -> Path:
    """The canary: a copy of the last example event (not one of the stream's schemas)."""
    capsule = {k: v for k, v in example_capsules()[-1].items() if k != "uuid"}
    path = directory / "canary.json"
    path.write_text(json.dumps(capsule))
    return path


def canary_table() -> str:
    from el_monitor.store.mapping import table_name

    capsule = example_capsules()[-1]
    return table_name(capsule["schema"], capsule["revision"])


class DrillForwarder:
    """``el-monitor -v forward --input http://127.0.0.1:0 --db-file ... --pid-file ...
    --spool-dir ...``, pointed at ``url``; ``port`` is its beacon's."""

    def __init__(self, directory: Path, url: str, *extra: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.db_file = directory / "db-url"
        self.pid_file = directory / "forward.pid"
        self.spool = directory / "spool"
        write_atomically(self.db_file, f"{url}\n".encode())
        argv = [*EL_MONITOR, "-v", "forward", "--schemas", str(SCHEMAS),
                "--input", "http://127.0.0.1:0", "--db-file", str(self.db_file),
                "--pid-file", str(self.pid_file), "--spool-dir", str(self.spool),
                "--flush-interval", "0.2", "--instance", "drill", *extra]  # fmt: skip
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=directory,
            preexec_fn=term_with_parent,
        )  # fmt: skip
        self.output = ProcessOutput(self.proc)
        self.output.wait_for("listening on http://")
        match = LISTENING.search(self.output.text())
        assert match, self.output.text()
        self.port = int(match.group(1))
        assert self.pid_file.exists()  # written before the beacon listens

    @property
    def beacon(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, timeout: float = 120) -> tuple[str, str]:
        """SIGTERM: it stores or spools what it accepted, then exits; stdout and stderr."""
        if self.proc.poll() is None:
            self.proc.terminate()
        out, err = self.output.finish(timeout)
        return out.decode(), err.decode(errors="replace")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(60)


class SteadyStream:
    """One client POSTing ``per_request`` events every ``period`` seconds (a steady rate,
    not a flood); ``answered`` holds the uuids of every event answered 2xx."""

    def __init__(self, port: int, per_request: int = 20, period: float = 0.05) -> None:
        self.port, self.per_request, self.period = port, per_request, period
        self.answered: list[str] = []
        self.refused = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._capsules = example_capsules()[:STREAM_SCHEMAS]
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        number = 0
        next_at = time.monotonic()
        while not self._stop.is_set():
            number += 1
            uuids = [f"5eed{number:012x}{i:016x}" for i in range(self.per_request)]
            events = [dict(self._capsules[(number + i) % len(self._capsules)], uuid=u)
                      for i, u in enumerate(uuids)]  # fmt: skip
            try:
                conn.request("POST", "/v1/events", json.dumps(events).encode(),
                             {"Content-Type": "application/json"})  # fmt: skip
                response = conn.getresponse()
                response.read()
            except OSError:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                continue
            with self._lock:
                if 200 <= response.status < 300:
                    self.answered += uuids
                else:
                    self.refused += 1
            next_at += self.period
            self._stop.wait(max(0.0, next_at - time.monotonic()))
        conn.close()

    def count(self) -> int:
        with self._lock:
            return len(self.answered)

    def stop(self) -> list[str]:
        self._stop.set()
        self._thread.join(60)
        with self._lock:
            return list(self.answered)


def stream_uuids(server: MariaDBServer) -> set[str]:
    """The uuids of the stream's events that ``server`` holds."""
    from el_monitor.store.mapping import table_name

    found: set[str] = set()
    for capsule in example_capsules()[:STREAM_SCHEMAS]:
        table = table_name(capsule["schema"], capsule["revision"])
        if server.execute("SHOW TABLES LIKE %s", (table,), database="test"):
            found.update(
                r[0] for r in server.execute(f"SELECT uuid FROM `{table}`", database="test")
            )
    return found


def canaries_on(server: MariaDBServer, uuids: list[str]) -> set[str]:
    """Those of the canaries ``uuids`` that ``server`` holds."""
    if not uuids or not server.execute("SHOW TABLES LIKE %s", (canary_table(),), database="test"):
        return set()
    rows = server.execute(f"SELECT uuid FROM `{canary_table()}`", database="test")
    return {r[0] for r in rows} & set(uuids)


def read_only(server: MariaDBServer) -> int:
    return int(server.value("SELECT @@GLOBAL.read_only"))


def drill_command(*args: str) -> subprocess.CompletedProcess[str]:
    """``el-monitor drill failover ...`` as a process; its output as text."""
    return subprocess.run(
        [*EL_MONITOR, "drill", "failover", *args],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )  # fmt: skip
