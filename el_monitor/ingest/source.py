"""What every input source provides; ``open_source`` in ``sources`` builds one from a URI."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Protocol

from el_monitor.ingest.chunk import Chunk


class Source(Protocol):
    """A producer of raw lines.

    ``chunks`` yields until the input ends or ``stop`` is set, and yields an idle ``Chunk``
    at least every ``idle_interval`` seconds while nothing arrives, so the pipeline can flush
    by age and notice ``stop``.  ``commit`` receives a ``Chunk.position`` once everything up
    to it is durable; sources without checkpoints ignore it.
    """

    name: str

    def chunks(self, stop: threading.Event) -> Iterator[Chunk]: ...

    def commit(self, position: object) -> None: ...

    def close(self) -> None: ...
