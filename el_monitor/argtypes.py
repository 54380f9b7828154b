"""Command-line value types shared by ``el-monitor`` and the ``check_el_*`` plugins.

Each is an argparse ``type=``: it returns the value or raises ``ArgumentTypeError`` with a
message naming what is expected, which argparse prints after the option's name.
"""

from __future__ import annotations

import argparse
import datetime
import math
from collections.abc import Callable

from el_monitor.event.names import INSTANCE_NAME, SCHEMA_NAME


def positive_int(text: str) -> int:
    return _integer(text, 1, "a positive integer")


def non_negative_int(text: str) -> int:
    return _integer(text, 0, "an integer >= 0")


def _integer(text: str, least: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = least - 1
    if value < least:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
    return value


def positive_float(text: str) -> float:
    return _finite(text, lambda value: value > 0, "a positive number")


def non_negative_float(text: str) -> float:
    return _finite(text, lambda value: value >= 0, "a number >= 0")


def _finite(text: str, accept: Callable[[float], bool], what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and accept(value)):
        raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
    return value


def instance_name(text: str) -> str:
    """A forwarder's name: one Graphite node, and a key of the report's counts (63 at most)."""
    if not INSTANCE_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(f"must be 1-63 of A-Z a-z 0-9 _ -, got {text[:80]!r}")
    return text


def schema_name(text: str) -> str:
    if not SCHEMA_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a schema name ([A-Za-z0-9_-]{{1,63}})")
    return text


def iso_date(text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date like 2024-05-31: {text!r}") from None


def utc_time(text: str) -> datetime.datetime:
    """``2026-12-04``, ``2026-12-04T16:30``, ``2026-12-04T16:30:00Z`` or with an offset: an
    aware datetime, UTC when no offset is given (``--now``, ``--since``, ``--until``)."""
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a date or time like 2026-12-04 or 2026-12-04T16:30:00Z: {text!r}"
        ) from None
    return moment.replace(tzinfo=datetime.UTC) if moment.tzinfo is None else moment


def since_time(text: str) -> datetime.datetime:
    """``--since``: a time ``utc_time`` reads, or an age back from now (``90m``, ``24h``,
    ``7d``)."""
    units = {"m": 60, "h": 3600, "d": 86400}
    if text[:-1].isdigit() and text[-1:] in units:
        age = datetime.timedelta(seconds=int(text[:-1]) * units[text[-1]])
        return datetime.datetime.now(datetime.UTC) - age
    try:
        return utc_time(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"not an age like 24h or 7d, nor a time like 2026-12-04T16:30:00Z: {text!r}"
        ) from None
