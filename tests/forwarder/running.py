"""``el-monitor forward`` as a running child process fed through its stdin, for fault tests
that change the world under it (fill its disk, drop its table) between two batches of events."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from helpers import SCHEMAS, ProcessOutput, example_capsules, overall_counts

EL_MONITOR = [sys.executable, "-m", "el_monitor.cli"]


class RunningForwarder:
    """A forwarder reading JSON lines from a pipe: ``send`` some, change something, send more,
    then ``finish`` (end of input: it drains and prints its summary)."""

    def __init__(self, db_url: str | None, *options: str) -> None:
        """``db_url`` None: the options name the database (``--db-file``)."""
        args = [*EL_MONITOR, "forward", "--schemas", str(SCHEMAS)]
        args += ["--db", db_url] if db_url is not None else []
        args += ["--flush-interval", "0.1", "--batch-size", "50", *options]
        self.proc = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self.output = ProcessOutput(self.proc)
        self.sent = 0

    def send(self, lines: list[bytes]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"".join(line + b"\n" for line in lines))
        self.proc.stdin.flush()
        self.sent += len(lines)

    def alive(self) -> bool:
        """True while it runs; fails the test, showing its stderr, once it has exited."""
        code = self.proc.poll()
        assert code is None, f"the forwarder exited ({code}):\n{self.stderr()[-3000:]}"
        return True

    def stderr(self) -> str:
        return self.output.text("stderr")

    def finish(self, timeout: float = 120) -> tuple[int, dict[str, int], str, str]:
        """End the input; the exit status, the summary's overall counts, stdout and stderr."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        out, err = self.output.finish(timeout)
        counts = overall_counts(out) if self.proc.returncode == 0 else {}
        return self.proc.returncode, counts, out.decode(), err.decode(errors="replace")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)


def one_schema_lines(count: int, start: int = 0) -> list[bytes]:
    """Like ``helpers.valid_lines``, all of the first example's schema: one table to fill."""
    capsule = example_capsules()[0]
    return [
        json.dumps(dict(capsule, uuid=f"{i:032x}", timestamp=1795842000 + i)).encode()
        for i in range(start, start + count)
    ]


def assert_books_balance(counts: dict[str, int], store_errors: int = 0) -> None:
    """raw = valid + invalid + sampled_out + opted_out; valid = inserted + duplicate + store
    errors."""
    assert counts["raw"] == (
        counts["valid"] + counts["invalid"] + counts["sampled_out"] + counts["opted_out"]
    ), counts
    assert counts["valid"] == counts["inserted"] + counts.get("duplicate", 0) + store_errors, counts


def log_records(directory: Path, kind: str) -> list[str]:
    """The lines of every ``kind`` log file in ``directory``."""
    lines: list[str] = []
    for path in sorted(directory.glob(f"{kind}-*.jsonl")):
        lines += path.read_text(errors="replace").splitlines()
    return lines


def uuids_in(records: list[str]) -> set[str]:
    """The uuids of the whole records among ``records`` (a cut-short one is skipped)."""
    found = set()
    for record in records:
        try:
            found.add(json.loads(record)["uuid"])
        except (ValueError, KeyError, TypeError):
            continue
    return found
