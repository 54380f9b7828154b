"""Shared by the compare tests: a small event schema, rows inserted through el-monitor's own
store (so the tables are real event tables), and ``el-monitor backup compare`` run in-process."""

from __future__ import annotations

import time

import pytest

from el_monitor.cli.main import main
from el_monitor.store import open_store
from el_monitor.store.mysql import MySQLStore

SCHEMA, REVISION, TABLE = "CompareTest", "1", "CompareTest_1"
EVENT_SCHEMA = {
    "type": "object",
    "properties": {
        "action": {"type": "string"},
        "count": {"type": "integer"},
        "ratio": {"type": "number"},
        "isAnon": {"type": "boolean"},
    },
}
OLD = 1_577_836_800  # 2020-01-01: older than any lag allowance


def seed(url: str, count: int, *, start: int = 0, second: int = OLD, schema: str = SCHEMA) -> None:
    """``count`` events (ids follow on: INSERTs, whose ids do, where a LOAD's leave gaps),
    every seventh with no ``action`` (NULL)."""
    store = MySQLStore(url, bulk=False) if url.startswith("mysql:") else open_store(url)
    try:
        layout = store.layout(schema, REVISION, EVENT_SCHEMA)
        rows = []
        for i in range(start, start + count):
            event: dict = {"count": i, "ratio": i / 7, "isAnon": i % 2 == 0}
            if i % 7:
                event["action"] = f"action-{i % 5}"
            capsule = {"uuid": f"{schema[:8].lower()}{i:024x}", "timestamp": second,
                       "wiki": "enwiki", "event": event}  # fmt: skip
            rows.append(layout.row(capsule))
        store.insert({layout: rows})
    finally:
        store.close()


def now() -> int:
    return int(time.time())


def compare(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Exit status, standard output and error of ``el-monitor backup compare ARGS``."""
    capsys.readouterr()
    status = main(["backup", "compare", *args])
    out, err = capsys.readouterr()
    return status, out, err
