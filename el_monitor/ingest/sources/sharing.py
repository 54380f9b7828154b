"""Inputs the workers of ``forward --workers N`` can share, and what one worker reads of them.

- ``udp://`` and ``http://``: every worker gets its own socket on the one port (SO_REUSEPORT),
  all made before the workers start.  The kernel spreads datagrams and connections over them
  by the sender's address and port, so the load spreads over many senders (or connections);
  the datagrams of one UDP sender all reach one worker.
- Several ``file://`` inputs: dealt out by size (the largest first, each to the worker with
  the fewest bytes so far); a worker reads its files one after another.  A followed file
  (``?follow=1``) never ends, so each worker follows at most one.
- ``nats://``: every worker is its own member of the one durable consumer (its own
  connection, made in the worker), and JetStream splits the stream between them.
- ``stdin://`` and a single file cannot be shared: asking is one clear error.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from el_monitor.errors import UserError
from el_monitor.ingest.sources import host_port, open_source
from el_monitor.ingest.sources.base import Chunk, Source
from el_monitor.ingest.sources.file import FileSource
from el_monitor.ingest.sources.jetstream_address import parse_consume_uri
from el_monitor.ingest.sources.network import bound_sockets

log = logging.getLogger(__name__)

_SOCKET_KINDS = {"udp": socket.SOCK_DGRAM, "http": socket.SOCK_STREAM}
SHAREABLE = "udp://, http://, nats:// or several file:// inputs"


class Share(NamedTuple):
    """What one worker reads: its files in order, or the network input with its own socket."""

    uris: tuple[str, ...]
    sock: socket.socket | None = None


def plan_shares(uris: Sequence[str], workers: int) -> list[Share]:
    """Split ``uris`` between ``workers`` processes (fewer when there are fewer files), or
    say in one line why they cannot be.  Network sockets are bound here, files checked."""
    schemes = [uri.partition("://")[0].lower() if "://" in uri else "" for uri in uris]
    if len(uris) == 1 and schemes[0] in _SOCKET_KINDS and workers > 1:
        (uri,) = uris
        host, port = host_port(uri)
        socks = bound_sockets(uri, _SOCKET_KINDS[schemes[0]], host, port, workers)
        return [Share((uri,), sock) for sock in socks]
    if len(uris) == 1 and schemes[0] == "nats":
        parse_consume_uri(uris[0])  # a malformed address fails once, here
        return [Share((uris[0],))] * workers
    if set(schemes) != {"file"}:
        if len(uris) == 1:
            raise UserError(
                f"--input {uris[0]} cannot be shared between workers: use {SHAREABLE}, "
                "or one worker (--workers 1, the default)"
            )
        raise UserError(f"several --input must all be file:// inputs, got {' '.join(uris)}")
    if len(uris) == 1 and workers > 1:
        raise UserError(
            f"--input {uris[0]}: one file is read by one process; give several file:// "
            "inputs to share them between workers, or use --workers 1 (the default)"
        )
    return _deal([_file_facts(uri) for uri in uris], uris, workers)


def _file_facts(uri: str) -> tuple[int, bool]:
    """A file input's size and whether it is followed; opening it checks it can be read."""
    source = open_source(uri)
    try:
        assert isinstance(source, FileSource)
        return os.path.getsize(source.path), source.follow
    finally:
        source.close()


def _deal(facts: list[tuple[int, bool]], uris: Sequence[str], workers: int) -> list[Share]:
    count = min(workers, len(uris))
    if any(follow for _, follow in facts) and len(uris) > count:
        raise UserError(
            f"{len(uris)} files with ?follow=1 take one worker each: use --workers {len(uris)}"
        )
    if count < workers:
        log.warning("%d files for %d workers: starting %d", len(uris), workers, count)
    loads = [0] * count
    dealt: list[list[int]] = [[] for _ in range(count)]
    for index in sorted(range(len(uris)), key=lambda i: -facts[i][0]):
        lightest = loads.index(min(loads))
        dealt[lightest].append(index)
        loads[lightest] += facts[index][0]
    return [Share(tuple(uris[i] for i in sorted(indices))) for indices in dealt]


def open_share(share: Share, **options: Any) -> Source:
    """The source of one share (``open_source``'s ``options``): its files one after another."""
    if len(share.uris) == 1:
        return open_source(share.uris[0], sock=share.sock, **options)
    sources: list[Source] = []
    try:
        for uri in share.uris:
            sources.append(open_source(uri, **options))
    except BaseException:
        for source in sources:
            source.close()
        raise
    return FileSequence(sources)


class FileSequence:
    """Files read to their end, one after another (such files have no checkpoints)."""

    def __init__(self, sources: Sequence[Source]) -> None:
        self.sources = list(sources)
        self.name = " ".join(source.name for source in self.sources)
        self._current = self.sources[0]

    def chunks(self, stop: threading.Event) -> Iterator[Chunk]:
        for source in self.sources:
            if stop.is_set():
                return
            self._current = source
            yield from source.chunks(stop)

    def commit(self, position: object) -> None:
        self._current.commit(position)

    def close(self) -> None:
        for source in self.sources:
            source.close()
