"""A beacon for instrumenting a feature before it ships, like EventLogging's own devserver.

It is the forwarder's HTTP source (``sources.http``: ``GET /beacon/event`` answered 204,
``POST /v1/events`` 202, bodies over the limit 413, the same decoding and capsule defaults)
feeding ``verdicts.Judge`` instead of a store: each event is judged as the forwarder would judge
it and handed to ``show``; nothing is stored, logged or journaled.  A request whose sender asked
not to be tracked (DNT, GPC) is judged anyway, and marked: the forwarder would count it and
keep nothing, but a developer with DNT on still wants to see their events checked.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import NamedTuple

from el_monitor.event.formats import JSON_FORMAT
from el_monitor.ingest.sources.base import OPTOUT_FLAG
from el_monitor.ingest.sources.http import HttpSource
from el_monitor.ingest.verdicts import Judge, Tally, Verdict
from el_monitor.schema.registry import SchemaRegistry

__all__ = ["DevEvent", "DevServer"]


class DevEvent(NamedTuple):
    received: int  # Unix seconds, as the beacon stamped it
    verdict: Verdict
    opted_out: bool  # sent with DNT or GPC: the forwarder would keep nothing of it


class DevServer:
    """Listens at once (``address`` is then bound); ``run`` judges until ``stop`` is set."""

    def __init__(
        self,
        registry: SchemaRegistry,
        host: str,
        port: int,
        *,
        max_body_bytes: int = 65536,
    ) -> None:
        self.judge = Judge(registry, JSON_FORMAT, host="devserver")
        self.source = HttpSource(f"http://{host}:{port}", host, port, max_body_bytes=max_body_bytes)
        self.address = self.source.address
        self.tally = Tally()

    def run(self, stop: threading.Event, show: Callable[[DevEvent], None]) -> Tally:
        """Judge every event received until ``stop``, then those already accepted; the tally
        of verdicts per schema."""
        try:
            for chunk in self.source.chunks(stop):
                shared = dict(chunk.defaults or {})
                opted_out = bool(shared.pop(OPTOUT_FLAG, False))
                received = shared.get("timestamp")
                for line, defaults in chunk._replace(defaults=shared).each_line():
                    verdict = self.judge.judge(line, defaults)
                    self.tally.add(verdict)
                    show(DevEvent(received if type(received) is int else 0, verdict, opted_out))
        finally:
            self.source.close()
        return self.tally
