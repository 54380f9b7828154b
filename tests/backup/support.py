"""Shared by the backfill tests: valid logs written as the forwarder writes them, and
``el-monitor backfill`` run in process with its counts read back from its table."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from helpers import SCHEMAS

from el_monitor.cli.main import main
from el_monitor.event.formats import make_parser
from el_monitor.event.jsontext import capsule_json

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
