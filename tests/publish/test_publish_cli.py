"""``el-monitor publish`` mistakes end in one line and status 2, before anything is published."""

from __future__ import annotations

import subprocess

import pytest
from harness.nats import SHARED_URL, stream_exists
from harness.processes import free_ports

from el_monitor.ingest.sources.jetstream_address import stream_for_subject

from .support import EL_MONITOR


def publish(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*EL_MONITOR, "publish", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--to", "nats://127.0.0.1:4222/a b"], "malformed subject"),
        (["--to", "nats://127.0.0.1:4222/s?max_age=soon"], "malformed max_age 'soon'"),
        (["--to", "nats://127.0.0.1:4222/s?ttl=1"], "unknown option 'ttl'"),
        (["--to", "nats://127.0.0.1:4222/s", "--format", "%q %{x"], "format"),
    ],
)
def test_a_mistake_is_one_line(args, says):
    done = publish(*args)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and says in done.stderr, done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("uri", "says"),
    [("ftp://x:1", "unknown input"), ("file:///nowhere/events.jsonl", "/nowhere/events.jsonl")],
)
def test_a_mistaken_input_is_one_line_and_makes_no_stream(subject, uri, says):
    done = publish("--input", uri, "--to", f"{SHARED_URL}/{subject}")
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and says in done.stderr, done.stderr
    assert not stream_exists(SHARED_URL, stream_for_subject(subject))


def test_no_server_there_is_one_line(tmp_path):
    [port] = free_ports(1)
    log = tmp_path / "events.jsonl"
    log.write_text("{}\n")
    done = publish("--input", f"file://{log}", "--to", f"nats://127.0.0.1:{port}/s")
    assert done.returncode == 2, done.stderr
    assert f"cannot reach NATS at nats://127.0.0.1:{port}" in done.stderr, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
