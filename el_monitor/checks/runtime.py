"""Running a check: parse, probe under the ``-t`` deadline, print, return the exit code.

This replaces nagiosplugin's ``Runtime``, a process-wide singleton that calls ``sys.exit`` and
keeps its logging handler and output between calls, which would make plugins untestable
in-process.  :func:`run` returns the exit code; only a plugin's ``main()`` (as a console script
or ``python -m``) turns it into the process status.  Anything that stops a check from judging
(bad option, Graphite or the database unreachable, HTTP error, bad JSON, no data, timeout) is
UNKNOWN with one line saying which; tracebacks only with ``-vv``.  ``run`` serves the Graphite
plugins, ``run_check`` any plugin (``check_el_retention`` reads the database).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import TextIO

import nagiosplugin
from nagiosplugin import Unknown

from el_monitor.checks.acquire import Graphite, Window
from el_monitor.checks.options import ENV_GRAPHITE, ParserExit, UsageError, join_dash_values
from el_monitor.checks.output import plugin_output
from el_monitor.errors import UserError
from el_monitor.graphite.render import RenderError

EXIT_UNKNOWN = 3

BuildCheck = Callable[[argparse.Namespace, Graphite], nagiosplugin.Check]
MakeCheck = Callable[[argparse.Namespace], nagiosplugin.Check]


class Alarm:
    """Whether the ``-t`` alarm went off (an exception may have been rewrapped on the way)."""

    def __init__(self) -> None:
        self.fired = False


@contextmanager
def deadline(seconds: float) -> Iterator[Alarm]:
    """Raise nagiosplugin's ``Timeout`` after ``seconds`` (SIGALRM, main thread only).

    Like nagiosplugin's ``with_timeout`` but with sub-second precision, and it puts back the
    previous handler and timer, so it can run many times in one process (tests).  Outside the
    main thread signals are unavailable and only the render client's own timeout applies.
    """
    alarm = Alarm()
    if threading.current_thread() is not threading.main_thread():
        yield alarm
        return

    def expired(signum: int, frame: FrameType | None) -> None:
        alarm.fired = True
        raise nagiosplugin.Timeout(f"{seconds:g}s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield alarm
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run(
    name: str,
    parser: argparse.ArgumentParser,
    build: BuildCheck,
    argv: Sequence[str] | None = None,
    stdout: TextIO | None = None,
) -> int:
    """A Graphite plugin: ``run_check`` with the render API of ``--graphite`` (or
    ``$EL_GRAPHITE_URL``) for the window of ``--from``/``--until``."""

    def url(args: argparse.Namespace) -> str:
        found: str = args.graphite or os.environ.get(ENV_GRAPHITE, "")
        return found

    def make(args: argparse.Namespace) -> nagiosplugin.Check:
        if not url(args):
            raise UserError(f"no Graphite to ask: give --graphite URL or set {ENV_GRAPHITE}")
        return build(args, Graphite(url(args), Window(args.from_, args.until), args.timeout))

    return run_check(name, parser, make, lambda args: f"Graphite {url(args)}", argv, stdout)


def run_check(
    name: str,
    parser: argparse.ArgumentParser,
    make: MakeCheck,
    source: Callable[[argparse.Namespace], str],
    argv: Sequence[str] | None = None,
    stdout: TextIO | None = None,
) -> int:
    """Parse ``argv``, make and run the check under ``-t``, print the plugin output; the exit
    code.  ``source`` names what the check waits for, for the timeout's status line."""
    out = stdout if stdout is not None else sys.stdout
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(join_dash_values(argv))
    except ParserExit as exc:
        return exc.status
    except UsageError as exc:
        print(plugin_output(name, Unknown, f"usage: {exc}"), end="", file=out)
        return EXIT_UNKNOWN
    verbose: int = args.verbose
    timeout: float = args.timeout
    alarm = Alarm()
    try:
        with deadline(timeout) as alarm:
            check = make(args)
            check()
            state = check.state
            text: str = check.summary_str
            perfdata = list(check.perfdata)
            details = _lines(check.verbose_str) if verbose else []
    except Exception as exc:  # every failure is UNKNOWN, never a traceback on the status line
        text = _failure(exc, alarm, timeout, source(args))
        details = traceback.format_exc().splitlines() if verbose > 1 else []
        print(plugin_output(name, Unknown, text, (), details), end="", file=out)
        return EXIT_UNKNOWN
    print(plugin_output(name, state, text, perfdata, details), end="", file=out)
    return int(state)


def _lines(text: str | Sequence[str]) -> list[str]:
    return text.splitlines() if isinstance(text, str) else list(text)


def _failure(exc: Exception, alarm: Alarm, timeout: float, source: str) -> str:
    """The status line for a check that could not judge."""
    if alarm.fired or isinstance(exc, nagiosplugin.Timeout):
        return f"timed out after {timeout:g} s (-t {timeout:g}) waiting for {source}"
    if isinstance(exc, RenderError | nagiosplugin.CheckError):
        return str(exc)
    if isinstance(exc, ValueError) and "Graphite" in str(exc):  # RenderClient's URL check
        return str(exc)
    if isinstance(exc, UserError):
        return str(exc)
    return f"internal error: {type(exc).__name__}: {exc} (run with -vv for a traceback)"
