"""Inputs the workers of ``forward --workers N`` can share, and what one worker reads of them.

- ``udp://`` and ``http://``: every worker gets its own socket on the one port (SO_REUSEPORT),
  all made before the workers start.  The kernel spreads datagrams and connections over them
  by the sender's address and port, so the load spreads over many senders (or connections);
  the datagrams of one UDP sender all reach one worker.
- ``file://`` inputs read to their end, one or several: cut into pieces that every worker
  takes in turn (``pieces``), so that all end together.
- Followed files (``?follow=1``) never end: each worker follows one.  Files among followed
  ones, and more files than ``pieces`` cuts, are dealt out whole by size: the largest first,
  each to the worker with the fewest bytes so far, which reads its files one after another.
- ``nats://``: every worker is its own member of the one durable consumer (its own
  connection, made in the worker), and JetStream splits the stream between them.
- ``stdin://`` and a single followed file cannot be shared: asking is one clear error.
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
from el_monitor.ingest.sources.pieces import (
    MAX_PIECES,
    PIECE_BYTES,
    PieceQueue,
    PieceSource,
    cut,
)

log = logging.getLogger(__name__)

_SOCKET_KINDS = {"udp": socket.SOCK_DGRAM, "http": socket.SOCK_STREAM}
SHAREABLE = "udp://, http://, nats:// or file:// inputs"


class Share(NamedTuple):
    """What one worker reads: pieces of the files (``pieces``, the queue every worker takes
    them from), its files in order, or the network input with its own socket."""

    uris: tuple[str, ...]
    sock: socket.socket | None = None
    pieces: PieceQueue | None = None


def plan_shares(uris: Sequence[str], workers: int) -> list[Share]:
    """Split ``uris`` between ``workers`` processes (fewer when there is less to share), or
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
    facts = [_file_facts(uri) for uri in uris]
    followed = any(fact.follow for fact in facts)
    if workers > 1 and not followed and len(uris) <= MAX_PIECES // 2:
        return _pieces(facts, uris, workers)
    if len(uris) == 1 and workers > 1:
        raise UserError(
            f"--input {uris[0]}: a followed file is read by one process; "
            "use --workers 1 (the default)"
        )
    return _deal(facts, uris, workers)


class _FileFacts(NamedTuple):
    path: str
    size: int
    follow: bool


def _file_facts(uri: str) -> _FileFacts:
    """A file input's path, size and whether it is followed; opening it checks it can be
    read."""
    source = open_source(uri)
    try:
        assert isinstance(source, FileSource)
        return _FileFacts(source.path, os.path.getsize(source.path), source.follow)
    finally:
        source.close()


def _pieces(facts: list[_FileFacts], uris: Sequence[str], workers: int) -> list[Share]:
    """Every worker takes pieces of all the files (fewer workers than pieces are started)."""
    queue = PieceQueue([f.path for f in facts], cut([f.size for f in facts]))
    count = min(workers, len(queue.pieces))
    if count < workers:
        log.warning(
            "the input makes %d pieces (of %d MiB at least) for %d workers: starting %d",
            count,
            PIECE_BYTES >> 20,
            workers,
            count,
        )
    return [Share(tuple(uris), pieces=queue)] * count


def _deal(facts: list[_FileFacts], uris: Sequence[str], workers: int) -> list[Share]:
    count = min(workers, len(uris))
    if any(fact.follow for fact in facts) and len(uris) > count:
        raise UserError(
            f"{len(uris)} files with ?follow=1 take one worker each: use --workers {len(uris)}"
        )
    if count < workers:
        log.warning("%d files for %d workers: starting %d", len(uris), workers, count)
    loads = [0] * count
    dealt: list[list[int]] = [[] for _ in range(count)]
    for index in sorted(range(len(uris)), key=lambda i: -facts[i].size):
        lightest = loads.index(min(loads))
        dealt[lightest].append(index)
        loads[lightest] += facts[index].size
    return [Share(tuple(uris[i] for i in sorted(indices))) for indices in dealt]


def open_share(share: Share, *, max_line_bytes: int = 65536, **options: Any) -> Source:
    """The source of one share (``open_source``'s ``options``): the pieces it takes, or its
    files one after another."""
    if share.pieces is not None:
        return PieceSource(" ".join(share.uris), share.pieces, max_line_bytes)
    if len(share.uris) == 1:
        return open_source(share.uris[0], sock=share.sock, max_line_bytes=max_line_bytes, **options)
    sources: list[Source] = []
    try:
        for uri in share.uris:
            sources.append(open_source(uri, max_line_bytes=max_line_bytes, **options))
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
