"""systemd's notification protocol (``sd_notify``), for a forwarder run as a ``Type=notify``
unit: ``READY=1`` once its input is open and it forwards, ``WATCHDOG=1`` from its run loop
(a loop stuck on a hung database or disk stops sending them, and systemd restarts it), and
``STOPPING=1`` when it starts draining.  Outside systemd (no ``$NOTIFY_SOCKET``) it does
nothing.  A datagram that cannot be sent is ignored: the notifications are advice to the
service manager, never a reason to stop forwarding.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Mapping


class ServiceNotifier:
    """Notifications to the socket systemd names, and the watchdog interval it asks for."""

    def __init__(self, environ: Mapping[str, str] = os.environ) -> None:
        address = environ.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):  # an abstract socket
            address = "\0" + address[1:]
        self.address = address or None
        usec = environ.get("WATCHDOG_USEC", "")
        pid = environ.get("WATCHDOG_PID", "")
        ours = not pid or pid == str(os.getpid())
        # Pinged at half the interval systemd waits, as sd_watchdog_enabled advises.
        self.watchdog_interval = int(usec) / 2e6 if usec.isdigit() and ours else None

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def ready(self, status: str) -> None:
        self._send(f"READY=1\nSTATUS={status}")

    def watchdog(self) -> None:
        self._send("WATCHDOG=1")

    def stopping(self) -> None:
        self._send("STOPPING=1\nSTATUS=draining")

    def _send(self, message: str) -> None:
        if self.address is None:
            return
        with (
            contextlib.suppress(OSError),
            socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock,
        ):
            sock.sendto(message.encode(), self.address)
