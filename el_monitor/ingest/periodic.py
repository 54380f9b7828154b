"""When the forwarder's run loop does its periodic jobs, as small clock objects.

The loop runs every job that is due between two chunks, so a job never races the pipeline and
an idle source (which still yields idle chunks) keeps the jobs on time.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import NamedTuple


class Every:
    """Due every ``interval`` seconds of monotonic time; never when ``interval`` is None.

    ``now``, when given, says when the job is due at once (SIGHUP's reload).
    """

    def __init__(
        self,
        interval: float | None,
        now: Callable[[], bool] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self._now = now
        self._clock = clock
        self._at = clock() + interval if interval else math.inf

    def __call__(self) -> bool:
        forced = self._now is not None and self._now()
        if self.interval is None or not forced and self._clock() < self._at:
            return False
        self._at = self._clock() + self.interval
        return True


class WallClockSlots:
    """Due at every wall-clock multiple of ``interval``, so every forwarder flushes in step.

    ``boundary`` is the end of the slot that just became due (Graphite keeps one value per
    slot, so what is sent is stamped by slot, not by the moment of sending).
    """

    def __init__(self, interval: float, clock: Callable[[], float] = time.time) -> None:
        self.interval = interval
        self._clock = clock
        self.boundary = self._next(clock())

    def __call__(self) -> bool:
        return self._clock() >= self.boundary

    def advance(self) -> None:
        """The due slot was handled: wait for the next boundary after now."""
        self.boundary = self._next(self._clock())

    def _next(self, now: float) -> float:
        return (math.floor(now / self.interval) + 1) * self.interval


class PeriodicTask(NamedTuple):
    """One job of the run loop: ``run`` whenever ``due`` says so (its result is ignored)."""

    name: str
    due: Callable[[], bool]
    run: Callable[[], object]


def run_due(tasks: list[PeriodicTask]) -> None:
    for task in tasks:
        if task.due():
            task.run()
