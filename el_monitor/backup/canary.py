"""Canary events: sent through the forwarder during the whole failover drill, then looked for
on the new primary.  Every canary a forwarder accepted (2xx) must be there: the RPO is the
number missing.

A canary is a copy of an operator-chosen event (a capsule the forwarder's registry accepts)
with a fresh uuid and the time of sending; the drill knows its table from its schema and
revision.  One is sent every ``interval`` seconds from a thread of its own, so the stream
covers every phase; a send that fails (the beacon busy, say) is retried as a new canary and
counted, never listed as sent.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

from el_monitor.errors import UserError

log = logging.getLogger(__name__)

Send = Callable[[list[dict]], None]  # hands events to the forwarder; raises OSError when refused
EVENTS_PATH = "/v1/events"


def beacon_sender(base_url: str, timeout: float = 5.0) -> Send:
    """POST events to the forwarder's HTTP beacon (``http://host:port``); 202 or an OSError."""
    url = base_url.rstrip("/") + EVENTS_PATH

    def send(events: list[dict]) -> None:
        request = urllib.request.Request(
            url, json.dumps(events).encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            if answer.status // 100 != 2:
                raise OSError(f"{url} answered {answer.status}")

    return send


def load_template(path: str | Path) -> dict:
    """The canary's capsule (``schema``, ``revision``, ``wiki``, ``event``) from a JSON file."""
    try:
        capsule = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read the canary event {path}: {exc}") from None
    if not isinstance(capsule, dict) or not {"schema", "revision", "event"} <= capsule.keys():
        raise UserError(f"canary event {path}: a JSON object with schema, revision and event")
    capsule["revision"] = str(capsule["revision"])
    return capsule


class CanaryStream:
    """Sends a canary every ``interval`` seconds between ``start`` and ``stop``."""

    def __init__(self, send: Send, template: dict, interval: float = 0.2) -> None:
        self.send = send
        self.template = template
        self.interval = interval
        self.sent: list[str] = []  # uuids the forwarder accepted
        self.refused = 0
        self.last_error = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def schema(self) -> tuple[str, str]:
        return self.template["schema"], self.template["revision"]

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="canaries", daemon=True)
        self._thread.start()

    def stop(self) -> list[str]:
        """Stop sending; the uuids of the canaries accepted."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return self.accepted()

    def accepted(self) -> list[str]:
        with self._lock:
            return list(self.sent)

    def wait_for(self, count: int, timeout: float) -> bool:
        """Until ``count`` more canaries are accepted than now (False after ``timeout``)."""
        target = len(self.accepted()) + count
        deadline = time.monotonic() + timeout
        while len(self.accepted()) < target:
            if time.monotonic() >= deadline or self._stop.is_set():
                return False
            time.sleep(self.interval / 2)
        return True

    def send_one(self) -> None:
        canary = dict(self.template, uuid=uuid.uuid4().hex, timestamp=int(time.time()))
        try:
            self.send([canary])
        except (OSError, urllib.error.URLError) as exc:
            self.refused += 1
            self.last_error = str(exc)
            log.debug("canary refused: %s", exc)
            return
        with self._lock:
            self.sent.append(canary["uuid"])

    def _run(self) -> None:
        while not self._stop.is_set():
            self.send_one()
            self._stop.wait(self.interval)
