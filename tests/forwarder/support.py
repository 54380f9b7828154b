"""Shared by the forwarder tests: one run of the forwarder in process, the rows it stored,
and a corpus of hostile lines with the exact counts they must produce."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

from helpers import SCHEMAS, example_capsules, valid_lines

from el_monitor.ingest.forwarder import Forwarder, ForwarderSettings
from el_monitor.schema.registry import DirectoryRegistry
from el_monitor.store import StoreUnavailable, open_store


def forward(source, db_url: str, **settings) -> tuple:
    store = open_store(db_url)
    try:
        result = Forwarder(
            ForwarderSettings(host="test", **settings), source, DirectoryRegistry(SCHEMAS), store
        ).run(threading.Event())
    finally:
        store.close()
    return result


def count_rows(db_url: str) -> int:
    """Rows in every event table (the el_monitor_* bookkeeping tables excluded)."""
    store = open_store(db_url)
    try:
        tables = [t for t in store.tables() if not t.startswith("el_monitor_")]
        quote = store.dialect.quote
        return sum(store.query(f"SELECT COUNT(*) FROM {quote(t)}")[0][0] for t in tables)
    except StoreUnavailable:  # a forwarder is creating a table as we read: not yet
        return -1
    finally:
        store.close()


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def bad_corpus() -> tuple[list[bytes], dict]:
    """Hostile lines between good ones, and the exact counts they must produce."""
    good = valid_lines(20)
    nav = {"schema": "NavigationTiming", "revision": "1.7.0", "wiki": "enwiki"}
    evil_value = "'); DROP TABLE NavigationTiming_1_7_0; -- <script>alert(1)</script>"
    lines = [
        good[0][:-7],  # truncated JSON
        b'{"schema":"NavigationTiming","revision":"1.7.0","wiki":"\xff\xfe","event":{}}',
        b'{"schema":"' + b"A" * (10 * 1024 * 1024) + b'"}',  # a 10 MB line
        json.dumps(dict(nav, event={"isAnon": True})).encode()[:-1]
        + b', "deep": '
        + nested(10_000).encode()
        + b"}",  # 10,000-deep nesting
        json.dumps(dict(nav, event={"isAnon": True, "skin": json.loads(nested(900))})).encode(),
        json.dumps(dict(nav, schema="X'; DROP TABLE users; --", event={})).encode(),
        json.dumps(dict(nav, schema="<script>alert(1)</script>", event={})).encode(),
        json.dumps(dict(nav, schema="NoSuchSchema", event={})).encode(),
        json.dumps(dict(nav, revision="9.9.9", event={"isAnon": True})).encode(),
        json.dumps(dict(nav, event={"isAnon": "yes"})).encode(),
        json.dumps(dict(nav, event={"isAnon": True, "extra": 1})).encode(),
        b"{}",
        b"null",
        b"\x00\x01\x02",
        json.dumps(dict(nav, uuid="f" * 32, event={"isAnon": False, "skin": evil_value})).encode(),
    ]
    expected = {
        "raw": len(good) + len(lines),
        "valid": len(good) + 1,
        "invalid": len(lines) - 1,
        "errors": {
            ("parse", None): 5,  # truncated, bad UTF-8, 10 MB, 10,000 deep, NUL bytes
            ("validation", "capsule.schema"): 2,
            ("unknown-schema", None): 2,
            ("validation", "$.skin"): 1,
            ("validation", "$.isAnon"): 1,
            ("validation", "$"): 1,  # unexpected property
            ("validation", "capsule.event"): 1,  # {}
            ("validation", "capsule"): 1,  # null
        },
    }
    mixed = []
    for i, line in enumerate(lines):
        mixed += [good[i], line] if i < len(good) else [line]
    mixed += good[len(lines) :]
    return mixed, expected


def events(count: int, start: int, at: int, every: int = 7) -> tuple[list[bytes], int]:
    """``count`` lines from ``at`` (Unix time) on, a second apart: every ``every``-th one fails
    validation, and every 50th is not JSON at all (it has no time of its own).  Returns the
    lines and how many are valid."""
    capsules = example_capsules()
    nav = next(c for c in capsules if c["schema"] == "NavigationTiming")
    lines, valid = [], 0
    for i in range(start, start + count):
        if i % 50 == 49:
            lines.append(b"garbage %d" % i)
        elif i % every == 0:
            bad = dict(nav, uuid=f"{i:032x}", timestamp=at + i, event={"isAnon": "yes"})
            lines.append(json.dumps(bad).encode())
        else:
            good = dict(capsules[i % len(capsules)], uuid=f"{i:032x}", timestamp=at + i)
            lines.append(json.dumps(good).encode())
            valid += 1
    return lines, valid


def append(path: Path, lines: list[bytes]) -> None:
    with open(path, "ab") as f:
        f.write(b"".join(line + b"\n" for line in lines))


def forward_process(
    db_url: str, source: str, *extra: str, schemas: Path = SCHEMAS
) -> subprocess.Popen[bytes]:
    """``el-monitor forward`` as instance fw1, its output piped."""
    return subprocess.Popen(
        [sys.executable, "-m", "el_monitor.cli", "forward", "--schemas", str(schemas),
         "--db", db_url, "--input", source, "--instance", "fw1", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
