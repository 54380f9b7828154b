"""A real forwarder for the end-to-end Icinga test, fed over UDP at rates the test sets."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.wait import wait_until
from helpers import SCHEMAS, example_capsules, udp_socket


class ForwarderFeed:
    """A real forwarder (``el-monitor forward --graphite``, flushing every second) fed over
    UDP at the current rates (events/s per schema): what Icinga sees is what production would
    send, emitter included.

    The feed keeps to its rates by the clock: each tick sends what is due since the rates were
    set, less what was sent, so a tick that runs late on a loaded machine is made up for by the
    next rather than lowering the rate (a burst that sagged below the critical threshold under
    load once left el-rate WARNING, or flipping between WARNING and CRITICAL)."""

    def __init__(self, graphite: Any, prefix: str, instance: str, directory: Path) -> None:
        import socket

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        carbon_host, carbon_port = graphite.carbon
        self.process = subprocess.Popen(
            [sys.executable, "-m", "el_monitor.cli", "forward", "--schemas", str(SCHEMAS),
             "--db", f"sqlite:///{directory / 'el.db'}", "--input", f"udp://127.0.0.1:{self.port}",
             "--graphite", f"{carbon_host}:{carbon_port}", "--graphite-prefix", prefix,
             "--instance", instance, "--graphite-interval", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        self._rates: tuple[dict[str, float], float] = ({}, 0.0)  # rates, and since when
        self.sent = 0
        self._samples = {c["schema"]: c for c in example_capsules()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="forwarder-feed", daemon=True)
        self.error: BaseException | None = None

    def start(self, rates: Mapping[str, float]) -> None:
        def bound() -> bool:
            assert self.process.poll() is None, self.process.communicate()[1].decode()
            return udp_socket(self.port) is not None

        wait_until(bound, 60, f"the forwarder to bind udp://127.0.0.1:{self.port}")
        self.change(rates)
        self._thread.start()

    def change(self, rates: Mapping[str, float]) -> None:
        """Feed at these rates from now on."""
        self._rates = (dict(rates), time.monotonic())

    def _run(self) -> None:
        import socket

        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
                current: tuple[dict[str, float], float] = ({}, 0.0)
                sent: dict[str, int] = {}
                # The tick only paces the sending (events go out in tenths of a second, as
                # from real clients); how many go out is decided by the clock below.
                while not self._stop.wait(0.1):
                    if self._rates is not current:
                        current, sent = self._rates, {}
                    rates, since = current
                    elapsed = time.monotonic() - since
                    for schema, rate in rates.items():
                        due = int(rate * elapsed) - sent.get(schema, 0)
                        sent[schema] = sent.get(schema, 0) + max(due, 0)
                        lines = [self._event(schema) for _ in range(due)]
                        for start in range(0, len(lines), 10):
                            sender.sendto(
                                b"\n".join(lines[start : start + 10]), ("127.0.0.1", self.port)
                            )
        except BaseException as exc:  # surfaced by the test
            self.error = exc

    def _event(self, schema: str) -> bytes:
        self.sent += 1
        capsule = dict(self._samples[schema], uuid=f"{self.sent:032x}")
        return json.dumps(capsule).encode()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.process.send_signal(signal.SIGTERM)
        self.process.communicate(timeout=30)
