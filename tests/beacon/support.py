"""Shared by the beacon tests: a real ``el-monitor forward --input http://127.0.0.1:0`` process,
a burst of real HTTP clients that remember which events were answered 2xx, and what a
database holds."""

from __future__ import annotations

import http.client
import json
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from harness.processes import term_with_parent
from harness.wait import wait_until
from helpers import SCHEMAS, ProcessOutput, example_capsules

from el_monitor.store import open_store

EL_MONITOR = [sys.executable, "-m", "el_monitor.cli"]
LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")


class Stoppable(Protocol):
    """Traffic that goes on until stopped (a ``Burst``, another input's senders)."""

    def stop(self) -> None: ...


class Forwarder:
    """``el-monitor -v forward --input http://127.0.0.1:0 ...`` and the port it bound (found
    by ``started``, after ``ready`` appears in its log: another input's may be given)."""

    def __init__(
        self,
        db_url: str,
        *extra: str,
        cwd: Path | None = None,
        uri: str = "http://127.0.0.1:0",
        ready: str = "listening on http://",
        started: re.Pattern = LISTENING,
    ) -> None:
        args = ["forward", "--schemas", str(SCHEMAS), "--db", db_url]
        self.proc = subprocess.Popen(
            [*EL_MONITOR, "-v", *args, "--input", uri, *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            preexec_fn=term_with_parent,
        )
        self.output = ProcessOutput(self.proc)
        self.output.wait_for(ready)
        match = started.search(self.output.text())
        assert match, self.output.text()
        self.port = int(match.group(1))

    def stop_mid_stream(
        self, traffic: Stoppable, enough: Callable[[], object], what: str
    ) -> tuple[str, str]:
        """Once ``enough()`` holds, SIGTERM while ``traffic`` goes on; stdout and stderr."""
        try:
            wait_until(enough, 120, what)
            self.proc.send_signal(signal.SIGTERM)
            return self.finish()
        finally:
            traffic.stop()
            self.kill()

    def finish(self, timeout: float = 120) -> tuple[str, str]:
        out, err = self.output.finish(timeout)
        return out.decode(), err.decode()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(60)


class Burst:
    """Client threads POSTing batches of valid events, each with its own uuid, over keep-alive
    connections, until told to stop or refused.  ``answered`` holds the uuids of every event
    whose request was answered 2xx; ``sent`` those of every event sent at all."""

    def __init__(self, port: int, clients: int = 6, per_request: int = 50, pad: int = 0) -> None:
        self.port = port
        self.per_request = per_request
        self.pad = pad
        self.answered: list[str] = []
        self.sent: list[str] = []
        self.statuses: dict[int, int] = {}
        self.retry_after: set[str | None] = set()
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._capsules = example_capsules()
        self._threads = [
            threading.Thread(target=self._client, args=(n,), daemon=True) for n in range(clients)
        ]
        for thread in self._threads:
            thread.start()

    def _batch(self, client: int, number: int) -> tuple[list[str], bytes]:
        uuids, events = [], []
        for i in range(self.per_request):
            u = f"{client:04x}{number:012x}{i:016x}"
            capsule = dict(self._capsules[(number + i) % len(self._capsules)], uuid=u)
            if self.pad:
                capsule["pad"] = "x" * self.pad  # an extra field: such events are invalid
            uuids.append(u)
            events.append(capsule)
        return uuids, json.dumps(events).encode()

    def _client(self, client: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        number = 0
        while not self.stopping.is_set():
            number += 1
            uuids, body = self._batch(client, number)
            with self._lock:
                self.sent += uuids
            try:
                conn.request("POST", "/v1/events", body, {"Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
            except OSError:
                if self.stopping.is_set():
                    return
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                continue
            with self._lock:
                self.statuses[response.status] = self.statuses.get(response.status, 0) + 1
                if 200 <= response.status < 300:
                    self.answered += uuids
                else:
                    self.retry_after.add(response.getheader("Retry-After"))
            if response.will_close:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        conn.close()

    def count(self) -> int:
        with self._lock:
            return len(self.answered)

    def stop(self) -> None:
        self.stopping.set()
        for thread in self._threads:
            thread.join(120)
            assert not thread.is_alive(), "a client did not finish"


def stored_uuids(db_url: str) -> list[str]:
    """The uuid of every row in every event table (bookkeeping tables left out)."""
    store = open_store(db_url)
    try:
        quote = store.dialect.quote
        found: list[str] = []
        for table in store.tables():
            if not table.startswith("el_monitor_"):
                found += [row[0] for row in store.query(f"SELECT uuid FROM {quote(table)}")]
        return found
    finally:
        store.close()


def summary_counts(stdout: str) -> dict[str, int]:
    """The overall row of the forwarder's summary table."""
    from helpers import overall_counts

    return overall_counts(stdout.encode())


def assert_books_balance(counts: dict[str, int], rescued: int = 0, duplicate: int = 0) -> None:
    """raw = valid + invalid + sampled_out + opted_out; valid = inserted + spooled + rescued
    (+ replays of rows already stored, which the store ignores by their uuid)."""
    raw, valid = counts["raw"], counts["valid"]
    assert raw == valid + counts["invalid"] + counts["sampled_out"] + counts["opted_out"], counts
    assert valid == counts["inserted"] + counts["spooled"] + rescued + duplicate, counts


def assert_every_2xx_stored_once(db_url: str, burst: Burst, stdout: str) -> dict[str, int]:
    """Every event answered 2xx is stored, once, nothing else was taken and the books of the
    summary balance; returns the summary's overall counts."""
    counts = summary_counts(stdout)
    stored = stored_uuids(db_url)
    assert len(stored) == len(set(stored))
    assert set(burst.answered) <= set(stored)  # every 2xx is stored
    assert counts["raw"] == len(burst.answered) == len(stored)  # and nothing else was taken
    assert_books_balance(counts)
    assert counts["inserted"] == len(stored)
    return counts
