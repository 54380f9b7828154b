"""The unit a source hands to the pipeline."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple


class Chunk(NamedTuple):
    """Raw lines read together, plus what the pipeline needs to know about them.

    ``defaults`` are capsule fields the transport knows (an HTTP request's user agent, the
    receive time) that fill in what a line leaves out.  ``position`` is an opaque checkpoint:
    once everything in this chunk is durable (committed or spooled) the pipeline hands it back
    to ``Source.commit`` so a restart resumes after it.  An empty ``lines`` list is an idle tick
    that lets the pipeline flush by age while no input arrives.
    """

    lines: list[bytes]
    defaults: Mapping[str, object] | None = None
    position: object | None = None


IDLE = Chunk([])
