"""What one JetStream message holds, as the pipeline's chunks.

Two kinds of message share a stream:

- A *record* (header ``El-Monitor-Record: 1``), written by ``el-monitor publish``: its body is
  one journal record (``journal.encode``: the defaults its source knew, one uuid per event,
  the raw lines), so an event keeps the uuid it was given when first accepted.
- Anything else is raw lines separated by newlines, as any producer sends them (``nats pub``).
  Each line gets a default uuid from the stream name, the message's sequence in the stream
  and the line's index (``capsule.stream_uuid``): a redelivered message, to this forwarder or
  another, maps to the same rows.  A uuid the line carries itself still wins, as everywhere,
  and so does EventLogging's uuid of a line with a ``seqId``.

A message is one chunk (its lines, a uuid each in ``Chunk.uuids``) that carries its
``position`` (a message with no lines is a chunk with no lines), so the forwarder's
checkpoint never falls inside a message.
"""

from __future__ import annotations

from collections.abc import Mapping

from el_monitor.event.capsule import stream_uuid
from el_monitor.ingest.sources.base import Chunk
from el_monitor.ingest.sources.journal import decode_record, request_chunks
from el_monitor.ingest.sources.lines import clean_line, split_lines

RECORD_HEADER = "El-Monitor-Record"
RECORD_VERSION = "1"


def is_record(headers: Mapping[str, str] | None) -> bool:
    return bool(headers) and headers.get(RECORD_HEADER) == RECORD_VERSION  # type: ignore[union-attr]


def message_chunks(
    data: bytes,
    headers: Mapping[str, str] | None,
    stream: str,
    sequence: int,
    position: object,
    max_line_bytes: int,
) -> list[Chunk]:
    """The chunk of one message, carrying ``position``.  Raises
    ``journal.DamagedRecord`` for a record that does not decode."""
    if is_record(headers):
        defaults, uuids, lines = decode_record(data)
        lines = [clean_line(line, max_line_bytes) for line in lines]
    else:
        defaults = {}
        lines = split_lines(data, max_line_bytes)
        uuids = [stream_uuid(stream, sequence, index) for index in range(len(lines))]
    return request_chunks(defaults, uuids, lines, position) or [Chunk([], None, position)]
