"""What the check_el_* tests share: a stub graphite-web and helpers to feed and run the plugins.

The stub evaluates the one target form the plugins send, ``groupByNodes(<glob>,"sum",n,...)``,
over canned per-instance series the way graphite-web 1.1 does (nodes joined by dots, nulls
skipped in the sum), so the queries are tested along with the evaluation.  The ``graphite``
fixture that serves it is in this directory's conftest.py.
"""

from __future__ import annotations

import json
import math
import re
import threading
from fnmatch import fnmatchcase

import pytest

STEP = 10
END = 1_700_000_000  # last point's timestamp
POINTS = 10
Values = list[float | None]


# --- stub graphite-web -------------------------------------------------------------------------


def _expand(glob: str) -> list[str]:
    found = re.search(r"\{([^{}]*)\}", glob)
    if not found:
        return [glob]
    head, tail = glob[: found.start()], glob[found.end() :]
    return [p for alt in found[1].split(",") for p in _expand(head + alt + tail)]


def _matches(glob: str, name: str) -> bool:
    parts = name.split(".")
    for pattern in _expand(glob):
        nodes = pattern.split(".")
        if len(nodes) == len(parts) and all(map(fnmatchcase, parts, nodes)):
            return True
    return False


_TARGET = re.compile(r'groupByNodes\((?P<glob>.+),"sum",(?P<nodes>\d+(?:,\d+)*)\)')


def evaluate(target: str, data: dict[str, Values]) -> list[dict]:
    """graphite-web 1.1's groupByNodes(glob, "sum", nodes...) over ``data``."""
    found = _TARGET.fullmatch(target)
    assert found, f"the stub does not know this target: {target}"
    nodes = [int(n) for n in found["nodes"].split(",")]
    groups: dict[str, list[Values]] = {}
    for name, values in data.items():
        if _matches(found["glob"], name):
            key = ".".join(name.split(".")[n] for n in nodes)
            groups.setdefault(key, []).append(values)
    out = []
    for key, members in groups.items():
        summed = []
        for row in zip(*members, strict=True):
            present = [v for v in row if v is not None]
            summed.append(math.fsum(present) if present else None)
        start = END - STEP * (len(summed) - 1)
        points = [[v, start + STEP * i] for i, v in enumerate(summed)]
        out.append({"target": key, "datapoints": points})
    return out


class Stub:
    """What the stub answers: ``data`` by default, ``older`` for other ``from`` values."""

    def __init__(self) -> None:
        self.data: dict[str, Values] = {}
        self.older: dict[str, Values] = {}
        self.window_from = "-10min"
        self.mode = "ok"  # ok | 500 | slow (no answer until the test ends) | garbage
        self.requests: list[dict[str, list[str]]] = []
        self.release = threading.Event()
        self.url = ""

    def answer(self, query: dict[str, list[str]]) -> tuple[int, bytes]:
        self.requests.append(query)
        if self.mode == "500":
            return 500, b"<html><title>Internal Server Error</title><body>boom</body></html>"
        if self.mode == "slow":
            self.release.wait(60)  # set when the test ends; only a hung client waits it out
        if self.mode == "garbage":
            return 200, b"<html>this is not json"
        data = self.data if query["from"][0] == self.window_from else self.older
        series = [s for target in query["target"] for s in evaluate(target, data)]
        return 200, json.dumps(series).encode()


# --- feeding the stub, running a plugin ---------------------------------------------------------


def metric(instance: str, path: str, values: Values) -> tuple[str, Values]:
    assert len(values) == POINTS
    return f"eventlogging.{instance}.{path}", values


def put(stub: Stub, *metrics: tuple[str, Values]) -> None:
    stub.data.update(metrics)


def const(value: float | None) -> Values:
    return [value] * POINTS


def run(module: object, stub: Stub, *args: str, capsys: pytest.CaptureFixture) -> tuple[int, str]:
    code = module.main(["--graphite", stub.url, *args])  # type: ignore[attr-defined]
    return code, capsys.readouterr().out


def status(output: str) -> tuple[str, str]:
    """The status line's text and perfdata."""
    first = output.splitlines()[0]
    text, _, perf = first.partition(" | ")
    return text, perf


def rate_data(stub: Stub, overall: Values) -> None:
    half = [None if v is None else v / 2 for v in overall]
    put(
        stub,
        metric("fw1", "overall.raw.rate", half),
        metric("fw2", "overall.raw.rate", half),
        metric("fw1", "schema.NavigationTiming.raw.rate", const(100.1)),
        metric("fw2", "schema.NavigationTiming.raw.rate", const(80.1)),
        metric("fw1", "schema.EditAttemptStep.raw.rate", const(40.3)),
        metric("fw1", "schema.SearchSatisfaction.raw.rate", const(15)),
        metric("fw1", "schema.Popups.raw.rate", const(7.7)),
    )


# The catalog check_el_schema_rate reads: a default limit and NavigationTiming's own.
CATALOG = """
[defaults]
max_rate = 100

[schema.NavigationTiming]
owners = ["perf-team@example.org", "perf-oncall@example.org"]
max_rate = 200
"""
