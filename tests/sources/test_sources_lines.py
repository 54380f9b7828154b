"""Cutting bytes into lines: the splitter (the same lines however the bytes arrive, chunks cut
at the line limit), stdin read by a child process, and a file read to its end."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
from pathlib import Path

from harness.wait import wait_until

from el_monitor.ingest.sources import open_source
from el_monitor.ingest.sources.lines import MAX_CHUNK_LINES, LineSplitter

from .support import append, numbered


def test_splitter_boundaries_do_not_depend_on_how_bytes_arrive() -> None:
    rng = random.Random(7)
    data = b"".join(
        rng.choice([b"", b"x" * rng.randrange(0, 40)]) + rng.choice([b"\n", b"\r\n"])
        for _ in range(3000)
    )
    whole = LineSplitter(16)
    expected = [line for batch in whole.feed(data) for line in batch[0]] + whole.take()[0]
    pieces = LineSplitter(16)
    got: list[bytes] = []
    i = 0
    while i < len(data):
        step = rng.randrange(1, 50)
        for lines, end in pieces.feed(data[i : i + step]):
            got.extend(lines)
            assert data[end - 1 : end] == b"\n"  # a batch always ends on a line boundary
        i += step
    got.extend(pieces.finish()[0])
    assert got == expected
    assert all(line and len(line) <= 17 and not line.endswith(b"\r") for line in got)
    assert any(len(line) == 17 for line in got)


def test_splitter_cuts_chunks_at_the_line_limit() -> None:
    splitter = LineSplitter(100, base=10)
    data = b"".join(line + b"\n" for line in numbered(0, 2500))
    batches = splitter.feed(data)
    assert [len(lines) for lines, _ in batches] == [MAX_CHUNK_LINES, MAX_CHUNK_LINES]
    assert batches[0][1] == 10 + data.index(b'{"n": 1000}')
    lines, end = splitter.take()
    assert len(lines) == 500 and end == 10 + len(data)


# -- stdin ------------------------------------------------------------------------------------

CHILD = """
import json, sys, threading
from el_monitor.ingest.sources import open_source
source = open_source("stdin://", idle_interval=0.05, max_line_bytes=8)
lines, idle = [], 0
with open(sys.argv[1], "a") as progress:  # what was read so far, for the test to wait on
    for chunk in source.chunks(threading.Event()):
        if not chunk.lines:
            idle += 1
        lines.extend(line.decode() for line in chunk.lines)
        progress.write(json.dumps({"lines": lines, "idle": idle}) + "\\n")
        progress.flush()
print(json.dumps({"lines": lines, "idle": idle}))
"""


def test_stdin_ticks_while_silent_and_reads_to_eof(tmp_path: Path) -> None:
    progress = tmp_path / "progress.jsonl"
    progress.touch()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(progress)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert child.stdin is not None
    child.stdin.write(b"one\r\n\ntwo\nthr")
    child.stdin.flush()

    def ticked_while_silent() -> bool:
        reports = [json.loads(line) for line in progress.read_text().splitlines()]
        return any(r["lines"] == ["one", "two"] and r["idle"] >= 4 for r in reports)

    # The partial "thr" is held while stdin is silent, and the source ticks meanwhile.
    wait_until(ticked_while_silent, 60, "the child to read 'one', 'two' and then tick idle")
    child.stdin.write(b"ee\n" + b"y" * 20 + b"\nlast")
    out, _ = child.communicate(timeout=10)
    result = json.loads(out)
    assert result["lines"] == ["one", "two", "three", "y" * 9, "last"]
    assert result["idle"] >= 4


def test_file_reads_to_end(tmp_path: Path) -> None:
    log = tmp_path / "events.log"
    log.write_bytes(b'{"a": 1}\r\n\n{"b": 2}\n' + b"z" * 300_000 + b"\nno newline")
    source = open_source(f"file://{log}", max_line_bytes=10)
    chunks = list(source.chunks(threading.Event()))
    source.close()
    lines = [line for chunk in chunks for line in chunk.lines]
    assert lines == [b'{"a": 1}', b'{"b": 2}', b"z" * 11, b"no newline"]
    assert all(chunk.position is None for chunk in chunks)
    assert not (tmp_path / ".events.log.el-monitor.checkpoint").exists()


def test_file_chunks_are_bounded(tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    append(log, numbered(0, 5000))
    source = open_source(f"file://{log}")
    chunks = list(source.chunks(threading.Event()))
    assert [line for c in chunks for line in c.lines] == numbered(0, 5000)
    assert max(len(c.lines) for c in chunks) <= MAX_CHUNK_LINES
