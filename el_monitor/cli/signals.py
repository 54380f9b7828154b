"""Signals that set events: SIGINT (Ctrl-C) and SIGTERM (systemd, kill) set an event the
command's loop watches, so it can finish cleanly (print its tally, close its listener, store
what it accepted) instead of dying mid-write; the forwarder's SIGHUP sets another."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class SignalEvent(threading.Event):
    """A ``threading.Event`` a signal handler can set.

    A handler runs on the main thread between two bytecodes, which may be inside this event's
    own ``wait`` or ``clear`` while that thread holds the event's lock: ``threading.Event``'s
    plain lock would then wait for itself for ever, a process that never stops (CPython issue
    126434 is the same for multiprocessing's).  A reentrant lock lets the handler in; at worst
    a wait of the main thread that had just begun sleeps to its timeout (they all have one).
    """

    def __init__(self) -> None:
        super().__init__()
        self._cond = threading.Condition(threading.RLock())


Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


def set_on(event: threading.Event, *signums: int) -> dict[int, Handler]:
    """Have each of ``signums`` set ``event`` (a SignalEvent); the handlers it replaced."""
    return {signum: signal.signal(signum, lambda *_: event.set()) for signum in signums}


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event SIGINT and SIGTERM set; the previous handlers are back afterwards."""
    stop = SignalEvent()
    previous = set_on(stop, *STOP_SIGNALS)
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
