"""Progress of long batch work that an operator starts and must be able to watch.

Today that is ``el-monitor optout purge``: the command shows a ``Progress`` while
``optout.purge`` reports each batch to the ``ProgressSink`` it is given.  It is the one
progress display for any later command that walks whole tables the same way.

On a terminal: one line on stderr redrawn in place (bar, count, rate, ETA).  Anywhere else
(cron, systemd, a pipe): a plain INFO log line at most every ``interval`` seconds, so a job's
journal shows it is alive without a line per batch.  Work that feeds a ``Progress`` should
only depend on the ``ProgressSink`` protocol, so callers (and tests) can pass their own.
"""

from __future__ import annotations

import logging
import shutil
import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import Protocol, TextIO

__all__ = ["Progress", "ProgressSink", "format_duration"]

log = logging.getLogger(__name__)

_REDRAW_SECONDS = 0.1  # a terminal redraw per batch would cost more than small batches
_BAR_WIDTH = 24


class ProgressSink(Protocol):
    """What long work reports to: how much there is, and how much more got done."""

    def set_total(self, total: int | None) -> None: ...

    def advance(self, count: int = 1, note: str = "") -> None: ...


def format_duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``2h07m``: short enough for a progress line."""
    seconds = max(0, int(seconds + 0.5))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _format_rate(rate: float) -> str:
    if rate >= 1e6:
        return f"{rate / 1e6:.1f}M"
    if rate >= 1e4:
        return f"{rate / 1e3:.0f}k"
    if rate >= 10:
        return f"{rate:.0f}"
    return f"{rate:.1f}"


class Progress:
    """A context manager reporting ``done`` of ``total`` units.

    ``tty`` defaults to whether ``stream`` is a terminal.  The rate is the average since the
    start: batches are uneven, and an average gives a steadier ETA than the last batch.
    """

    def __init__(
        self,
        label: str,
        total: int | None = None,
        *,
        unit: str = "rows",
        stream: TextIO | None = None,
        tty: bool | None = None,
        interval: float = 10.0,
        logger: logging.Logger | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.done = 0
        self.note = ""
        self._stream = stream if stream is not None else sys.stderr
        if tty is None:
            isatty = getattr(self._stream, "isatty", None)
            tty = bool(isatty and isatty())
        self.tty = tty
        self._interval = interval
        self._log = logger or log
        self._clock = clock
        self._start = clock()
        self._last_shown = float("-inf")
        self._width = 0  # characters of the last terminal line, to blank leftovers

    # --- ProgressSink ----------------------------------------------------------------------

    def set_total(self, total: int | None) -> None:
        """Set or correct the amount of work; known only once work is planned, often."""
        if total is not None and total != self.total and not self.tty:
            self._log.info("%s: %d %s to go", self.label, total, self.unit)
        self.total = total

    def advance(self, count: int = 1, note: str = "") -> None:
        self.done += count
        if note:
            self.note = note
        now = self._clock()
        if now - self._last_shown >= (_REDRAW_SECONDS if self.tty else self._interval):
            self._last_shown = now
            self._show(now)

    # --- context manager -------------------------------------------------------------------

    def __enter__(self) -> Progress:
        self._start = self._clock()
        if not self.tty:  # the first line says the work started, and how big it is if known
            self._last_shown = self._start
            self._log.info("%s: started%s", self.label, self._of_total())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        now = self._clock()
        elapsed = format_duration(now - self._start)
        if self.tty:
            self._show(now)
            self._stream.write("\n")
            self._stream.flush()
        elif exc_type is None:
            self._log.info("%s: done, %d %s in %s", self.label, self.done, self.unit, elapsed)
        else:
            self._log.info(
                "%s: stopped after %d %s in %s", self.label, self.done, self.unit, elapsed
            )

    # --- rendering -------------------------------------------------------------------------

    def _of_total(self) -> str:
        return "" if self.total is None else f" ({self.total} {self.unit} to go)"

    def _figures(self, now: float) -> tuple[str, str]:
        """(rate, ETA) as text; ETA empty when it cannot be known yet."""
        elapsed = now - self._start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = ""
        if self.total is not None and rate > 0 and self.done < self.total:
            eta = format_duration((self.total - self.done) / rate)
        return f"{_format_rate(rate)} {self.unit}/s", eta

    def _show(self, now: float) -> None:
        rate, eta = self._figures(now)
        if self.tty:
            self._draw(rate, eta)
            return
        done = f"{self.done}"
        if self.total:
            done += f"/{self.total} {self.unit} ({100 * self.done / self.total:.0f}%)"
        else:
            done += f" {self.unit}"
        note = f" [{self.note}]" if self.note else ""
        self._log.info(
            "%s: %s, %s%s%s", self.label, done, rate, f", ETA {eta}" if eta else "", note
        )

    def _draw(self, rate: str, eta: str) -> None:
        if self.total:
            share = min(1.0, self.done / self.total)
            filled = int(share * _BAR_WIDTH)
            bar = "#" * filled + "." * (_BAR_WIDTH - filled)
            count = f"[{bar}] {share:4.0%} {self.done}/{self.total}"
        else:
            count = f"{self.done} {self.unit}"
        line = f"{self.label} {count} {rate}"
        if eta:
            line += f" ETA {eta}"
        if self.note:
            line += f" {self.note}"
        columns = shutil.get_terminal_size((80, 24)).columns - 1
        line = line[:columns]
        self._stream.write("\r" + line + " " * max(0, self._width - len(line)))
        self._stream.flush()
        self._width = len(line)
