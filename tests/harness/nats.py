"""NATS for tests: a private ``nats-server -js`` that a test may stop and start again, and
reading back what a JetStream stream holds.

    with NatsServer(tmp_path / "nats") as server:      # own port, own store directory
        ...                                            # server.url: nats://127.0.0.1:PORT
        server.stop(); server.start()                  # a restart keeps port and store

The shared server (``SHARED_URL``) is never stopped: tests there use streams of their own
(``unique_subject``) and delete them afterwards (``delete_stream``).  A private server dies
with the test process (PR_SET_PDEATHSIG), and its directory is removed when it exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from el_monitor.ingest.sources.base import Chunk
from el_monitor.ingest.sources.journal import read_records
from harness.processes import (
    PortTaken,
    free_ports,
    port_open,
    retry_taken_ports,
    tail,
    term_with_parent,
)
from harness.wait import wait_until

SHARED_URL = os.environ.get("EL_TEST_NATS_URL", "nats://127.0.0.1:4222")
SERVER = "nats-server"
START_SECONDS = 30
T = TypeVar("T")


def server_path() -> str | None:
    return shutil.which(SERVER) or shutil.which(SERVER, path="/usr/sbin:/usr/bin")


def shared_reason() -> str | None:
    """Why the shared server cannot be used, or None."""
    try:
        run(_ping(SHARED_URL))
    except Exception as exc:  # any failure to reach it: say why, and skip
        return f"no NATS server with JetStream at {SHARED_URL} ({exc or type(exc).__name__})"
    return None


async def _ping(url: str) -> None:
    nc = await _connect(url)
    try:
        await nc.jetstream().account_info()
    finally:
        await nc.close()


def unique_subject(prefix: str = "elm.test") -> str:
    """A subject (and so a stream) no other test or run uses."""
    return f"{prefix}.p{os.getpid()}.{secrets.token_hex(4)}"


class NatsServer:
    """A private ``nats-server -js`` on 127.0.0.1 and a free port, storing under
    ``directory``; ``stop`` (SIGTERM, as an operator would) and ``start`` again keep both."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or Path(tempfile.mkdtemp(prefix="el-nats-"))
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.directory / "nats.log"

    def __enter__(self) -> NatsServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        retry_taken_ports(self._start_once, self.stop, self._failure)

    def _start_once(self) -> None:
        if not self.port:  # a restart keeps its port, as its clients expect
            [self.port] = free_ports(1)
        binary = server_path() or SERVER
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [binary, "-js", "-a", "127.0.0.1", "-p", str(self.port),
                 "-sd", str(self.directory / "store")],
                stdout=log, stderr=subprocess.STDOUT, preexec_fn=term_with_parent,
            )  # fmt: skip
        process = self.process

        def ready() -> bool:
            if process.poll() is not None:
                if "address already in use" in tail(self.log).lower():
                    raise PortTaken
                raise self._failure()
            return port_open(self.port) and "Server is ready" in tail(self.log, 200)

        wait_until(ready, START_SECONDS, lambda: f"nats-server on {self.port}:\n{tail(self.log)}")

    def _failure(self) -> Exception:
        return RuntimeError(f"nats-server did not start on {self.port}:\n{tail(self.log)}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(30)


class StoredMessage(NamedTuple):
    """A message as the stream holds it, and the events its record decodes to."""

    sequence: int
    headers: dict[str, str]
    events: list[Chunk]  # one per event: its line, and its defaults with its uuid


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


async def _connect(url: str) -> Any:
    import nats

    return await nats.connect(url, connect_timeout=5, max_reconnect_attempts=0)


def stream_messages(url: str, stream: str, directory: Path) -> list[StoredMessage]:
    """Every message of ``stream``, in order, decoded by the journal's own reader (a message's
    body is a journal record; they are written one after another to a file in ``directory``
    and read back)."""
    raw = run(_get_all(url, stream))
    path = directory / f"{stream}-{secrets.token_hex(3)}.wal"
    found = []
    for sequence, headers, body in raw:
        path.write_bytes(body)
        (events,) = list(read_records(path, 0, 0))
        found.append(StoredMessage(sequence, headers, events))
    path.unlink(missing_ok=True)
    return found


async def _get_all(url: str, stream: str) -> list[tuple[int, dict[str, str], bytes]]:
    """The stream's messages; none when it is not made yet."""
    from nats.js.errors import NotFoundError

    nc = await _connect(url)
    try:
        js = nc.jetstream()
        try:
            state = (await js.stream_info(stream)).state
        except NotFoundError:
            return []
        out = []
        for sequence in range(state.first_seq, state.last_seq + 1) if state.messages else ():
            msg = await js.get_msg(stream, sequence)
            out.append((sequence, dict(msg.headers or {}), msg.data or b""))
        return out
    finally:
        await nc.close()


def stream_config(url: str, stream: str) -> Any:
    """The stream's ``StreamConfig`` as the server has it."""
    return run(_info(url, stream)).config


async def _info(url: str, stream: str) -> Any:
    nc = await _connect(url)
    try:
        return await nc.jetstream().stream_info(stream)
    finally:
        await nc.close()


def stream_exists(url: str, stream: str) -> bool:
    from nats.js.errors import NotFoundError

    try:
        run(_info(url, stream))
    except NotFoundError:
        return False
    return True


def delete_stream(url: str, stream: str) -> None:
    """Delete ``stream`` if it is there."""
    run(_delete(url, stream))


async def _delete(url: str, stream: str) -> None:
    from nats.js.errors import NotFoundError

    nc = await _connect(url)
    try:
        with contextlib.suppress(NotFoundError):
            await nc.jetstream().delete_stream(stream)
    finally:
        await nc.close()
