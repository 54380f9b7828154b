"""Shared by the backup chain tests: event tables filled by the real forwarder from the bundled
examples, a catalog whose ``[backup]`` names that database and a dump directory, and the
commands run in-process (``el-monitor backup …``, ``drill restore``, ``check_el_backup``)."""

from __future__ import annotations

import datetime
import gzip
import json
import textwrap
import threading
from pathlib import Path

from helpers import SCHEMAS, ListSource, example_capsules

from el_monitor.backup.manifest import MARKER, list_backups
from el_monitor.checks import backup as check_backup
from el_monitor.cli.main import main as el_monitor
from el_monitor.ingest.forwarder import Forwarder, ForwarderSettings
from el_monitor.schema.registry import DirectoryRegistry
from el_monitor.store import open_store

SCHEMAS_USED = ("NavigationTiming", "SearchSatisfaction", "EditAttemptStep")
NAV = "NavigationTiming_1_7_0"


def forward_events(db_url: str, count: int, start: int = 0) -> int:
    """``count`` valid events of ``SCHEMAS_USED`` stored by the forwarder; returns how many
    it inserted."""
    capsules = [c for c in example_capsules() if c["schema"] in SCHEMAS_USED]
    lines = []
    for i in range(start, start + count):
        capsule = dict(capsules[i % len(capsules)], uuid=f"{i:032x}", timestamp=1795842000 + i)
        lines.append(json.dumps(capsule).encode())
    store = open_store(db_url)
    try:
        result = Forwarder(
            ForwarderSettings(host="test"), ListSource(lines), DirectoryRegistry(SCHEMAS), store
        ).run(threading.Event())
    finally:
        store.close()
    return int(result.counts.get("overall", "inserted"))


def event_tables(db_url: str) -> list[str]:
    store = open_store(db_url)
    try:
        return sorted(t for t in store.tables() if not t.startswith("el_monitor_"))
    finally:
        store.close()


def write_catalog(tmp_path: Path, db_url: str, dumps: Path, **extra: str) -> Path:
    """A catalog: the database as primary hop, ``dumps`` as a daily dumps hop of it."""
    options = "".join(f"{key} = {value}\n" for key, value in extra.items())
    path = tmp_path / "el-monitor.toml"
    path.write_text(
        textwrap.dedent(
            f"""\
            [[backup.hop]]
            name = "primary"
            kind = "primary"
            db = "{db_url}"

            [[backup.hop]]
            name = "archive"
            kind = "dumps"
            dir = "{dumps}"
            source = "primary"
            schedule = "1d"
            """
        )
        + options
    )
    return path


def dump(db_url: str, dumps: Path, *tables: str, compress: bool = True) -> Path:
    """``el-monitor backup dump``; the new backup's directory."""
    argv = ["backup", "dump", "--db", db_url, "--to", str(dumps)]
    argv += ["--table", *tables] if tables else []
    argv += [] if compress else ["--no-compress"]
    before = {b.path for b in list_backups(dumps)} if dumps.is_dir() else set()
    assert el_monitor(argv) == 0
    [new] = [b.path for b in list_backups(dumps) if b.path not in before]
    assert (new / MARKER).is_file()
    return new


def verify(catalog: Path, capsys, now: datetime.datetime | None = None) -> tuple[int, list[str]]:
    """``el-monitor backup verify``: exit status and output lines."""
    argv = ["backup", "verify", "--config", str(catalog)]
    argv += ["--now", now.isoformat()] if now else []
    code = el_monitor(argv)
    return code, capsys.readouterr().out.splitlines()


def check(catalog: Path, capsys, now: datetime.datetime | None = None) -> tuple[int, str]:
    """``check_el_backup`` in-process: exit status and status line."""
    argv = ["--config", str(catalog)] + (["--now", now.isoformat()] if now else [])
    code = check_backup.main(argv)
    return code, capsys.readouterr().out.splitlines()[0]


def findings(lines: list[str], level: str) -> list[str]:
    return [line for line in lines if line.startswith(level)]


def rewrite_dump(path: Path, change) -> None:
    """Replace a dump file's SQL by ``change(sql)``, keeping its compression."""
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(change(gzip.decompress(path.read_bytes()))))
    else:
        path.write_bytes(change(path.read_bytes()))
