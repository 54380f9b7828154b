"""Shared by the publish tests: a real ``el-monitor publish`` process, and what a stream holds
as events."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from harness.nats import SHARED_URL, stream_messages
from harness.processes import term_with_parent
from helpers import ProcessOutput

from el_monitor.ingest.publish.publisher import message_id
from el_monitor.ingest.sources.jetstream_address import stream_for_subject

EL_MONITOR = [sys.executable, "-m", "el_monitor.cli"]
LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")
TALLY = re.compile(
    r"read (\d+) events, published (\d+) in (\d+) messages \((\d+) already in the stream\), "
    r"refused (\d+) requests, answered (\d+) busy, (\d+) publish failures"
    r"(?:; (\d+) lines dropped \(the queue was full; raise --queue-mb\))?"
    r"(?:; (\d+) datagrams dropped by the kernel \(its socket buffer was full\))?"
)
TALLY_KEYS = (
    "read", "published", "messages", "duplicates", "refused", "busy", "failed", "dropped",
    "kernel_dropped",
)  # fmt: skip


def publish_args(uri: str, subject: str, *extra: str, server: str = SHARED_URL) -> list[str]:
    return [*EL_MONITOR, "-v", "publish", "--input", uri, "--to", f"{server}/{subject}", *extra]


class Publisher:
    """``el-monitor -v publish ...`` running; ``port`` is its beacon's, when ``http``."""

    def __init__(self, args: list[str], http: bool = False, stdin: bytes | None = None) -> None:
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=term_with_parent,
        )
        if stdin is not None:
            assert self.proc.stdin is not None
            self.proc.stdin.write(stdin)
            self.proc.stdin.close()
        self.output = ProcessOutput(self.proc)
        self.port = 0
        if http:
            self.output.wait_for("listening on http://")
            match = LISTENING.search(self.output.text())
            assert match, self.output.text()
            self.port = int(match.group(1))

    def terminate(self, timeout: float = 120) -> tuple[dict[str, int], str]:
        """SIGTERM, then the tally it printed and its stderr."""
        self.proc.send_signal(signal.SIGTERM)
        return self.finish(timeout)

    def finish(self, timeout: float = 120) -> tuple[dict[str, int], str]:
        try:
            out, err = self.output.finish(timeout)
        finally:
            self.kill()
        match = TALLY.search(out.decode())
        assert match, f"no tally; stdout {out!r}\nstderr:\n{err.decode()[-3000:]}"
        counts = (int(n or 0) for n in match.groups())  # the losses: only when there were any
        return dict(zip(TALLY_KEYS, counts, strict=True)), err.decode()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(60)


def stream_lines(
    subject: str, directory: Path, server: str = SHARED_URL
) -> list[tuple[str, bytes, dict]]:
    """(uuid, line, defaults) of every event in the subject's stream, message after message;
    every message carries the record header and the digest of its uuids as its id."""
    found = []
    for message in stream_messages(server, stream_for_subject(subject), directory):
        assert message.headers.get("El-Monitor-Record") == "1", message.headers
        events = [
            (line, dict(defaults or {})) for chunk in message.events
            for line, defaults in chunk.each_line()
        ]  # fmt: skip
        uuids = [str(defaults["uuid"]) for _, defaults in events]
        assert message.headers.get("Nats-Msg-Id") == message_id(uuids)
        for line, defaults in events:
            found.append((str(defaults.pop("uuid")), line, defaults))
    return found


def checkpoint_offset(state: Path, log: Path) -> int:
    """The offset a followed file's checkpoint in ``state`` holds (0: none yet)."""
    path = state / f".{log.name}.el-monitor.checkpoint"  # beside it, its temporary files
    return json.loads(path.read_text())["offset"] if path.exists() else 0


def once_each(values: list[str]) -> set[str]:
    """The values as a set, after checking none is there twice."""
    twice = [v for v, n in Counter(values).items() if n > 1]
    assert not twice, f"{len(twice)} stored twice, e.g. {twice[:3]}"
    return set(values)
