"""``el-monitor devserver``: real HTTP clients get the forwarder's answers (204, 202, 413), each
event's verdict is printed on one line (coloured only on a terminal), the tally per schema on
SIGINT or SIGTERM, and nothing is stored anywhere."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest
from harness.wait import wait_until
from helpers import SCHEMAS, ProcessOutput

NAV = {"schema": "NavigationTiming", "revision": "1.7.0", "wiki": "enwiki"}
CPU = {"schema": "CpuBenchmark", "revision": "1.2.0", "wiki": "enwiki"}


def start(cwd: Path, stdout: int | None = subprocess.PIPE) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "el_monitor.cli", "devserver", "--schemas", str(SCHEMAS),
         "--port", "0", "--max-body-bytes", "2000"],
        stdout=stdout, stderr=subprocess.PIPE, cwd=cwd, env=env,
    )  # fmt: skip
    return proc


def base_url(output: ProcessOutput) -> str:
    output.wait_for("devserver listening on")
    port = re.search(r"http://127\.0\.0\.1:(\d+)/", output.text()).group(1)
    return f"http://127.0.0.1:{port}"


def beacon(url: str, capsule: dict, **headers: str) -> int:
    target = f"{url}/beacon/event?{quote(json.dumps(capsule))};"
    with urllib.request.urlopen(urllib.request.Request(target, headers=headers)) as answer:
        return answer.status


def post(url: str, body: bytes) -> int:
    request = urllib.request.Request(f"{url}/v1/events", data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.parametrize("stop_with", [signal.SIGINT, signal.SIGTERM])
def test_answers_prints_verdicts_and_tally_storing_nothing(tmp_path, stop_with):
    proc = start(tmp_path)
    output = ProcessOutput(proc)
    try:
        url = base_url(output)
        assert beacon(url, dict(NAV, event={"isAnon": True})) == 204
        events = [dict(NAV, event={"isAnon": "yes", "extra": 1}), dict(CPU, event={"score": 7})]
        assert post(url, json.dumps(events).encode()) == 202
        assert post(url, b"[" + b" " * 3000 + b"]") == 413  # over --max-body-bytes
        assert post(url, b"not json") == 400  # passed on as a parse error, as the forwarder
        assert beacon(url, dict(CPU, event={"score": 1}), DNT="1") == 204
        output.wait_for("\n", count=5, stream="stdout")
    finally:
        proc.send_signal(stop_with)
    out, err = output.finish()
    assert proc.returncode == 0, err
    lines = out.decode().splitlines()
    verdicts, lines = lines[:5], lines[:4] + lines[5:]
    assert re.fullmatch(r"\d\d:\d\d:\d\d NavigationTiming 1\.7\.0 valid", verdicts[0])
    assert verdicts[1].endswith(
        "NavigationTiming 1.7.0 invalid (validation): $: Additional properties are not allowed "
        "('extra' was unexpected); $.isAnon: 'yes' is not of type 'boolean'"
    )
    assert verdicts[2].endswith("CpuBenchmark 1.2.0 valid")
    assert re.search(r" - - invalid \(parse\): -: invalid JSON: ", verdicts[3])
    rows = [line.split() for line in lines[4:] if not line.startswith("-" * 4)]
    tally = {row[0]: row[1:] for row in rows[1:]}
    assert rows[0] == ["schema", "valid", "invalid"]
    assert tally["NavigationTiming"] == ["1", "1"]
    assert verdicts[4].endswith(
        "CpuBenchmark 1.2.0 valid (DNT/GPC: the forwarder would keep nothing)"
    )
    assert tally["CpuBenchmark"] == ["2", "0"]
    assert tally["-"] == ["0", "1"]  # the body that is no JSON: no schema to count it under
    assert tally["total"] == ["3", "2"]
    assert "\033[" not in out.decode()  # piped: plain
    assert list(tmp_path.iterdir()) == []  # no database, log, spool or journal


def test_coloured_on_a_terminal(tmp_path):
    leader, follower = pty.openpty()
    proc = start(tmp_path, stdout=follower)
    os.close(follower)
    output = ProcessOutput(proc)
    seen = bytearray()

    def read_terminal() -> bool:
        if select.select([leader], [], [], 0)[0]:  # never block: wait_until polls
            seen.extend(os.read(leader, 65536))
        return b"valid" in seen

    try:
        url = base_url(output)
        assert beacon(url, dict(NAV, event={"isAnon": True})) == 204
        wait_until(read_terminal, 30, "the verdict on the terminal")
    finally:
        proc.send_signal(signal.SIGINT)
        output.finish()
        os.close(leader)
    assert b"\033[32mvalid\033[0m" in seen
