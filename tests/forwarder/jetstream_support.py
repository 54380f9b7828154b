"""Shared by the JetStream consumer tests: a corpus with the rows it must give, forwarder
processes as members of a group, and waiting for the group and the database."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections import Counter

from harness.jetstream import TestStream
from harness.wait import wait_until
from helpers import SCHEMAS, ProcessOutput, overall_counts

from el_monitor.store import StoreUnavailable, open_store
from el_monitor.store.mapping import table_name

from .support import events

AT = 1795842000


class Corpus:
    """Lines as ``support.events`` makes them (one in 7 invalid, one in 50 not JSON), every
    other valid one without a uuid (the stream names it), and the rows they must give."""

    def __init__(self, count: int, start: int = 0) -> None:
        lines, _ = events(count, start, AT)
        self.lines: list[bytes] = []
        self.tables: Counter[str] = Counter()
        for i, line in zip(range(start, start + count), lines, strict=True):
            if i % 50 != 49 and i % 7 != 0:
                capsule = json.loads(line)
                self.tables[table_name(capsule["schema"], str(capsule["revision"]))] += 1
                if i % 2:
                    del capsule["uuid"]
                line = json.dumps(capsule).encode()
            self.lines.append(line)

    @property
    def valid(self) -> int:
        return sum(self.tables.values())

    def publish(self, stream: TestStream) -> None:
        """Half as raw lines (one to a message, then ten), half as records of 50."""
        half = len(self.lines) // 2
        stream.publish_lines(self.lines[: half // 2])
        stream.publish_lines(self.lines[half // 2 : half], per_message=10)
        stream.publish_records(self.lines[half:])


def table_counts(db_url: str) -> Counter[str]:
    """Rows per event table (empty while the database cannot be read)."""
    try:
        store = open_store(db_url)
    except StoreUnavailable:
        return Counter()
    try:
        quote = store.dialect.quote
        return Counter(
            {
                t: store.query(f"SELECT COUNT(*) FROM {quote(t)}")[0][0]
                for t in store.tables()
                if not t.startswith("el_monitor_")
            }
        )
    except StoreUnavailable:
        return Counter()
    finally:
        store.close()


class Member:
    """``el-monitor forward`` in the group, as its own instance."""

    def __init__(self, db_url: str, uri: str, instance: str, *options: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "el_monitor.cli", "forward", "--schemas", str(SCHEMAS),
             "--db", db_url, "--input", uri, "--instance", instance,
             "--flush-interval", "0.2", "--batch-size", "200", *options],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        self.output = ProcessOutput(self.proc)

    def alive(self) -> bool:
        code = self.proc.poll()
        assert code is None, f"a member exited ({code}):\n{self.output.text()[-3000:]}"
        return True

    def stop(self) -> dict[str, int]:
        """SIGTERM; its summary's overall counts (it must exit 0)."""
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.output.finish(120)
        assert self.proc.returncode == 0, err.decode(errors="replace")[-3000:]
        return overall_counts(out)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)


def waiting_members(stream: TestStream, consumer: str, count: int) -> None:
    """Until ``count`` members have a pull request waiting (they are all in the group)."""
    wait_until(
        lambda: _waiting(stream, consumer) >= count, 120, f"{count} members pulling from {consumer}"
    )


def _waiting(stream: TestStream, consumer: str) -> int:
    return stream.has_consumer(consumer) and stream.consumer(consumer).num_waiting or 0


def answers(stream: TestStream, consumer: str) -> bool:
    try:
        return stream.has_consumer(consumer)
    except Exception:  # noqa: BLE001 - not back yet (no responders, timeout)
        return False


def stored(db_url: str, expected: Counter[str], members: list[Member], timeout: float = 120):
    def done() -> bool:
        assert all(m.alive() for m in members)
        return table_counts(db_url) == expected

    wait_until(done, timeout, lambda: f"{expected.total()} rows, have {table_counts(db_url)}")
