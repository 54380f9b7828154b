"""Shared test helpers: sample traffic from the bundled examples, in-memory sources, a child
process's output as it comes, and what the kernel says of a test's sockets."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from harness.wait import wait_until

from el_monitor.ingest.sources.base import IDLE, Chunk

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "examples" / "schemas"
SAMPLES = ROOT / "examples" / "samples"
# Under EventLogging's top-level additionalProperties: false, MediaWikiPingback's published
# example carries an undeclared field (dropped here), and UniversalLanguageSelector 1.6.0
# requires a `token` it never declares, so no event of it can ever be valid (left out here).
UNDECLARED_FIELD = {"MediaWikiPingback": "wiki"}
NEVER_VALID = {"UniversalLanguageSelector"}


def example_capsules() -> list[dict]:
    """Every bundled example that is valid under EventLogging's rules, with a wiki."""
    out = []
    for sample in sorted(SAMPLES.glob("*.jsonl")):
        for line in sample.read_text().splitlines():
            capsule = json.loads(line)
            capsule.setdefault("wiki", "enwiki")
            if capsule["schema"] in NEVER_VALID:
                continue
            if capsule["schema"] in UNDECLARED_FIELD:
                capsule["event"].pop(UNDECLARED_FIELD[capsule["schema"]])
            out.append(capsule)
    return out


def valid_lines(count: int, start: int = 0) -> list[bytes]:
    """``count`` distinct valid JSON lines cycling through the examples (distinct uuids)."""
    capsules = example_capsules()
    lines = []
    for i in range(start, start + count):
        capsule = dict(capsules[i % len(capsules)], uuid=f"{i:032x}", timestamp=1795842000 + i)
        lines.append(json.dumps(capsule).encode())
    return lines


class ListSource:
    """A Source over lines in memory, in chunks; remembers committed positions."""

    name = "list://"

    def __init__(self, lines: Iterable[bytes], chunk: int = 100):
        self.lines = list(lines)
        self.chunk = chunk
        self.committed: list[object] = []

    def chunks(self, stop: threading.Event) -> Iterator[Chunk]:
        for start in range(0, len(self.lines), self.chunk):
            if stop.is_set():
                return
            yield Chunk(self.lines[start : start + self.chunk], None, start + self.chunk)

    def commit(self, position: object) -> None:
        self.committed.append(position)

    def close(self) -> None:
        pass


def overall_counts(summary: bytes) -> dict[str, int]:
    """The ``overall`` row of ``el-monitor forward``'s summary table, by measure."""
    from el_monitor.measures import MEASURES

    (row,) = [line for line in summary.decode().splitlines() if line.startswith("overall")]
    return dict(zip(MEASURES, map(int, row.split()[1:]), strict=True))


def idle_until(
    condition: Callable[[], object], stop: threading.Event, timeout: float, what: str
) -> Iterator[Chunk]:
    """For a test's source: idle ticks until ``condition()`` holds.

    A source runs in the forwarder's own loop, so it cannot block while it waits: each tick
    hands control back, and the forwarder flushes, reconnects or drains in between. Raises
    AssertionError naming ``what`` after ``timeout`` seconds (the forwarder's run fails with it).
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        yield IDLE
        stop.wait(0.02)


def answers_http(base_url: str) -> bool:
    """Whether an HTTP server answers at ``base_url`` (any status will do)."""
    try:
        urllib.request.urlopen(base_url + "/", timeout=2).close()
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


def wait_listening(base_url: str, timeout: float = 60) -> None:
    """Until an HTTP server answers at ``base_url``."""
    wait_until(lambda: answers_http(base_url), timeout, f"an HTTP server at {base_url}")


class ProcessOutput:
    """A child's stdout and stderr, collected as they come: a test can wait for what the child
    logs while it runs (``communicate`` only returns at the end), and still has it all after.
    """

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self._data = {"stdout": bytearray(), "stderr": bytearray()}
        self._lock = threading.Lock()
        self._threads = []
        for name in self._data:
            pipe = getattr(proc, name)
            if pipe is not None:
                thread = threading.Thread(target=self._collect, args=(name, pipe), daemon=True)
                thread.start()
                self._threads.append(thread)

    def _collect(self, name: str, pipe) -> None:
        for block in iter(lambda: pipe.read1(65536), b""):
            with self._lock:
                self._data[name] += block

    def text(self, stream: str = "stderr") -> str:
        with self._lock:
            return self._data[stream].decode(errors="replace")

    def wait_for(
        self, fragment: str, count: int = 1, stream: str = "stderr", timeout: float = 60
    ) -> None:
        """Until ``fragment`` has appeared ``count`` times in ``stream``; fails early if the
        child exits first."""

        def seen() -> bool:
            if self.text(stream).count(fragment) >= count:
                return True
            exited = self.proc.poll()
            assert exited is None, (
                f"exited ({exited}) before printing {fragment!r}:\n{self.text('stderr')[-3000:]}"
            )
            return False

        wait_until(
            seen,
            timeout,
            lambda: (
                f"{fragment!r} ({count}x) in its {stream}; so far:\n{self.text(stream)[-3000:]}"
            ),
        )

    def finish(self, timeout: float = 60) -> tuple[bytes, bytes]:
        """Everything the child wrote, once it has exited (the test has told it to)."""
        self.proc.wait(timeout=timeout)
        for thread in self._threads:
            thread.join(timeout)
        with self._lock:
            return bytes(self._data["stdout"]), bytes(self._data["stderr"])


# -- what the kernel says of a test's sockets (Linux /proc/net) ------------------------------

TCP_STATES = {
    "01": "ESTABLISHED",
    "02": "SYN_SENT",
    "03": "SYN_RECV",
    "04": "FIN_WAIT1",
    "05": "FIN_WAIT2",
    "06": "TIME_WAIT",
    "07": "CLOSE",
    "08": "CLOSE_WAIT",  # the peer's FIN has arrived; this end has not closed yet
    "09": "LAST_ACK",
    "0A": "LISTEN",
    "0B": "CLOSING",
}


def _sockets(kind: str) -> list[list[str]]:
    with open(f"/proc/net/{kind}") as table:
        return [line.split() for line in table.readlines()[1:]]


def _port(address: str) -> int:
    return int(address.rsplit(":", 1)[1], 16)


def tcp_state(local_port: int, remote_port: int) -> str | None:
    """The state of this host's IPv4 TCP connection from ``local_port`` to ``remote_port``
    (``ESTABLISHED``, ``CLOSE_WAIT``, ...), or None when there is none."""
    for fields in _sockets("tcp"):
        if _port(fields[1]) == local_port and _port(fields[2]) == remote_port:
            return TCP_STATES.get(fields[3], fields[3])
    return None


class UdpSocket(NamedTuple):
    queued: int  # bytes received and not yet read
    drops: int  # datagrams the kernel dropped for want of room


def udp_socket(port: int) -> UdpSocket | None:
    """This host's IPv4 UDP socket bound to ``port``, or None (not bound yet)."""
    return next(iter(udp_sockets(port)), None)


def udp_sockets(port: int) -> list[UdpSocket]:
    """Every IPv4 UDP socket bound to ``port`` (the workers' SO_REUSEPORT group)."""
    return [
        UdpSocket(int(fields[4].split(":")[1], 16), int(fields[-1]))
        for fields in _sockets("udp")
        if _port(fields[1]) == port
    ]


def event_defaults(chunks) -> list[dict]:
    """Each event's defaults, its transport's uuid included, over ``chunks`` in order."""
    return [dict(defaults or {}) for chunk in chunks for _, defaults in chunk.each_line()]
