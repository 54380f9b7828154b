"""A private MariaDB server for the figures that move a million rows (retention, rollups):
configured as a production server for that data is (the working set in the buffer pool, a
redo log that does not force a checkpoint every few thousand rows), and alone, so neither the
shared server's defaults (a 128 MiB buffer pool) nor whatever else uses it decide the figure.

Started by the tests' harness (``harness.mariadb``: own datadir, port and socket, removed
with the run); without ``mariadbd`` the figures fall back to the shared server's URL.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

import corpus_events
from measure import log, use_test_harness

PRODUCTION = (
    "--innodb-buffer-pool-size=2G",
    "--innodb-log-file-size=512M",
    "--max-allowed-packet=64M",
)
DESCRIPTION = "private MariaDB: 2 GiB buffer pool, 512 MiB redo log, no binlog"
# Defaults but for the AUTO-INC lock mode in which a LOAD locks no table: the MySQL store
# preloads into one LOAD left open for the batch there (``el_monitor.store.mysql_preload``).
INTERLEAVED = ("--innodb-autoinc-lock-mode=2",)
INTERLEAVED_DESCRIPTION = "private MariaDB, defaults but innodb_autoinc_lock_mode=2"


@contextlib.contextmanager
def production_server(
    fallback: str | None, options: tuple[str, ...] = PRODUCTION, description: str = DESCRIPTION
) -> Iterator[tuple[str | None, str]]:
    """(URL, what it is) of a started private server, or ``fallback`` when none can start;
    ``None`` stays ``None`` (the MariaDB figures were turned off)."""
    if fallback is None:
        yield None, ""
        return
    use_test_harness(corpus_events.ROOT)
    from harness.mariadb import MariaDBServer, missing_reason

    reason = missing_reason()
    if reason:
        log(f"no private MariaDB ({reason}): the shared server measures retention")
        yield fallback, "shared MariaDB"
        return
    with tempfile.TemporaryDirectory(prefix="el-bench-mariadb-") as tmp:
        server = MariaDBServer(Path(tmp), server_id=1, options=options, binlog=False)
        with server:
            log(f"started a {description}, port {server.port}")
            yield server.url, description
