"""What every ``check_el_*`` plugin shares: options, queries, judging a window, running a check.

Each plugin is nagiosplugin's Resource (one render query) → Context (thresholds) → Summary (the
status line), but runs through :func:`run` here instead of nagiosplugin's ``Runtime``: that one
is a process-wide singleton that calls ``sys.exit`` and keeps its logging handler and output
between calls, which would make plugins untestable in-process.  ``run`` returns the exit code;
only the console-script ``main()`` turns it into the process status.

Monitoring Plugins guidelines followed here: ``-w``/``-c`` are Nagios ranges (``10`` alerts
outside 0..10, ``5:`` below 5, ``~:5`` above 5, ``@1:2`` inside), ``-t`` bounds the whole run,
exit codes 0/1/2/3, one status line naming what caused the state, perfdata in plain decimals
with ``U`` where unknown.  Anything that stops a check from judging (bad option, Graphite
unreachable, HTTP error, bad JSON, no data, timeout) is UNKNOWN with a line saying which.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from types import MappingProxyType
from typing import NamedTuple, TextIO

import nagiosplugin
from nagiosplugin import Critical, Ok, Range, Unknown, Warn
from nagiosplugin.state import ServiceState

from el_monitor.argtypes import instance_name, schema_name
from el_monitor.errors import UserError
from el_monitor.graphite.names import DEFAULT_PREFIX, PREFIX
from el_monitor.graphite.render import RenderClient, RenderError, Series

__all__ = [
    "DEFAULT_PREFIX",
    "ENV_GRAPHITE",
    "Frame",
    "Graphite",
    "PerfContext",
    "Points",
    "UsageError",
    "Verdict",
    "Window",
    "WindowContext",
    "add_percent",
    "instance_name",
    "schema_name",
    "by_context",
    "compared",
    "crossing",
    "deadline",
    "judge",
    "judge_value",
    "listing",
    "num",
    "perf_num",
    "performance",
    "plugin_parser",
    "problems",
    "range_text",
    "run",
    "unknown_text",
]

ENV_GRAPHITE = "EL_GRAPHITE_URL"
DEFAULT_TIMEOUT = 10.0
CLIENT_SHARE = 0.8  # of -t given to each render request, so the client times out before the alarm
EXIT_UNKNOWN = 3

# Options whose values may start with "-" (relative times, negative ranges): argparse would
# take "--from -10min" for two options, so they are joined to "--from=-10min" before parsing.
_DASH_VALUE_OPTIONS = MappingProxyType(
    {
        "--from": "--from",
        "--until": "--until",
        "--lookback": "--lookback",
        "-w": "--warning",
        "--warning": "--warning",
        "-c": "--critical",
        "--critical": "--critical",
    }
)


# --- options -----------------------------------------------------------------------------------


class UsageError(Exception):
    """A bad command line: UNKNOWN (3), as the guidelines ask, not argparse's exit 2."""


class _ParserExit(Exception):
    """argparse finished early (``--help``): the status to return, the text already printed."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class PluginParser(argparse.ArgumentParser):
    """argparse that raises instead of calling ``sys.exit``, so ``run`` decides the exit code."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see {self.prog} --help)")

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        if message:
            sys.stderr.write(message)
        raise _ParserExit(status)


def nagios_range(text: str) -> Range:
    """An argparse type: a Nagios range, ``''`` for none."""
    try:
        return Range(text)
    except (ValueError, TypeError) as exc:
        raise argparse.ArgumentTypeError(
            f"invalid range {text!r} ({exc}); use N, N:, ~:N, N:M or @N:M"
        ) from None


def percent_range(text: str) -> Range:
    """A Nagios range in percent; a trailing ``%`` is allowed (``-w 5%``)."""
    return nagios_range(text[:-1] if text.endswith("%") else text)


def positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number")
    return value


def percentage(text: str) -> float:
    value = positive(text.rstrip("%"))
    if value > 100:
        raise argparse.ArgumentTypeError(f"{text!r} must be at most 100")
    return value


