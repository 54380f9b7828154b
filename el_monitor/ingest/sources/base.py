"""What every input source provides, and the unit it hands to the pipeline."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import NamedTuple, Protocol

from el_monitor.counts.counters import NO_LOSSES, SourceTally


class Chunk(NamedTuple):
    """Raw lines read together, plus what the pipeline needs to know about them.

    ``defaults`` are capsule fields the transport knows (an HTTP request's user agent, the
    receive time) that fill in what a line leaves out.  ``position`` is an opaque checkpoint:
    once everything in this chunk is durable (committed or spooled) the pipeline hands it back
    to ``Source.commit`` so a restart resumes after it.  An empty ``lines`` list is an idle tick
    that lets the pipeline flush by age while no input arrives.  ``uuids``, when given, holds
    one more default per line, its ``uuid``: a request's events (the beacon's, a JetStream
    record's) are one chunk, each with the uuid its transport gave it.
    """

    lines: list[bytes]
    defaults: Mapping[str, object] | None = None
    position: object | None = None
    uuids: Sequence[str] | None = None

    def each_line(self) -> Iterator[tuple[bytes, Mapping[str, object] | None]]:
        """Each line with its own defaults (``defaults`` and, given ``uuids``, its uuid)."""
        if self.uuids is None:
            for line in self.lines:
                yield line, self.defaults
            return
        shared = self.defaults or {}
        for line, uuid in zip(self.lines, self.uuids, strict=True):
            yield line, {**shared, "uuid": uuid}


IDLE = Chunk([])
# Set in a chunk's defaults by a transport whose sender asked not to be tracked (DNT, GPC).
OPTOUT_FLAG = "_optout"


class Source(Protocol):
    """A producer of raw lines.

    ``chunks`` yields until the input ends or ``stop`` is set (a network source, whose input
    cannot be read again, then stops receiving and yields what it had queued before it
    ends), and yields an idle ``Chunk``
    at least every ``idle_interval`` seconds while nothing arrives, so the pipeline can flush
    by age and notice ``stop``.  ``commit`` receives a ``Chunk.position`` once everything up
    to it is durable; sources without checkpoints ignore it.

    A source that can lose or refuse input before the pipeline sees it (a full queue, a
    damaged record, a bad request) also has ``tally() -> SourceTally``, cumulative, safe to call
    from the pipeline's thread; the forwarder reads it wherever it reads its counters, so the
    books show it (``tally_of``).  Sources that lose nothing need not have it.
    """

    name: str

    def chunks(self, stop: threading.Event) -> Iterator[Chunk]: ...

    def commit(self, position: object) -> None: ...

    def close(self) -> None: ...


def tally_of(source: object) -> Callable[[], SourceTally]:
    """The source's ``tally`` method, or one saying it lost nothing."""
    tally = getattr(source, "tally", None)
    return tally if callable(tally) else lambda: NO_LOSSES
