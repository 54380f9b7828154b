"""A followed file truncated in place and grown past the checkpoint (issue 10, item 3).

copytruncate while the forwarder is down, then more lines than before: the inode is the same
and the file is longer than the checkpointed offset, so only the fingerprint of the bytes
before that offset tells the file was rewritten.  It is read from the start, with a warning;
an old checkpoint without a fingerprint still resumes where it says.
"""

from __future__ import annotations

import json
import logging
import os
import signal
from pathlib import Path

from harness.wait import wait_until
from helpers import ProcessOutput, overall_counts
from test_cli import rows, start_forwarder, wait_for_rows
from test_policy import nav_lines, read_to_the_end

from el_monitor.ingest.sources import open_source

from .support import IDLE, Reader, append, numbered

WARNING = "reading it from the start"


def follow(log: Path) -> Reader:
    return Reader(open_source(f"file://{log}?follow=1", idle_interval=IDLE))


def checkpointed(log: Path, count: int) -> None:
    """Read ``count`` lines of ``log`` and commit the last position, as a forwarder would."""
    first = follow(log)
    first.lines(count)
    first.source.commit(first.chunks[-1].position)
    first.source.close()


def test_restart_after_truncate_and_regrow_reads_from_the_start(tmp_path, caplog) -> None:
    log = tmp_path / "r.log"
    append(log, numbered(1000, 2000))
    checkpointed(log, 1000)
    offset = log.stat().st_size
    os.truncate(log, 0)  # copytruncate, in place: the same inode
    append(log, numbered(5000, 7000))  # same line length: 2,000 lines, past the old offset
    assert log.stat().st_size > offset
    with caplog.at_level(logging.WARNING, logger="el_monitor.ingest.sources.file"):
        again = follow(log)
        assert again.lines(2000) == numbered(5000, 7000)
    assert again.quiet(0.15) == []
    again.source.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"file://{log}?follow=1: {log} no longer holds the bytes read before the checkpoint "
        f"(truncated and rewritten?) at offset {offset}; {WARNING}"
    ]


def test_restart_after_truncation_below_the_checkpoint_warns(tmp_path, caplog) -> None:
    log = tmp_path / "s.log"
    append(log, numbered(0, 10))
    checkpointed(log, 10)
    offset = log.stat().st_size
    os.truncate(log, 0)
    append(log, numbered(10, 11))
    with caplog.at_level(logging.WARNING, logger="el_monitor.ingest.sources.file"):
        again = follow(log)
        assert again.lines(1) == numbered(10, 11)
    again.source.close()
    assert f"is shorter than the checkpoint at offset {offset}; {WARNING}" in caplog.text


def test_an_unchanged_file_resumes_at_the_checkpoint(tmp_path, caplog) -> None:
    log = tmp_path / "u.log"
    append(log, numbered(0, 5000))  # past the fingerprint window
    checkpointed(log, 5000)
    append(log, numbered(5000, 5003))
    with caplog.at_level(logging.WARNING):
        again = follow(log)
        assert again.lines(3) == numbered(5000, 5003)
    again.source.close()
    assert caplog.records == []


def test_an_old_checkpoint_without_a_fingerprint_still_resumes(tmp_path) -> None:
    log = tmp_path / "o.log"
    append(log, numbered(0, 10))
    checkpointed(log, 10)
    checkpoint = tmp_path / ".o.log.el-monitor.checkpoint"
    record = json.loads(checkpoint.read_text())
    del record["fingerprint"]
    checkpoint.write_text(json.dumps(record))
    append(log, numbered(10, 12))
    again = follow(log)
    assert again.lines(2) == numbered(10, 12)
    assert again.quiet(0.15) == []
    again.source.close()


def test_while_following_a_rewrite_past_what_was_read_starts_over(tmp_path, caplog) -> None:
    log = tmp_path / "w.log"
    append(log, numbered(1000, 1100))
    reader = follow(log)
    assert reader.lines(100) == numbered(1000, 1100)
    # Truncated and grown past the read offset between two looks: the size never shrinks
    # below what was read, so only the bytes tell.
    with open(log, "r+b") as f:
        f.truncate(0)
        f.write(b"".join(line + b"\n" for line in numbered(2000, 2150)))
    with caplog.at_level(logging.WARNING, logger="el_monitor.ingest.sources.file"):
        assert reader.lines(150) == numbered(2000, 2150)
    reader.source.close()
    assert "was truncated and rewritten past offset" in caplog.text


def test_forwarder_restart_after_copytruncate_stores_every_new_line(tmp_path) -> None:
    """The whole story through ``el-monitor forward``: 1,000 lines committed, the process
    stopped, the file truncated in place and 2,000 new lines written, a restart."""
    log = tmp_path / "events.log"
    log.write_bytes(b"\n".join(nav_lines(1000, 0)) + b"\n")
    proc, db = start_forwarder(tmp_path, f"file://{log}?follow=1")
    assert wait_for_rows(db, 1000) == 1000
    wait_until(lambda: read_to_the_end(log), 60, f"the checkpoint at the end of {log.name}")
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    assert overall_counts(out)["inserted"] == 1000
    offset = log.stat().st_size

    with open(log, "r+b") as f:  # copytruncate while the forwarder is down, then new lines
        f.truncate(0)
        f.write(b"\n".join(nav_lines(2000, 1000)) + b"\n")
    assert log.stat().st_size > offset

    proc, db = start_forwarder(tmp_path, f"file://{log}?follow=1")
    output = ProcessOutput(proc)
    output.wait_for(f"{log} no longer holds the bytes read before the checkpoint")
    assert wait_for_rows(db, 3000) == 3000
    wait_until(lambda: read_to_the_end(log), 60, f"the checkpoint at the end of {log.name}")
    proc.send_signal(signal.SIGTERM)
    out, err = output.finish(timeout=60)
    assert proc.returncode == 0, err.decode()
    counts = overall_counts(out)
    assert counts["raw"] == counts["valid"] == counts["inserted"] == 2000
    assert counts["invalid"] == counts["sampled_out"] == counts["opted_out"] == 0
    assert rows(db) == 3000
    assert err.decode().count(f"at offset {offset}; {WARNING}") == 1