def prefix(text: str) -> str:
    if not PREFIX.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a Graphite path (a.b.c)")
    return text


def plugin_parser(
    prog: str,
    description: str,
    *,
    warning: str | None,
    critical: str | None,
    units: str,
    range_type: Callable[[str], Range] = nagios_range,
    epilog: str | None = None,
    defaults_note: tuple[str, str] | None = None,
) -> PluginParser:
    """The options every plugin takes; ``warning``/``critical`` are the default ranges
    (``defaults_note`` describes them in --help when they depend on other options)."""
    notes = defaults_note or (warning or "none", critical or "none")
    parser = PluginParser(
        prog=prog,
        description=description,
        epilog=epilog,
    )
    parser.add_argument(
        "-w",
        "--warning",
        type=range_type,
        default=None if warning is None else range_type(warning),
        metavar="RANGE",
        help=f"warning range in {units} (default: {notes[0]})",
    )
    parser.add_argument(
        "-c",
        "--critical",
        type=range_type,
        default=None if critical is None else range_type(critical),
        metavar="RANGE",
        help=f"critical range in {units} (default: {notes[1]})",
    )
    parser.add_argument(
        "-t",
        "--timeout",
        type=positive,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help="give up (UNKNOWN) after this long, Graphite included (default: %(default)g)",
    )
    parser.add_argument(
        "--graphite",
        metavar="URL",
        help=f"graphite-web base URL, e.g. http://graphite.example.org (default: ${ENV_GRAPHITE})",
    )
    parser.add_argument(
        "--from",
        dest="from_",
        default="-10min",
        metavar="TIME",
        help="window start, in Graphite's from= syntax (default: %(default)s)",
    )
    parser.add_argument(
        "--until",
        default="now",
        metavar="TIME",
        help="window end, in Graphite's until= syntax (default: %(default)s)",
    )
    parser.add_argument(
        "--prefix",
        type=prefix,
        default=DEFAULT_PREFIX,
        help="metric prefix the forwarders use (default: %(default)s)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="detail lines after the status line; -vv adds tracebacks to errors",
    )
    return parser


def add_percent(parser: argparse.ArgumentParser) -> None:
    """``--percent``: the share of a window's points that must cross a range for a state."""
    parser.add_argument(
        "--percent",
        type=percentage,
        default=50.0,
        metavar="P",
        help="a state needs at least P%% of the window's non-null points outside its range, "
        "so one spike does not page (default: %(default)g)",
    )


def _join_dash_values(argv: Sequence[str]) -> list[str]:
    out: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg == "--":
            out.append(arg)
            out.extend(args)
            break
        long = _DASH_VALUE_OPTIONS.get(arg)
        if long is None:
            out.append(arg)
            continue
        value = next(args, None)
        out.append(arg if value is None else f"{long}={value}")
    return out


# --- Graphite --------------------------------------------------------------------------------


class Window(NamedTuple):
    """The time window a check looks at, as Graphite's ``from``/``until``."""

    from_: str
    until: str

    def label(self) -> str:
        """``the last 10min`` for a relative window, else ``from X until Y``."""
        if self.from_.startswith("-") and self.until == "now":
            return f"the last {self.from_[1:]}"
        return f"from {self.from_} until {self.until}"


class Graphite:
    """The render API as a plugin sees it: one window, and a timeout that fits under ``-t``.

    Each request gets at most 80% of what is left of ``-t`` so that a slow Graphite ends as the
    client's clear ``GraphiteTimeout`` rather than the alarm's blunter one.
    """

    def __init__(self, url: str, window: Window, timeout: float) -> None:
        self.url = url
        self.window = window
        self._deadline = time.monotonic() + timeout
        self._timeout = timeout

    def render(
        self, targets: Sequence[str], from_: str | None = None, until: str | None = None
    ) -> list[Series]:
        left = self._deadline - time.monotonic()
        budget = max(0.05, min(self._timeout * CLIENT_SHARE, left * CLIENT_SHARE))
        with RenderClient(self.url, timeout=budget) as client:
            return client.render(
                targets,
                from_=self.window.from_ if from_ is None else from_,
                until=self.window.until if until is None else until,
            )


