"""The last resort at exit: accepted events the database did not take and no spool holds go
to a rescue file (replayable as input), else to standard error, never nowhere."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import valid_lines

from el_monitor.event.formats import make_parser
from el_monitor.ingest.rescue import STDERR, rescue

from .support import count_rows


def capsules(count: int) -> list[dict]:
    parse = make_parser("json", "t")
    return [parse(line, None) for line in valid_lines(count)]


def test_the_first_directory_that_takes_the_file_gets_it(tmp_path, caplog):
    events = capsules(5)
    where = rescue(events, [tmp_path / "missing", tmp_path])
    assert where.startswith(str(tmp_path / "el-monitor-rescue-"))
    assert [json.loads(line) for line in Path(where).read_bytes().splitlines()] == events
    assert "cannot write the rescue file" in caplog.text and where in caplog.text


def test_with_no_directory_left_they_go_to_standard_error(tmp_path, capfd):
    events = capsules(3)
    assert rescue(events, [tmp_path / "missing"]) == STDERR
    lines = capfd.readouterr().err.splitlines()
    assert [json.loads(line) for line in lines if line.startswith("{")] == events


def test_a_rescue_file_replays_as_input(tmp_path, sqlite_url):
    from el_monitor.ingest.sources import open_source

    from .support import forward

    where = rescue(capsules(40), [tmp_path])
    result = forward(open_source(f"file://{where}"), sqlite_url)
    assert result.pending == 0 and count_rows(sqlite_url) == 40
