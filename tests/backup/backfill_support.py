"""Shared by the backfill tests: valid logs written as the forwarder writes them, and
``el-monitor backfill`` run in process with its counts read back from its table."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from pathlib import Path

from helpers import SCHEMAS

from el_monitor.backup.backfill import Backfill, BackfillSettings
from el_monitor.backup.checkpoint import FILE_NAME, Checkpoint, fingerprint
from el_monitor.backup.counts import BackfillCounts
from el_monitor.backup.gate import Gate, Window
from el_monitor.backup.logreader import files_for
from el_monitor.catalog.model import empty_catalog
from el_monitor.cli.main import main
from el_monitor.event.formats import make_parser
from el_monitor.event.jsontext import capsule_json
from el_monitor.ingest.policy import Policy
from el_monitor.progress import ProgressSink
from el_monitor.schema.registry import DirectoryRegistry
from el_monitor.store import open_store

SINCE = datetime.datetime(2026, 11, 28, 5, tzinfo=datetime.UTC)  # valid_lines' first event
UNTIL = SINCE + datetime.timedelta(hours=1)

LABELS = {
    "unreadable lines": "unreadable",
    "out of window": "out_of_window",
    "opted out": "opted_out",
    "past retention": "past_retention",
    "already present": "already_present",
    "inserted": "inserted",
    "would insert": "inserted",
    "refused": "refused",
    "read": "read",
}


def capsules(lines: list[bytes]) -> list[dict]:
    """The capsules the forwarder makes of ``lines`` (what its valid log holds)."""
    parse = make_parser("json", "t")
    return [parse(line, None) for line in lines]


def write_log(log_dir: Path, day: str, records: list[bytes], end: bytes = b"") -> Path:
    """``valid-<day>.jsonl`` holding ``records``, one a line, then ``end`` (a line cut short)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / f"valid-{day}.jsonl"
    path.write_bytes(b"".join(record + b"\n" for record in records) + end)
    return path


def records(capsule_list: list[dict]) -> list[bytes]:
    return [capsule_json(capsule) for capsule in capsule_list]


def at(seconds: int) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def backfill(db_url: str, log_dir: Path, since: str, until: str, *extra: str) -> int:
    return main(["backfill", "--log-dir", str(log_dir), "--since", since, "--until", until,
                 "--db", db_url, "--schemas", str(SCHEMAS), *extra])  # fmt: skip


def counts_of(out: str) -> dict[str, int]:
    """The count table ``backfill`` prints, by count name (``inserted`` in a dry run too)."""
    found = {}
    for line in out.splitlines():
        label, _, number = line.rpartition("  ")
        label = label.strip().split(" (")[0]
        if label in LABELS and number.strip().isdigit():
            found[LABELS[label]] = int(number)
    return found


def stored(db_url: str) -> list[str]:
    """Every uuid in every event table."""
    from beacon.support import stored_uuids

    return stored_uuids(db_url)


def uuids(capsule_list: list[dict]) -> list[str]:
    return [capsule["uuid"] for capsule in capsule_list]


def json_line(value: object) -> bytes:
    return json.dumps(value).encode()


def run_backfill(
    db_url: str,
    log_dir: Path,
    progress: ProgressSink | None = None,
    until: datetime.datetime = UNTIL,
    key: str | None = None,
) -> BackfillCounts:
    """The backfill engine over ``log_dir`` in batches of 10, no catalog, its checkpoint in
    the log directory under ``key`` (default: the fingerprint the command would use)."""
    store = open_store(db_url)
    try:
        now = datetime.datetime.now(datetime.UTC)
        gate = Gate(Window.of(SINCE, until), Policy(), empty_catalog(), (), now)
        settings = BackfillSettings(tuple(files_for(log_dir, SINCE, until)), batch_size=10)
        key = key or fingerprint(log_dir, SINCE.isoformat(), until.isoformat(), db_url)
        checkpoint = Checkpoint(log_dir / FILE_NAME, key)
        registry = DirectoryRegistry(SCHEMAS)
        return Backfill(store, registry, gate, settings, checkpoint, progress).run()
    finally:
        store.close()


class AtReport:
    """A progress sink that calls ``action`` at its ``after``-th report (between two batches):
    an interrupt as Ctrl-C gives one, a server killed."""

    def __init__(self, after: int, action: Callable[[], None]) -> None:
        self.after, self.action = after, action

    def set_total(self, total: int | None) -> None:
        pass

    def advance(self, count: int = 1, note: str = "") -> None:
        self.after -= 1
        if self.after == 0:
            self.action()