class Frame:
    """A render answer by series name split on dots (what ``names.summed`` produces)."""

    def __init__(self, series: Iterable[Series]) -> None:
        self._series = {tuple(s.target.split(".")): s for s in series}

    def __bool__(self) -> bool:
        return any(s.values() for s in self._series.values())

    def get(self, *name: str) -> Series | None:
        return self._series.get(name)

    def values(self, *name: str) -> list[float]:
        """The non-null values of one series; none when Graphite returned no such series."""
        found = self._series.get(name)
        return found.values() if found is not None else []

    def total(self, *name: str) -> float:
        return math.fsum(self.values(*name))

    def names(self, *head: str) -> Iterator[tuple[str, ...]]:
        """Names starting with ``head``, minus ``head``: ``names("schema")`` → per-schema keys."""
        size = len(head)
        for name in self._series:
            if name[:size] == head:
                yield name[size:]


# --- judging a window ------------------------------------------------------------------------


class Points(NamedTuple):
    """A window's non-null values: a metric value whose perfdata is the mean."""

    values: tuple[float, ...]

    @property
    def mean(self) -> float | None:
        return math.fsum(self.values) / len(self.values) if self.values else None

    @property
    def peak(self) -> float | None:
        return max(self.values) if self.values else None

    def __str__(self) -> str:
        return "no data" if self.mean is None else num(self.mean)


class Verdict(NamedTuple):
    """Why a window got its state: how many of its points crossed which range.

    Used as a Result's hint, so ``str()`` is what a status line says about it.
    """

    state: ServiceState
    range: Range | None
    crossed: int
    total: int

    def __str__(self) -> str:
        if not self.total:
            return "no points"
        if self.range is None:
            return f"{self.total} points"
        return f"{self.crossed} of {self.total} points {crossing(self.range)}"


def crossing(rng: Range) -> str:
    """How a value fails ``rng``, in words: ``above 200``, ``below 5``, ``outside 5:10``."""
    if rng.invert:
        return f"inside {range_text(rng)}"
    if rng.end == math.inf:
        return f"below {num(rng.start)}"
    if rng.start <= 0:
        return f"above {num(rng.end)}"
    return f"outside {range_text(rng)}"


def compared(value: float, rng: Range) -> str:
    """``> 200`` / ``< 5`` / ``in @1:2``: a value against the range it fails."""
    if rng.invert:
        return f"in {range_text(rng)}"
    if value > rng.end:
        return f"> {num(rng.end)}"
    if value < rng.start:
        return f"< {num(rng.start)}"
    return f"within {range_text(rng)}"


def judge(
    values: Sequence[float], warning: Range | None, critical: Range | None, percent: float
) -> Verdict:
    """The state of a window: critical (or warning) when at least ``percent``% of its points
    fall outside that range.  An OK verdict counts against the warning range, for the record."""
    total = len(values)
    for state, rng in ((Critical, critical), (Warn, warning)):
        if rng is None or not total:
            continue
        crossed = sum(1 for v in values if not rng.match(v))
        if crossed and crossed * 100 >= percent * total:
            return Verdict(state, rng, crossed, total)
    rng = warning if warning is not None else critical
    crossed = sum(1 for v in values if not rng.match(v)) if rng is not None else 0
    return Verdict(Ok, rng, crossed, total)


def judge_value(value: float, warning: Range | None, critical: Range | None) -> ServiceState:
    """nagiosplugin's ScalarContext rule, with ``None`` meaning no threshold."""
    if critical is not None and not critical.match(value):
        return Critical
    if warning is not None and not warning.match(value):
        return Warn
    return Ok


