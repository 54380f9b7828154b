"""Following a file: appends and partial lines, rotation by rename and by copytruncate, a
prompt stop, and the checkpoint that makes a crash or restart re-read exactly the
uncommitted lines."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

import pytest
from harness.wait import finishes

from el_monitor.errors import UserError
from el_monitor.ingest.sources import open_source
from el_monitor.ingest.sources.base import Chunk
from el_monitor.ingest.sources.file import FilePosition
from el_monitor.ingest.sources.lines import MAX_CHUNK_LINES

from .support import IDLE, Reader, append, numbered


def follow(log: Path, **kwargs) -> Reader:
    return Reader(open_source(f"file://{log}?follow=1", idle_interval=IDLE, **kwargs))


def test_follow_reads_appends_and_holds_a_partial_line(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    append(log, numbered(0, 3))
    reader = follow(log)
    assert reader.lines(3) == numbered(0, 3)
    with open(log, "ab") as f:
        f.write(b"half")
    assert reader.quiet(0.2) == []
    assert reader.chunks[-1].position.offset == log.stat().st_size - 4
    append(log, [b"-line", b"next"])
    assert reader.lines(2) == [b"half-line", b"next"]
    pos = reader.chunks[-1].position
    st, data = log.stat(), log.read_bytes()
    digest = hashlib.blake2b(data, digest_size=16).hexdigest()
    assert pos == FilePosition(st.st_dev, st.st_ino, st.st_size, f"{len(data)}:{digest}")
    reader.source.close()


def test_follow_holds_and_truncates_an_overlong_partial_line(tmp_path: Path) -> None:
    log = tmp_path / "long.log"
    log.write_bytes(b"x" * 1000)
    reader = follow(log, max_line_bytes=50)
    assert reader.quiet(0.2) == []
    append(log, [b"", b"ok"])
    assert reader.lines(2) == [b"x" * 51, b"ok"]


def test_follow_across_rename_rotation(tmp_path: Path) -> None:
    log = tmp_path / "r.log"
    append(log, numbered(0, 5))
    reader = follow(log)
    assert reader.lines(5) == numbered(0, 5)
    log.rename(tmp_path / "r.log.1")
    append(tmp_path / "r.log.1", numbered(5, 8))  # the writer had not reopened yet
    with open(tmp_path / "r.log.1", "ab") as f:
        f.write(b'{"n": 8}')  # its last line lacks a newline: still a line once rotated
    append(log, numbered(9, 12))
    assert reader.lines(7) == numbered(5, 12)
    assert reader.chunks[-1].position.inode == log.stat().st_ino
    append(log, numbered(12, 13))
    assert reader.lines(1) == numbered(12, 13)
    reader.source.close()


def test_follow_across_copytruncate(tmp_path: Path) -> None:
    log = tmp_path / "c.log"
    append(log, numbered(0, 50))
    reader = follow(log)
    assert reader.lines(50) == numbered(0, 50)
    os.truncate(log, 0)
    append(log, numbered(50, 52))
    assert reader.lines(2) == numbered(50, 52)
    assert reader.chunks[-1].position.offset == log.stat().st_size


def test_follow_stops_promptly(tmp_path: Path) -> None:
    log = tmp_path / "s.log"
    log.write_bytes(b"")
    reader = follow(log)
    assert reader.quiet(0.1) == []
    # Stop while the source waits for appends (the timer's delay is part of the test: the
    # source is idle when the stop comes). Promptly, counted rather than timed: once the stop
    # is set, at most the one idle tick already under way, and never another look.
    threading.Timer(0.1, reader.stop.set).start()

    def after_stop() -> list[Chunk]:
        return [chunk for chunk in reader.it if reader.stop.is_set()]

    late = finishes(after_stop, 60, "the follow source to stop")
    assert len(late) <= 1 and not any(chunk.lines for chunk in late)
    reader.source.close()
    reader.source.close()


def test_checkpoint_is_atomic_json_in_checkpoint_dir(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "x.log"
    log.parent.mkdir()
    append(log, numbered(0, 2))
    reader = follow(log, checkpoint_dir=str(tmp_path))
    reader.lines(2)
    reader.source.commit(reader.chunks[-1].position)
    record = json.loads((tmp_path / ".x.log.el-monitor.checkpoint").read_text())
    st = log.stat()
    digest = hashlib.blake2b(log.read_bytes(), digest_size=16).hexdigest()
    assert record == {
        "path": str(log),
        "dev": st.st_dev,
        "inode": st.st_ino,
        "offset": st.st_size,
        "fingerprint": f"{st.st_size}:{digest}",
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == [".x.log.el-monitor.checkpoint", "logs"]


def test_crash_rereads_exactly_the_uncommitted_lines(tmp_path: Path) -> None:
    log = tmp_path / "k.log"
    append(log, numbered(0, 2500))
    first = follow(log)
    assert first.lines(2500) == numbered(0, 2500)
    assert len(first.chunks) >= 3
    first.source.commit(first.chunks[0].position)  # chunks 2.. were never made durable
    del first  # SIGKILL: no close, no further commit
    append(log, numbered(2500, 2600))
    committed = MAX_CHUNK_LINES
    again = follow(log)
    assert again.lines(2600 - committed) == numbered(committed, 2600)
    assert again.quiet(0.15) == []
    again.source.close()


def test_restart_resumes_in_the_rotated_file(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    append(log, numbered(0, 10))
    first = follow(log)
    first.lines(10)
    first.source.commit(first.chunks[-1].position)
    first.source.close()
    log.rename(tmp_path / "app.log.1")
    append(tmp_path / "app.log.1", numbered(10, 13))
    append(log, numbered(13, 15))
    again = follow(log)
    assert again.lines(5) == numbered(10, 15)
    assert again.quiet(0.15) == []
    again.source.close()


def test_restart_after_truncation_starts_over(tmp_path: Path) -> None:
    log = tmp_path / "t.log"
    append(log, numbered(0, 10))
    first = follow(log)
    first.lines(10)
    first.source.commit(first.chunks[-1].position)
    first.source.close()
    log.write_bytes(b"")
    append(log, numbered(10, 11))
    again = follow(log)
    assert again.lines(1) == numbered(10, 11)
    again.source.close()


def test_corrupt_checkpoint_is_a_user_error(tmp_path: Path) -> None:
    log = tmp_path / "z.log"
    log.write_bytes(b"a\n")
    (tmp_path / ".z.log.el-monitor.checkpoint").write_text("{not json")
    with pytest.raises(UserError, match="corrupt"):
        Reader(open_source(f"file://{log}?follow=1")).lines(1)
