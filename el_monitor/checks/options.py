"""The command line every ``check_el_*`` plugin shares, parsed without ``sys.exit``.

Monitoring Plugins guidelines: ``-w``/``-c`` are Nagios ranges (``10`` alerts outside 0..10,
``5:`` below 5, ``~:5`` above 5, ``@1:2`` inside), ``-t`` bounds the whole run, and a bad
command line is UNKNOWN (3), not argparse's exit 2.  The parser raises instead of exiting so
that :func:`el_monitor.checks.runtime.run` decides the exit code and prints the status line.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from types import MappingProxyType
from typing import Any, NoReturn

from nagiosplugin import Range

from el_monitor import __version__
from el_monitor.argtypes import positive_float
from el_monitor.graphite.names import DEFAULT_PREFIX, PREFIX

ENV_GRAPHITE = "EL_GRAPHITE_URL"
DEFAULT_TIMEOUT = 10.0

# Options whose values may start with "-" (relative times, negative ranges): argparse would
# take "--from -10min" for two options, so they are joined to "--from=-10min" before parsing.
DASH_VALUE_OPTIONS = MappingProxyType(
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


class UsageError(Exception):
    """A bad command line: UNKNOWN (3), as the guidelines ask, not argparse's exit 2."""


class ParserExit(Exception):
    """argparse finished early (``--help``): the status to return, the text already printed."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class PluginParser(argparse.ArgumentParser):
    """argparse that raises instead of calling ``sys.exit``, so ``run`` decides the exit code;
    every plugin answers ``-V``/``--version`` (the Monitoring Plugins guidelines)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.add_argument("-V", "--version", action="version", version=f"%(prog)s v{__version__}")

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            sys.stderr.write(message)
        raise ParserExit(status)


RangeType = Callable[[str], Range]


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
    return nagios_range(text.removesuffix("%"))


def percentage(text: str) -> float:
    """A share in (0, 100]; a trailing ``%`` is allowed."""
    value = positive_float(text.rstrip("%"))
    if value > 100:
        raise argparse.ArgumentTypeError(f"must be at most 100, got {text}")
    return value


def graphite_prefix(text: str) -> str:
    """The first nodes of every metric name, as the forwarders were told (``a.b.c``)."""
    if not PREFIX.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a Graphite path (a.b.c)")
    return text


def base_parser(
    prog: str,
    description: str,
    *,
    warning: str | None,
    critical: str | None,
    units: str,
    waits_for: str,
    range_type: RangeType = nagios_range,
    epilog: str | None = None,
    defaults_note: tuple[str, str] | None = None,
) -> PluginParser:
    """``-w``/``-c``, ``-t`` and ``-v``: what every plugin takes, whatever it asks.
    ``warning``/``critical`` are the default ranges (``defaults_note`` describes them in
    --help when they depend on other options); ``waits_for`` names what ``-t`` bounds."""
    notes = defaults_note or (warning or "none", critical or "none")
    parser = PluginParser(prog=prog, description=description, epilog=epilog)
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
        type=positive_float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"give up (UNKNOWN) after this long, {waits_for} included (default: %(default)g)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="detail lines after the status line; -vv adds tracebacks to errors",
    )
    return parser


def plugin_parser(
    prog: str,
    description: str,
    *,
    warning: str | None,
    critical: str | None,
    units: str,
    range_type: RangeType = nagios_range,
    epilog: str | None = None,
    defaults_note: tuple[str, str] | None = None,
) -> PluginParser:
    """The options every Graphite plugin takes: ``base_parser``'s, the window and Graphite."""
    parser = base_parser(
        prog,
        description,
        warning=warning,
        critical=critical,
        units=units,
        waits_for="Graphite",
        range_type=range_type,
        epilog=epilog,
        defaults_note=defaults_note,
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
        type=graphite_prefix,
        default=DEFAULT_PREFIX,
        help="metric prefix the forwarders use (default: %(default)s)",
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


def add_now(parser: argparse.ArgumentParser) -> None:
    """``--now``: judge as at another time (tests, forecasts)."""
    from el_monitor.argtypes import utc_time

    parser.add_argument(
        "--now",
        type=utc_time,
        metavar="TIME",
        help="judge as at this ISO time, UTC (default: the clock); for tests and forecasts",
    )


def join_dash_values(argv: Sequence[str]) -> list[str]:
    """``["--from", "-10min"]`` → ``["--from=-10min"]`` for :data:`DASH_VALUE_OPTIONS`."""
    out: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg == "--":
            out.append(arg)
            out.extend(args)
            break
        long = DASH_VALUE_OPTIONS.get(arg)
        if long is None:
            out.append(arg)
            continue
        value = next(args, None)
        out.append(arg if value is None else f"{long}={value}")
    return out