class WindowContext(nagiosplugin.Context):
    """Evaluates a :class:`Points` metric with the ``--percent`` rule; perfdata is the mean."""

    def __init__(
        self,
        name: str,
        warning: Range | None,
        critical: Range | None,
        percent: float,
        minimum: float | None = 0,
    ) -> None:
        super().__init__(name)
        self.warning = warning
        self.critical = critical
        self.percent = percent
        self.minimum = minimum

    def thresholds(self, metric: nagiosplugin.Metric) -> tuple[Range | None, Range | None]:
        """The ranges for one metric; a subclass may vary them per metric (per schema)."""
        return self.warning, self.critical

    def evaluate(self, metric: nagiosplugin.Metric, resource: object) -> nagiosplugin.Result:
        warning, critical = self.thresholds(metric)
        verdict = judge(metric.value.values, warning, critical, self.percent)
        return nagiosplugin.Result(verdict.state, verdict, metric)

    def performance(
        self, metric: nagiosplugin.Metric, resource: object
    ) -> nagiosplugin.Performance:
        warning, critical = self.thresholds(metric)
        return performance(
            metric.name, metric.value.mean, metric.uom, warning, critical, self.minimum
        )


class PerfContext(nagiosplugin.Context):
    """A metric reported as perfdata only, never judged (e.g. the top schemas' rates)."""

    def performance(
        self, metric: nagiosplugin.Metric, resource: object
    ) -> nagiosplugin.Performance:
        return performance(metric.name, metric.value, metric.uom, minimum=metric.min)


# --- presentation ----------------------------------------------------------------------------


def num(value: float) -> str:
    """A number for a status line: ``243.1``, ``12``, ``0.004``; never an exponent."""
    text = f"{value:.1f}" if abs(value) >= 1 or value == 0 else f"{value:.3f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def perf_num(value: float | None) -> str:
    """A perfdata number: plain decimal (no exponent, at most 6 places), ``U`` when unknown."""
    if value is None or not math.isfinite(value):
        return "U"
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def range_text(rng: Range | None) -> str:
    """A range as the guidelines write it, in plain decimals; ``''`` for none."""
    if rng is None:
        return ""
    out = "@" if rng.invert else ""
    if rng.start == -math.inf:
        out += "~:"
    elif rng.start != 0 or rng.end == math.inf:
        out += f"{perf_num(rng.start)}:"
    if rng.end != math.inf:
        out += perf_num(rng.end)
    return out


def performance(
    label: str,
    value: float | None,
    uom: str | None = None,
    warning: Range | None = None,
    critical: Range | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
) -> nagiosplugin.Performance:
    """nagiosplugin's Performance (which quotes odd labels) with our number formatting."""
    return nagiosplugin.Performance(
        label,
        perf_num(value),
        uom or "",
        range_text(warning),
        range_text(critical),
        "" if minimum is None else perf_num(minimum),
        "" if maximum is None else perf_num(maximum),
    )


def by_context(results: nagiosplugin.Results, context: str) -> list[nagiosplugin.Result]:
    """The results of one context, worst state first (names may clash: a schema "rate")."""
    return [r for r in results if r.metric is not None and r.metric.context == context]


def problems(results: nagiosplugin.Results, context: str) -> list[nagiosplugin.Result]:
    """The non-OK results of one context, worst state first."""
    return [r for r in by_context(results, context) if r.state != Ok]


def unknown_text(results: nagiosplugin.Results) -> str | None:
    """The message of an UNKNOWN result (a ``CheckError`` raised by a probe), if any."""
    unknowns = results.by_state.get(Unknown)
    return "; ".join(str(r.hint) for r in unknowns) if unknowns else None


def listing(items: Sequence[str], limit: int = 3) -> str:
    """The first ``limit`` items, and how many more."""
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


# --- running ---------------------------------------------------------------------------------


