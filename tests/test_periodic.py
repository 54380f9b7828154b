"""The run loop's clocks: when each periodic job of the forwarder is due."""

from __future__ import annotations

import threading

from el_monitor.ingest.periodic import Every, PeriodicTask, WallClockSlots, run_due


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_every_is_due_once_per_interval() -> None:
    clock = Clock(100.0)
    due = Every(10.0, clock=clock)
    assert not due()
    clock.now = 109.9
    assert not due()
    clock.now = 110.0
    assert due()
    assert not due()  # the next one is 10 s after this run
    clock.now = 120.0
    assert due()


def test_every_without_an_interval_is_never_due() -> None:
    clock = Clock(0.0)
    forced = threading.Event()
    forced.set()
    due = Every(None, now=forced.is_set, clock=clock)
    clock.now = 1e9
    assert not due()


def test_an_event_makes_it_due_at_once() -> None:
    clock = Clock(0.0)
    reload = threading.Event()
    due = Every(1.0, now=reload.is_set, clock=clock)
    assert not due()
    reload.set()
    assert due()  # SIGHUP does not wait for the interval
    reload.clear()
    clock.now = 0.5
    assert not due()


def test_wall_clock_slots_end_on_multiples_of_the_interval() -> None:
    clock = Clock(1003.7)
    slots = WallClockSlots(10.0, clock=clock)
    assert slots.boundary == 1010.0
    assert not slots()
    clock.now = 1010.0
    assert slots()
    assert slots()  # stays due until the slot is handled
    clock.now = 1031.2  # a slow loop skips slots rather than replaying them
    slots.advance()
    assert slots.boundary == 1040.0
    assert not slots()


def test_run_due_runs_only_the_due_tasks_in_order() -> None:
    ran: list[str] = []
    tasks = [
        PeriodicTask("a", lambda: True, lambda: ran.append("a")),
        PeriodicTask("b", lambda: False, lambda: ran.append("b")),
        PeriodicTask("c", lambda: True, lambda: ran.append("c")),
    ]
    run_due(tasks)
    assert ran == ["a", "c"]
