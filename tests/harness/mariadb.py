"""Private MariaDB servers for tests that stop, kill, fence or replicate a server: each has its
own datadir, port and socket under the test's directory, so the shared server is never touched.

    with MariaDBServer(tmp_path / "primary", server_id=1) as primary, \\
         MariaDBServer(tmp_path / "replica", server_id=2) as replica:
        replica.replicate_from(primary)            # GTID, row-based
        primary.execute("CREATE TABLE test.t (id INT PRIMARY KEY)")
        replica.wait_caught_up(primary)

A datadir is made by ``mariadb-install-db`` once per test session (well under a second) and
copied for every server.  Servers are started with binary logs in ROW format and
``log_slave_updates`` (unless ``binlog=False``), so any of them can be a primary, a replica or
a promoted replica, and with small InnoDB files so a dozen fit in a test run (``options``
come last, so they override those: the benchmarks size theirs as production servers).  A
server dies with the test process (PR_SET_PDEATHSIG); its directory stays under pytest's
basetemp for post-mortems.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pymysql

from harness.processes import PortTaken, free_ports, retry_taken_ports, tail, term_with_parent
from harness.wait import wait_until

INSTALL_DB = "mariadb-install-db"
SERVER = "mariadbd"
START_SECONDS = 60
SMALL_INNODB = ("--innodb-log-file-size=8M", "--innodb-buffer-pool-size=64M")


def missing_reason() -> str | None:
    """Why private servers cannot be started here, or None."""
    missing = [name for name in (INSTALL_DB, SERVER) if not _which(name)]
    if missing:
        return f"{', '.join(missing)} not found (Debian's mariadb-server package provides them)"
    return None


def _which(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")


class _Template:
    """One freshly installed datadir per process, copied for each server."""

    _lock = threading.Lock()
    _path: Path | None = None

    @classmethod
    def datadir(cls) -> Path:
        with cls._lock:
            if cls._path is None:
                base = Path(tempfile.mkdtemp(prefix="el-mariadb-template-"))
                data = base / "data"
                subprocess.run(
                    [_which(INSTALL_DB) or INSTALL_DB, "--no-defaults", f"--datadir={data}",
                     "--auth-root-authentication-method=normal", "--skip-test-db",
                     "--user=root", *SMALL_INNODB],
                    check=True, capture_output=True, timeout=120,
                )  # fmt: skip
                cls._path = data
            return cls._path


class MariaDBServer:
    """A private ``mariadbd`` on 127.0.0.1 and a free port; root without a password.

    ``url`` names database ``test`` (created at start).  ``stop()`` shuts it down cleanly,
    ``kill()`` with SIGKILL; ``start()`` again keeps the datadir and the port (a restart)."""

    def __init__(
        self, directory: Path, server_id: int, options: Sequence[str] = (), binlog: bool = True
    ) -> None:
        self.directory = directory
        self.server_id = server_id
        self.options = tuple(options)
        self.binlog = binlog
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    # lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> MariaDBServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def datadir(self) -> Path:
        return self.directory / "data"

    @property
    def log(self) -> Path:
        return self.directory / "error.log"

    @property
    def url(self) -> str:
        return f"mysql://root@127.0.0.1:{self.port}/test"

    def start(self) -> None:
        if not self.datadir.exists():
            self.directory.mkdir(parents=True, exist_ok=True)
            shutil.copytree(_Template.datadir(), self.datadir)
        retry_taken_ports(self._start_once, self._reap, self._failure)
        self.execute("CREATE DATABASE IF NOT EXISTS test")

    def _start_once(self) -> None:
        if not self.port:  # a restart keeps its port, as a real server's clients expect
            [self.port] = free_ports(1)
        argv = [
            _which(SERVER) or SERVER, "--no-defaults", "--user=root",
            f"--datadir={self.datadir}", f"--socket={self.directory / 'mysqld.sock'}",
            f"--pid-file={self.directory / 'mysqld.pid'}", f"--log-error={self.log}",
            f"--port={self.port}", "--bind-address=127.0.0.1", "--skip-name-resolve",
            f"--server-id={self.server_id}", *SMALL_INNODB, *self.options,
        ]  # fmt: skip
        if self.binlog:
            argv += ["--log-bin=binlog", "--binlog-format=ROW", "--log-slave-updates",
                     "--gtid-strict-mode=1"]  # fmt: skip
        self.process = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=term_with_parent,
        )  # fmt: skip
        wait_until(self._answers, START_SECONDS, lambda: f"mariadbd on {self.port}")

    def _answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            if "Address already in use" in tail(self.log, 20):
                self.port = 0  # taken meanwhile: the next try picks another
                raise PortTaken()
            raise RuntimeError(f"mariadbd exited {self.process.returncode}: {tail(self.log, 20)}")
        try:
            self.connect().close()
        except pymysql.err.OperationalError:
            return False
        return True

    def _failure(self) -> Exception:
        return RuntimeError(f"mariadbd could not bind a free port: {tail(self.log, 20)}")

    def stop(self) -> None:
        """A clean shutdown (SIGTERM), waited for."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    def kill(self) -> None:
        """SIGKILL: the server vanishes as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    _reap = kill

    # queries -----------------------------------------------------------------------------------

    def connect(self, database: str | None = None) -> pymysql.connections.Connection:
        return pymysql.connect(host="127.0.0.1", port=self.port, user="root", password="",
                               database=database, autocommit=True, connect_timeout=5,
                               ssl_disabled=True)  # fmt: skip

    def execute(self, sql: str, params: Any = None, database: str | None = None) -> list[tuple]:
        """One statement in autocommit; the rows it returned."""
        conn = self.connect(database)
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql, params)
                return list(cursor.fetchall())
        finally:
            conn.close()

    def value(self, sql: str, params: Any = None) -> Any:
        rows = self.execute(sql, params)
        return rows[0][0] if rows else None

    # replication -------------------------------------------------------------------------------

    def replicate_from(self, primary: MariaDBServer) -> None:
        """Start GTID replication from ``primary`` (from its current position: run this
        before writing what must replicate)."""
        position = primary.value("SELECT @@gtid_binlog_pos")
        self.execute("STOP SLAVE")
        self.execute("RESET SLAVE ALL")
        self.execute("SET GLOBAL gtid_slave_pos = %s", (position or "",))
        self.execute(
            "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%s, MASTER_USER='root', "
            "MASTER_PASSWORD='', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1",
            (primary.port,),
        )
        self.execute("START SLAVE")
        wait_until(self._replicating, START_SECONDS, lambda: f"replication on {self.port}: "
                   f"{self.slave_status()}")  # fmt: skip

    def slave_status(self) -> dict[str, Any]:
        conn = self.connect()
        try:
            with conn.cursor(pymysql.cursors.DictCursor) as cursor:
                cursor.execute("SHOW SLAVE STATUS")
                return cursor.fetchone() or {}
        finally:
            conn.close()

    def _replicating(self) -> bool:
        status = self.slave_status()
        return status.get("Slave_IO_Running") == "Yes" and status.get("Slave_SQL_Running") == "Yes"

    def wait_caught_up(self, primary: MariaDBServer, timeout: float = 60) -> None:
        """Until this replica has applied everything ``primary`` has written so far."""
        position = primary.value("SELECT @@gtid_binlog_pos")
        if not position:
            return
        reached = self.value("SELECT MASTER_GTID_WAIT(%s, %s)", (position, timeout))
        assert reached == 0, f"replica {self.port} did not reach {position}: {self.slave_status()}"