class _Alarm:
    """Whether the ``-t`` alarm went off (an exception may have been rewrapped on the way)."""

    def __init__(self) -> None:
        self.fired = False


@contextmanager
def deadline(seconds: float) -> Iterator[_Alarm]:
    """Raise nagiosplugin's ``Timeout`` after ``seconds`` (SIGALRM, main thread only).

    Like nagiosplugin's ``with_timeout`` but with sub-second precision, and it puts back the
    previous handler and timer, so it can run many times in one process (tests).  Outside the
    main thread signals are unavailable and only the render client's own timeout applies.
    """
    alarm = _Alarm()
    if threading.current_thread() is not threading.main_thread():
        yield alarm
        return

    def expired(signum: int, frame: object) -> None:
        alarm.fired = True
        raise nagiosplugin.Timeout(f"{seconds:g}s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield alarm
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _clean(text: str) -> str:
    """One line without the ``|`` that would start perfdata."""
    return " ".join(str(text).replace("|", "/").split())


def _output(
    name: str,
    state: ServiceState,
    summary: str,
    perfdata: Sequence[str] = (),
    details: Sequence[str] = (),
) -> str:
    line = f"{name} {str(state).upper()} - {_clean(summary)}"
    if perfdata:
        line += " | " + " ".join(perfdata)
    return "\n".join([line, *(_clean(d) for d in details if d)]) + "\n"


BuildCheck = Callable[[argparse.Namespace, Graphite], nagiosplugin.Check]


def run(
    name: str,
    parser: argparse.ArgumentParser,
    build: BuildCheck,
    argv: Sequence[str] | None = None,
    stdout: TextIO | None = None,
) -> int:
    """Parse ``argv``, run the check under ``-t``, print the plugin output; the exit code.

    Every failure ends as UNKNOWN with one line naming it; tracebacks only with ``-vv``.
    """
    out = stdout if stdout is not None else sys.stdout
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(_join_dash_values(argv))
    except _ParserExit as exc:
        return exc.status
    except UsageError as exc:
        print(_output(name, Unknown, f"usage: {exc}"), end="", file=out)
        return EXIT_UNKNOWN
    verbose = args.verbose
    url = args.graphite or os.environ.get(ENV_GRAPHITE, "")
    if not url:
        message = f"no Graphite to ask: give --graphite URL or set {ENV_GRAPHITE}"
        print(_output(name, Unknown, message), end="", file=out)
        return EXIT_UNKNOWN
    alarm = _Alarm()
    try:
        with deadline(args.timeout) as alarm:
            graphite = Graphite(url, Window(args.from_, args.until), args.timeout)
            check = build(args, graphite)
            check()
            state = check.state
            text = check.summary_str
            perfdata = list(check.perfdata)
            details = _lines(check.verbose_str) if verbose else []
    except Exception as exc:  # every failure is UNKNOWN, never a traceback on the status line
        text = _failure(exc, alarm, args.timeout, url)
        details = traceback.format_exc().splitlines() if verbose > 1 else []
        print(_output(name, Unknown, text, (), details), end="", file=out)
        return EXIT_UNKNOWN
    print(_output(name, state, text, perfdata, details), end="", file=out)
    return int(state)


def _lines(text: str | Sequence[str]) -> list[str]:
    return text.splitlines() if isinstance(text, str) else list(text)


def _failure(exc: Exception, alarm: _Alarm, timeout: float, url: str) -> str:
    if alarm.fired or isinstance(exc, nagiosplugin.Timeout):
        return f"timed out after {timeout:g} s (-t {timeout:g}) waiting for Graphite {url}"
    if isinstance(exc, RenderError | nagiosplugin.CheckError):
        return str(exc)
    if isinstance(exc, ValueError) and "Graphite" in str(exc):  # RenderClient's URL check
        return str(exc)
    if isinstance(exc, UserError):
        return str(exc)
    return f"internal error: {type(exc).__name__}: {exc} (run with -vv for a traceback)"
