"""Shared test helpers: sample traffic from the bundled examples and an in-memory source."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from el_monitor.ingest.sources.base import IDLE, Chunk

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "examples" / "schemas"
SAMPLES = ROOT / "examples" / "samples"
# Under EventLogging's top-level additionalProperties: false, MediaWikiPingback's published
# example carries an undeclared field (dropped here), and UniversalLanguageSelector 1.6.0
# requires a `token` it never declares, so no event of it can ever be valid (left out here).
UNDECLARED_FIELD = {"MediaWikiPingback": "wiki"}
NEVER_VALID = {"UniversalLanguageSelector"}


def example_capsules() -> list[dict]:
    """Every bundled example that is valid under EventLogging's rules, with a wiki."""
    out = []
    for sample in sorted(SAMPLES.glob("*.jsonl")):
        for line in sample.read_text().splitlines():
            capsule = json.loads(line)
            capsule.setdefault("wiki", "enwiki")
            if capsule["schema"] in NEVER_VALID:
                continue
            if capsule["schema"] in UNDECLARED_FIELD:
                capsule["event"].pop(UNDECLARED_FIELD[capsule["schema"]])
            out.append(capsule)
    return out


def valid_lines(count: int, start: int = 0) -> list[bytes]:
    """``count`` distinct valid JSON lines cycling through the examples (distinct uuids)."""
    capsules = example_capsules()
    lines = []
    for i in range(start, start + count):
        capsule = dict(capsules[i % len(capsules)], uuid=f"{i:032x}", timestamp=1795842000 + i)
        lines.append(json.dumps(capsule).encode())
    return lines


class ListSource:
    """A Source over lines in memory, in chunks; remembers committed positions."""

    name = "list://"

    def __init__(
        self, lines: Iterable[bytes], chunk: int = 100, pause: threading.Event | None = None
    ):
        self.lines = list(lines)
        self.chunk = chunk
        self.pause = pause  # while set, the source idles instead of yielding lines
        self.committed: list[object] = []

    def chunks(self, stop: threading.Event) -> Iterator[Chunk]:
        for start in range(0, len(self.lines), self.chunk):
            while self.pause is not None and self.pause.is_set() and not stop.is_set():
                yield IDLE
                stop.wait(0.05)
            if stop.is_set():
                return
            yield Chunk(self.lines[start : start + self.chunk], None, start + self.chunk)

    def commit(self, position: object) -> None:
        self.committed.append(position)

    def close(self) -> None:
        pass


def overall_counts(summary: bytes) -> dict[str, int]:
    """The ``overall`` row of ``el-monitor forward``'s summary table, by measure."""
    from el_monitor.counts.counters import MEASURES

    (row,) = [line for line in summary.decode().splitlines() if line.startswith("overall")]
    return dict(zip(MEASURES, map(int, row.split()[1:]), strict=True))


def wait_listening(base_url: str, timeout: float = 20) -> None:
    """Until an HTTP server answers at ``base_url`` (any status will do)."""
    import time
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(base_url + "/", timeout=2)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
