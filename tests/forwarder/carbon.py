"""A plaintext carbon listener for tests of what forwarders send to Graphite."""

from __future__ import annotations

import socket
import threading


class CarbonCapture:
    """A plaintext carbon listener keeping the last value sent for each (name, timestamp), as
    whisper does."""

    def __init__(self) -> None:
        self.points: dict[tuple[str, int], float] = {}
        self.connections = 0  # accepted so far
        self.reading = 0  # not yet closed by the sender
        self._lock = threading.Lock()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self.reading += 1
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as lines:
            for line in lines:
                name, value, stamp = line.decode().split()
                with self._lock:
                    self.points[(name, int(stamp))] = float(value)
        with self._lock:
            self.reading -= 1

    def done(self, senders: int) -> bool:
        """Whether ``senders`` connections came and all were closed (all read)."""
        with self._lock:
            return self.connections >= senders and not self.reading

    def total(self, name: str) -> float:
        with self._lock:
            return sum(v for (n, _), v in self.points.items() if n == name)

    def close(self) -> None:
        self.server.close()
