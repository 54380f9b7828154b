"""Events that signal handlers set (``cli.signals``): a handler may run while the main thread is
inside the event's own ``wait`` or ``clear``, holding its lock."""

from __future__ import annotations

import subprocess
import sys
import textwrap

HELD_WHEN_SIGNALLED = textwrap.dedent(
    """
    import signal, threading
    from el_monitor.cli.signals import SignalEvent, set_on

    event = {kind}()
    set_on(event, signal.SIGUSR1)
    with event._cond:  # as inside the event's own wait or clear
        signal.raise_signal(signal.SIGUSR1)  # its handler runs before this call returns
        print("set" if event.is_set() else "not set")
    """
)


def _signalled_while_held(kind: str) -> subprocess.CompletedProcess[str] | None:
    """What a process prints that signals itself while holding the event's lock; None if it
    hung (killed after a generous timeout)."""
    try:
        return subprocess.run(
            [sys.executable, "-c", HELD_WHEN_SIGNALLED.format(kind=kind)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except subprocess.TimeoutExpired:
        return None


def test_a_signal_event_is_set_by_a_handler_that_lands_while_its_lock_is_held() -> None:
    """(The same with ``threading.Event`` hangs: its lock is not reentrant.)"""
    done = _signalled_while_held("SignalEvent")
    assert done is not None, "the handler waited for the lock its own thread held"
    assert (done.returncode, done.stdout) == (0, "set\n"), done.stderr
