"""Waiting for a condition instead of sleeping for a guessed time.

A test that sleeps "long enough" fails on a loaded machine and wastes time on an idle one. These
wait for what the test really needs, with a generous timeout that only matters when the thing
never happens, and then fail naming it:

    wait_until(lambda: len(inbox.messages()) == 2, 30, "two mails at the SMTP server")
    result = finishes(emitter.close, 30, "close() to give up on a carbon that never reads")
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

POLL_SECONDS = 0.02


def wait_until(
    condition: Callable[[], T],
    timeout: float,
    what: str | Callable[[], str],
    interval: float = POLL_SECONDS,
) -> T:
    """Poll ``condition`` until it returns something truthy, and return that.

    ``timeout`` seconds without it raise AssertionError naming ``what`` (a callable is asked
    then, so the message can show the last state seen). The condition is always tried once more
    after the deadline, so a test that was not scheduled for a while is not failed for it.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            detail = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout:g} s waiting for {detail}")
        time.sleep(interval)


def finishes(call: Callable[[], T], timeout: float, what: str) -> T:
    """``call()`` run in a daemon thread: its result (or its exception) once it returns.

    For calls that must not block on something the test holds up on purpose: a call that
    hangs becomes an AssertionError naming ``what`` after ``timeout`` seconds, not a test run
    that never ends (the thread is left behind, a daemon).
    """
    outcome: list[tuple[bool, object]] = []

    def run() -> None:
        try:
            outcome.append((True, call()))
        except BaseException as exc:  # handed to the waiting thread
            outcome.append((False, exc))

    threading.Thread(target=run, name="finishes", daemon=True).start()
    wait_until(lambda: outcome, timeout, what)
    ok, value = outcome[0]
    if not ok:
        raise value  # type: ignore[misc]
    return value  # type: ignore[return-value]
